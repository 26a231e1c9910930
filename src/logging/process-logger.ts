import type { Logger } from 'pino';
import { createLogger } from './logger.js';

let current: Logger | undefined;

/** The worker's logger; agent code gets it through `logger()` so its lines carry the tenant. */
export function processLogger(): Logger {
  current ??= createLogger();
  return current;
}

export function setProcessLogger(logger: Logger): void {
  current = logger;
}
