import type { Logger } from 'pino';
import { sessionScope } from '../scope/session-scope.js';
import { describeError } from '../errors/describe-error.js';

export type StrayErrorKind = 'uncaught_exception' | 'unhandled_rejection';
type Route = (error: unknown, kind: StrayErrorKind) => void;

/**
 * Node runs `uncaughtException` in the async context of the callback that threw and
 * `unhandledRejection` in the context of the rejected promise, so the session scope read inside
 * these handlers names the session whose code raised the error, even when it was thrown from a
 * timer or a promise chain the agent started long after entry.
 */
const routes = new Map<string, Route>();
let installedWith: Logger | undefined;

/** Marks the worker's own handlers among a process's listeners. */
export const WORKER_ERROR_HANDLER = Symbol.for('openrtc.workerErrorHandler');

/** Sends stray errors raised inside `sessionId`'s scope to `route` until the returned function runs. */
export function routeSessionErrors(sessionId: string, route: Route): () => void {
  routes.set(sessionId, route);
  return () => {
    if (routes.get(sessionId) === route) routes.delete(sessionId);
  };
}

/** Live sessions with a route: one per session until its end. */
export function sessionErrorRouteCount(): number {
  return routes.size;
}

/**
 * Installs the one process-wide handler pair. With a listener present Node no longer exits on
 * these errors: one session's bug must not take down every other tenant's calls. Errors with no
 * live session are logged and the worker keeps going.
 */
export function installProcessErrorHandlers(logger: Logger): void {
  if (installedWith) {
    installedWith = logger;
    return;
  }
  installedWith = logger;
  const handle = (kind: StrayErrorKind) => {
    const handler = (error: unknown): void => {
      const scope = sessionScope.getStore();
      const route = scope ? routes.get(scope.sessionId) : undefined;
      if (route) {
        try {
          route(error, kind);
          return;
        } catch (routeError) {
          installedWith?.error(
            { error: describeError(routeError) },
            'error while routing a session error',
          );
        }
      }
      installedWith?.error(
        { kind, error: describeError(error) },
        `${kind} outside any live session; worker continues`,
      );
    };
    return Object.assign(handler, { [WORKER_ERROR_HANDLER]: true });
  };
  process.on('uncaughtException', handle('uncaught_exception'));
  process.on('unhandledRejection', handle('unhandled_rejection'));
}
