// @ts-check
// The shared inference process: one per worker, forked by `inference-process.ts`, running every
// registered agents-js `InferenceRunner` (the local end-of-turn model among them) so each model
// loads once per worker instead of once per session.
//
// This file is plain JavaScript on purpose. Loading it through tsx would add tsx's loader thread
// (about 30 MB, measured) and an esbuild service process (about 12 MB) to a process that otherwise
// holds only the models; the worker adds the tsx loader only when a registered runner is itself
// TypeScript.
//
// agents-js has its own inference process main (`ipc/inference_proc_lazy_main.ts`), but its
// package `exports` do not reach it, and it answers a failed request with the raw Error, which the
// JSON channel turns into `{}`, and it notices a dead worker only after 15 s without a ping.
// The message protocol is in `protocol.ts`.
import { pino } from 'pino';
import { installAgentsLogger } from '../logging/agents-logger-slot.js';

/** How often the process checks that the worker that forked it is still its parent. */
const PARENT_CHECK_MS = 1_000;

/** @typedef {{ initialize(): Promise<void>, run(data: unknown): Promise<unknown>, close(): Promise<void> }} Runner */

if (!process.send) {
  process.stderr.write(
    'openrtc inference process: start it through the openrtc worker, not directly\n',
  );
  process.exit(2);
}

/**
 * @param {Record<string, unknown>} message
 * @param {() => void} [then] called once the message is written (or could not be)
 */
function send(message, then) {
  if (!process.connected) return then?.();
  try {
    process.send?.(message, undefined, undefined, () => then?.());
  } catch {
    // The worker is gone; `disconnect` below ends this process.
    then?.();
  }
}

// Nothing this process holds may outlive the worker: when the IPC channel closes (the worker
// exited, even by SIGKILL) it exits, and a reparented process (the channel somehow held open)
// exits too.
process.on('disconnect', () => process.exit(0));
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) process.exit(0);
}, PARENT_CHECK_MS).unref();

// Ctrl-C and a service manager's SIGTERM reach the whole process group; the worker drains its
// sessions, which still need their models, and then shuts this process down itself (as stock).
process.on('SIGINT', () => undefined);
process.on('SIGTERM', () => undefined);

/** @param {unknown} err */
function messageOf(err) {
  const text =
    err instanceof Error
      ? `${err.name === 'Error' ? '' : `${err.name}: `}${err.message}`
      : String(err);
  return text.length > 1_000 ? `${text.slice(0, 999)}…` : text;
}

/**
 * @param {string} method
 * @param {string} importPath
 * @returns {Promise<Runner>}
 */
async function loadRunner(method, importPath) {
  const mod = await import(importPath);
  // ESM default export, or a CommonJS module's `exports.default` (as stock accepts).
  const Runner = typeof mod.default === 'function' ? mod.default : mod.default?.default;
  if (typeof Runner !== 'function')
    throw new Error(`runner "${method}" (${importPath}) has no default export class`);
  const runner = /** @type {Runner} */ (new Runner());
  await runner.initialize();
  return runner;
}

/** @type {Map<string, Runner>} */
const runners = new Map();
let closing = false;

/** @param {{ id: number, method: string, data: unknown }} request */
async function answer({ id, method, data }) {
  const runner = runners.get(method);
  if (!runner) {
    send({ t: 'response', id, error: `unknown inference method "${method}"` });
    return;
  }
  try {
    send({ t: 'response', id, data: await runner.run(data) });
  } catch (err) {
    send({ t: 'response', id, error: messageOf(err) });
  }
}

async function shutdown() {
  if (closing) return;
  closing = true;
  await Promise.allSettled([...runners.values()].map((r) => r.close()));
  send({ t: 'closed' }, () => process.exit(0));
}

/** @param {{ runners: Record<string, string>, logLevel: string }} init */
async function initialize(init) {
  // Runner code logs through agents-js's `log()`; those lines go to the worker, which writes them
  // in its own format.
  const logger = pino(
    { level: init.logLevel, base: undefined, serializers: { error: pino.stdSerializers.err } },
    {
      write: (line) =>
        send({ t: 'log', line: line.length > 16_000 ? `${line.slice(0, 15_999)}…` : line }),
    },
  );
  installAgentsLogger(logger, { pretty: false, level: init.logLevel });

  const entries = Object.entries(init.runners);
  const loaded = await Promise.all(
    entries.map(async ([method, importPath]) => {
      const t0 = performance.now();
      try {
        runners.set(method, await loadRunner(method, importPath));
      } catch (err) {
        throw Object.assign(new Error(messageOf(err)), { method });
      }
      return { method, loadMs: Math.round(performance.now() - t0) };
    }),
  ).catch((/** @type {Error & { method?: string }} */ err) => {
    send({ t: 'init_failed', method: err.method, message: err.message }, () => process.exit(1));
  });
  if (loaded) send({ t: 'ready', runners: loaded });
}

process.on('message', (/** @type {any} */ msg) => {
  if (typeof msg !== 'object' || msg === null || closing) return;
  switch (msg.t) {
    case 'init':
      void initialize(msg);
      break;
    case 'request':
      void answer(msg);
      break;
    case 'ping': {
      const cpu = process.cpuUsage();
      send({
        t: 'pong',
        at: msg.at,
        rssBytes: process.memoryUsage.rss(),
        cpuMicros: cpu.user + cpu.system,
      });
      break;
    }
    case 'shutdown':
      void shutdown();
      break;
  }
});
