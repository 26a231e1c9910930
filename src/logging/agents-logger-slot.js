// @ts-check
// Plain JavaScript so the inference process, which runs without a TypeScript loader, can share it.

/**
 * agents-js keeps its logger in a process-wide slot keyed by `Symbol.for` (`log_core.ts`), so the
 * ESM and CJS copies of the package, and every plugin, read one logger through `log()`. The
 * setter (`setLoggerState`) is not exported and `initializeLogger` always builds agents-js's own
 * pino instance on stdout, which cannot carry openrtc's session scope. Filling the slot directly
 * routes every line agents-js and its plugins write through a logger openrtc chose.
 */
const LOGGER_SLOT = Symbol.for('@livekit/agents:logger');
const OPTIONS_SLOT = Symbol.for('@livekit/agents:loggerOptions');

/** @typedef {{ pretty: boolean, level: string }} AgentsLoggerOptions */

/**
 * @param {import('pino').Logger} logger what agents-js's `log()` returns from now on
 * @param {AgentsLoggerOptions} options what agents-js's `loggerOptions()` returns
 */
export function installAgentsLogger(logger, options) {
  const slots = /** @type {Record<symbol, unknown>} */ (/** @type {unknown} */ (globalThis));
  slots[LOGGER_SLOT] = logger;
  slots[OPTIONS_SLOT] = options;
}
