import { pino, type Logger } from 'pino';
import { installAgentsLogger } from './agents-logger-slot.js';
import type { LogFormat } from './logger.js';

/**
 * agents-js logs several info lines per turn per session (speech started, speech handle created,
 * …); on a worker with hundreds of sessions that drowns everything else. Its warnings and errors
 * are what an operator needs, so that is the default.
 */
export const DEFAULT_FRAMEWORK_LOG_LEVEL = 'warn';

/** Every line agents-js or a plugin writes carries this, so an operator can filter them. */
export const FRAMEWORK_COMPONENT = 'livekit-agents';

export interface FrameworkLogOptions {
  level?: string;
  format?: LogFormat;
}

/**
 * Routes agents-js's `log()` (and so every plugin's) through the worker's logger: one output
 * format per process, the worker's redaction, and the session-scope mixin, so a line written
 * while a session's code runs carries that session's tenant, session id and agent. The level is
 * never more verbose than the worker's own.
 */
export function routeFrameworkLogs(logger: Logger, options: FrameworkLogOptions = {}): Logger {
  const level = stricterLevel(logger, options.level ?? DEFAULT_FRAMEWORK_LOG_LEVEL);
  const framework = logger.child(
    { component: FRAMEWORK_COMPONENT },
    // agents-js logs errors under `error` as often as under `err`; its own logger serialises both.
    { level, serializers: { error: pino.stdSerializers.err } },
  );
  installAgentsLogger(framework, { pretty: options.format === 'pretty', level });
  return framework;
}

function stricterLevel(logger: Logger, level: string): string {
  const values = logger.levels.values;
  const wanted = values[level];
  if (wanted === undefined)
    throw new Error(
      `unknown log level "${level}" (expected one of ${Object.keys(values).join(', ')})`,
    );
  return wanted >= logger.levelVal ? level : logger.level;
}
