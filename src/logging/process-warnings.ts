import type { Logger } from 'pino';
import { sessionScope } from '../scope/session-scope.js';

/**
 * Node prints process warnings (an EventEmitter over its listener limit, a deprecation) as raw
 * text on stderr, in the middle of the worker's log. They become log lines in the worker's format
 * instead. A warning is about the process, not about whichever session happened to trigger it,
 * so it carries no session scope.
 */
export function routeProcessWarnings(logger: Logger): () => void {
  const previous = process.listeners('warning');
  process.removeAllListeners('warning');
  const onWarning = (warning: Error & { code?: string }) => {
    sessionScope.exit(() =>
      logger.warn(
        { warning: warning.name, ...(warning.code ? { code: warning.code } : {}) },
        warning.message,
      ),
    );
  };
  process.on('warning', onWarning);
  return () => {
    process.off('warning', onWarning);
    for (const l of previous) process.on('warning', l);
  };
}
