import { fork, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { pino, type Logger } from 'pino';
import { reconnectDelay, type BackoffOptions } from '../clock/backoff.js';
import { InferenceUnavailableError, NOT_RUNNING } from './errors.js';
import { FromInferenceProcess, type ToInferenceProcess } from './protocol.js';
import { errorMessage } from '../errors/describe-error.js';

/**
 * The supervised child process that runs the registered `InferenceRunner`s.
 *
 * agents-js has the same thing (`InferenceProcExecutor` over `SupervisedProc`), but its package
 * `exports` reach neither (a deep import fails with ERR_PACKAGE_PATH_NOT_EXPORTED), and it would
 * not do here anyway: it never restarts a dead process, and a request sent to a dead one waits
 * forever. This one keeps stock's request/response semantics (`doInference(method, data)`
 * resolves with the runner's answer, or rejects with `inference of <method> failed: …`) and adds:
 * a restart with backoff when the process dies, an immediate `InferenceUnavailableError` for
 * requests made while it is down, one log line per incident with the count of requests it failed,
 * and the process's memory and CPU for the snapshot.
 */

export type InferenceProcessState = 'starting' | 'running' | 'down' | 'stopped';

export interface InferenceTimings {
  /** How long the runners may take to load (stock: 5 minutes; model files can be slow the first time). */
  readyTimeoutMs: number;
  /** A request with no answer by then fails; bounds what a runner that never settles can pile up. */
  requestTimeoutMs: number;
  pingIntervalMs: number;
  /** A process that answers no ping for this long is killed and restarted. */
  pingTimeoutMs: number;
  /** How long a graceful shutdown may take before the process is killed. */
  closeTimeoutMs: number;
  /** A process that ran this long before dying restarts with the shortest backoff again. */
  stableAfterMs: number;
  restart: BackoffOptions;
  maxInFlight: number;
}

export const DEFAULT_INFERENCE_TIMINGS: InferenceTimings = {
  readyTimeoutMs: 5 * 60_000,
  requestTimeoutMs: 60_000,
  pingIntervalMs: 1_000,
  pingTimeoutMs: 30_000,
  closeTimeoutMs: 5_000,
  stableAfterMs: 60_000,
  restart: { baseMs: 500, capMs: 30_000 },
  maxInFlight: 4_096,
};

export interface InferenceProcessStats {
  state: InferenceProcessState;
  pid?: number;
  runners: string[];
  rssBytes: number;
  /** Share of one core over the last ping interval, every thread of the process. */
  cpuPct: number;
  /** Times the process was started again after dying. */
  restarts: number;
  /** Epoch ms the current process became ready. */
  readyAt?: number;
  inFlight: number;
  /** Requests failed because the process was down, died under them, or never answered. */
  failedRequests: number;
  /** How the last process ended, e.g. `killed by SIGKILL`. */
  lastExit?: string;
}

export interface InferenceProcessOptions {
  /** Method -> import path (file URL or path) of each runner's module, as agents-js registers them. */
  runners: Readonly<Record<string, string>>;
  logger: Logger;
  /** Level of the lines the runners write (agents-js's own logger, in the process). */
  logLevel: string;
  /** Called with a short message when the process dies or comes back (for `top`'s events). */
  onEvent?: (message: string) => void;
  timings?: Partial<InferenceTimings>;
}

interface Pending {
  method: string;
  deadline: number;
  resolve(value: unknown): void;
  reject(error: Error): void;
}

interface Incident {
  since: number;
  cause: string;
  failed: number;
}

const MAIN = fileURLToPath(new URL('./process-main.js', import.meta.url));
const TYPESCRIPT = /\.[cm]?tsx?$/;
const MAX_RELAYED_LINE = 4_000;

export class InferenceProcess {
  readonly #runners: Readonly<Record<string, string>>;
  readonly #methods: ReadonlySet<string>;
  readonly #log: Logger;
  readonly #logLevel: string;
  readonly #onEvent: (message: string) => void;
  readonly #t: InferenceTimings;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #state: InferenceProcessState = 'starting';
  #child: ChildProcess | undefined;
  #readyAt: number | undefined;
  #lastPongAt = 0;
  #cpu: { micros: number; at: number } | undefined;
  #rssBytes = 0;
  #cpuPct = 0;
  #restarts = 0;
  #attempt = 0;
  #failedRequests = 0;
  #lastExit: string | undefined;
  #incident: Incident | undefined;
  #malformedWarned = false;
  #pingTimer: NodeJS.Timeout | undefined;
  #sweepTimer: NodeJS.Timeout | undefined;
  #restartTimer: NodeJS.Timeout | undefined;
  #stopping = false;
  #closed: Promise<void> | undefined;
  /** A worker that exits any other way (process.exit, a fatal error) takes the process with it. */
  readonly #killOnExit = () => this.#child?.kill('SIGKILL');

  constructor(options: InferenceProcessOptions) {
    this.#runners = Object.assign(Object.create(null) as Record<string, string>, options.runners);
    this.#methods = new Set(Object.keys(options.runners));
    this.#log = options.logger.child({ component: 'inference' });
    this.#logLevel = options.logLevel;
    this.#onEvent = options.onEvent ?? (() => undefined);
    this.#t = { ...DEFAULT_INFERENCE_TIMINGS, ...options.timings };
  }

  get state(): InferenceProcessState {
    return this.#state;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Starts the process; resolves once every runner has loaded, rejects (process gone) if one fails. */
  async start(): Promise<void> {
    process.on('exit', this.#killOnExit);
    this.#sweepTimer = setInterval(() => this.#expireRequests(), 1_000).unref();
    try {
      await this.#spawn();
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  /** Stock semantics: the runner's answer, or `inference of <method> failed: <reason>`. */
  doInference(method: string, data: unknown): Promise<unknown> {
    const child = this.#child;
    if (this.#state !== 'running' || !child?.connected) return this.#unavailable(method);
    if (!this.#methods.has(method)) {
      return Promise.reject(
        new InferenceUnavailableError(
          `inference method "${method}" is not one of the inference process's runners (${[...this.#methods].join(', ') || 'none'}); ` +
            'runners are read once at worker start, so register it with InferenceRunner.registerRunner when its module loads or in prewarm',
        ),
      );
    }
    if (this.#pending.size >= this.#t.maxInFlight) {
      this.#failedRequests += 1;
      return Promise.reject(
        new InferenceUnavailableError(
          `"${method}" request refused: ${this.#t.maxInFlight} inference requests are already in flight`,
        ),
      );
    }
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, {
        method,
        deadline: Date.now() + this.#t.requestTimeoutMs,
        resolve,
        reject,
      });
      const message: ToInferenceProcess = { t: 'request', id, method, data };
      try {
        child.send(message, (err) => {
          if (err)
            this.#fail(
              id,
              new InferenceUnavailableError(
                `${NOT_RUNNING}: "${method}" request could not be sent (${err.message})`,
              ),
            );
        });
      } catch (err) {
        // The payload could not be serialised: the caller's mistake, not the process's.
        this.#pending.delete(id);
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
  }

  stats(): InferenceProcessStats {
    const stats: InferenceProcessStats = {
      state: this.#state,
      runners: [...this.#methods],
      rssBytes: this.#rssBytes,
      cpuPct: this.#cpuPct,
      restarts: this.#restarts,
      inFlight: this.#pending.size,
      failedRequests: this.#failedRequests,
    };
    if (this.#state === 'running' && this.#child?.pid !== undefined) stats.pid = this.#child.pid;
    if (this.#state === 'running' && this.#readyAt !== undefined) stats.readyAt = this.#readyAt;
    if (this.#lastExit !== undefined) stats.lastExit = this.#lastExit;
    return stats;
  }

  /** Shuts the process down (runners closed, then exit; killed if it takes too long). Safe to call twice. */
  close(): Promise<void> {
    this.#stopping = true;
    this.#closed ??= (async () => {
      clearTimeout(this.#restartTimer);
      clearInterval(this.#sweepTimer);
      clearInterval(this.#pingTimer);
      const child = this.#child;
      if (child && child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        const message: ToInferenceProcess = { t: 'shutdown' };
        child.send(message, () => undefined);
        const killer = setTimeout(() => child.kill('SIGKILL'), this.#t.closeTimeoutMs);
        await exited;
        clearTimeout(killer);
      }
      this.#failAll(
        () => new InferenceUnavailableError(`${NOT_RUNNING}: the worker is shutting down`),
      );
      this.#state = 'stopped';
      process.off('exit', this.#killOnExit);
    })();
    return this.#closed;
  }

  #spawn(): Promise<void> {
    this.#state = 'starting';
    const needsTypeScript = Object.values(this.#runners).some((p) => TYPESCRIPT.test(p));
    const child = fork(MAIN, [], {
      // Never the worker's own flags (profilers, preloaded probes); tsx only for TypeScript runners.
      execArgv: needsTypeScript ? ['--import', tsxLoaderUrl()] : [],
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      serialization: 'json',
    });
    this.#child = child;
    this.#relayOutput(child.stdout, 'stdout', child.pid);
    this.#relayOutput(child.stderr, 'stderr', child.pid);

    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const settle = (err?: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(readyTimer);
        if (!err) return resolve();
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        reject(err);
      };
      const readyTimer = setTimeout(
        () =>
          settle(
            new Error(`the inference runners did not load within ${this.#t.readyTimeoutMs} ms`),
          ),
        this.#t.readyTimeoutMs,
      );

      child.on('message', (raw: unknown) => {
        const parsed = FromInferenceProcess.safeParse(raw);
        if (!parsed.success) {
          if (!this.#malformedWarned)
            this.#log.warn(
              { inference_pid: child.pid },
              'ignored a malformed message from the inference process',
            );
          this.#malformedWarned = true;
          return;
        }
        const msg = parsed.data;
        switch (msg.t) {
          case 'ready':
            this.#onReady(child, msg.runners);
            settle();
            break;
          case 'init_failed':
            settle(
              new Error(
                `inference runner ${msg.method ? `"${msg.method}" ` : ''}failed to load: ${msg.message}`,
              ),
            );
            break;
          case 'response':
            this.#onResponse(msg.id, msg.data, msg.error);
            break;
          case 'pong':
            this.#onPong(msg.rssBytes, msg.cpuMicros);
            break;
          case 'log':
            this.#relayLog(msg.line, child.pid);
            break;
          case 'closed':
            break;
        }
      });
      // Without a listener a failed spawn or send would be thrown in the worker.
      child.on('error', (err) => {
        if (child.pid === undefined)
          settle(new Error(`the inference process could not be started: ${err.message}`));
        else this.#log.debug({ error: err.message }, 'inference process channel error');
      });
      child.once('exit', (code, signal) => {
        const how = describeExit(code, signal);
        settle(new Error(`the inference process exited while loading its runners (${how})`));
        this.#onExit(child, how);
      });

      const init: ToInferenceProcess = {
        t: 'init',
        runners: this.#runners,
        logLevel: this.#logLevel,
      };
      child.send(init, () => undefined);
    });
  }

  #onReady(child: ChildProcess, runners: { method: string; loadMs: number }[]): void {
    this.#state = 'running';
    this.#readyAt = Date.now();
    this.#lastPongAt = Date.now();
    this.#pingTimer = setInterval(() => this.#ping(child), this.#t.pingIntervalMs).unref();
    this.#ping(child);
    const loadMs = Math.max(0, ...runners.map((r) => r.loadMs));
    const incident = this.#incident;
    this.#incident = undefined;
    if (!incident) {
      this.#log.info(
        { inference_pid: child.pid, runners: runners.map((r) => r.method), load_ms: loadMs },
        'inference process ready: runners loaded once for every session',
      );
      return;
    }
    const downMs = Date.now() - incident.since;
    this.#log.warn(
      {
        inference_pid: child.pid,
        runners: runners.map((r) => r.method),
        load_ms: loadMs,
        down_ms: downMs,
        failed_requests: incident.failed,
        restarts: this.#restarts,
      },
      `inference process restarted after ${incident.cause}; ${incident.failed} inference requests failed in the ${downMs} ms it was down`,
    );
    this.#onEvent(
      `inference process restarted (pid ${child.pid}); ${incident.failed} requests failed while it was down`,
    );
  }

  #onExit(child: ChildProcess, how: string): void {
    if (child !== this.#child) return;
    clearInterval(this.#pingTimer);
    const wasRunning = this.#state === 'running';
    const ranMs = this.#readyAt !== undefined ? Date.now() - this.#readyAt : 0;
    this.#child = undefined;
    this.#readyAt = undefined;
    this.#cpu = undefined;
    this.#rssBytes = 0;
    this.#cpuPct = 0;
    this.#lastExit = how;
    const inFlight = this.#pending.size;
    this.#failedRequests += inFlight;
    this.#failAll(
      (method) =>
        new InferenceUnavailableError(
          `${NOT_RUNNING}: it exited (${how}) before answering "${method}"`,
        ),
    );
    if (this.#stopping) {
      this.#state = 'stopped';
      return;
    }
    this.#state = 'down';
    // A process that dies while loading is the restart loop's business (see #restart).
    if (!wasRunning) return;
    if (ranMs >= this.#t.stableAfterMs) this.#attempt = 0;
    this.#incident = { since: Date.now(), cause: `it ${how}`, failed: inFlight };
    const delay = this.#scheduleRestart();
    this.#log.error(
      {
        inference_pid: child.pid,
        exit: how,
        in_flight_failed: inFlight,
        restart_in_ms: delay,
        restarts: this.#restarts,
      },
      `inference process ${how}; restarting in ${delay} ms (requests fail at once until it is back)`,
    );
    this.#onEvent(`inference process ${how}; restarting`);
  }

  #scheduleRestart(): number {
    this.#attempt += 1;
    const delay = reconnectDelay(this.#attempt, this.#t.restart);
    this.#restartTimer = setTimeout(() => void this.#restart(), delay);
    this.#restartTimer.unref();
    return delay;
  }

  async #restart(): Promise<void> {
    if (this.#stopping) return;
    this.#restarts += 1;
    try {
      await this.#spawn();
    } catch (err) {
      if (this.#stopping) return;
      this.#state = 'down';
      const delay = this.#scheduleRestart();
      const message = errorMessage(err);
      this.#log.warn(
        { attempt: this.#attempt, error: message, restart_in_ms: delay },
        `inference process restart failed: ${message}; next attempt in ${delay} ms`,
      );
    }
  }

  #unavailable(method: string): Promise<never> {
    this.#failedRequests += 1;
    if (this.#incident) this.#incident.failed += 1;
    return Promise.reject(
      new InferenceUnavailableError(`${NOT_RUNNING} (${this.#why()}): "${method}" request failed`),
    );
  }

  #why(): string {
    if (this.#stopping) return 'the worker is shutting down';
    if (this.#incident) return `restarting after ${this.#incident.cause}`;
    return 'its runners are still loading';
  }

  #onResponse(id: number, data: unknown, error: string | undefined): void {
    const pending = this.#pending.get(id);
    if (!pending) return; // timed out already
    this.#pending.delete(id);
    if (error !== undefined)
      pending.reject(new Error(`inference of ${pending.method} failed: ${error}`));
    else pending.resolve(data);
  }

  #fail(id: number, error: Error): void {
    const pending = this.#pending.get(id);
    if (!pending) return;
    this.#pending.delete(id);
    this.#failedRequests += 1;
    pending.reject(error);
  }

  #failAll(error: (method: string) => Error): void {
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) p.reject(error(p.method));
  }

  /** Requests are kept in arrival order with one timeout, so the expired ones are at the front. */
  #expireRequests(): void {
    const now = Date.now();
    for (const [id, p] of this.#pending) {
      if (p.deadline > now) break;
      this.#fail(
        id,
        new Error(
          `inference of ${p.method} failed: no answer from the inference process within ${this.#t.requestTimeoutMs} ms`,
        ),
      );
    }
  }

  #ping(child: ChildProcess): void {
    if (Date.now() - this.#lastPongAt > this.#t.pingTimeoutMs) {
      this.#log.error(
        { inference_pid: child.pid, silent_ms: Date.now() - this.#lastPongAt },
        'inference process stopped answering; killing it',
      );
      child.kill('SIGKILL');
      return;
    }
    const message: ToInferenceProcess = { t: 'ping', at: Date.now() };
    if (child.connected) child.send(message, () => undefined);
  }

  #onPong(rssBytes: number, cpuMicros: number): void {
    const now = Date.now();
    this.#lastPongAt = now;
    this.#rssBytes = rssBytes;
    const last = this.#cpu;
    if (last && now > last.at)
      this.#cpuPct = Math.max(0, ((cpuMicros - last.micros) / 1_000 / (now - last.at)) * 100);
    this.#cpu = { micros: cpuMicros, at: now };
  }

  /** A line the runners logged in the process, written again by the worker's logger, in its format. */
  #relayLog(line: string, pid: number | undefined): void {
    let record: Record<string, unknown>;
    try {
      record = JSON.parse(line) as Record<string, unknown>;
    } catch {
      this.#log.info({ inference_pid: pid }, truncate(line));
      return;
    }
    const { level, msg, time: _time, component: _component, ...rest } = record;
    const fields = { ...rest, inference_pid: pid };
    const label = typeof level === 'number' ? pino.levels.labels[level] : undefined;
    const write = label && label in this.#log.levels.values ? label : 'info';
    (this.#log[write as pino.Level] as pino.LogFn)(fields, typeof msg === 'string' ? msg : '');
  }

  /** Whatever the process prints outside its logger (a runner's console.log, a native warning). */
  #relayOutput(stream: Readable | null, name: 'stdout' | 'stderr', pid: number | undefined): void {
    if (!stream) return;
    const lines = createInterface({ input: stream, crlfDelay: Infinity });
    lines.on('line', (line) => {
      if (!line.trim()) return;
      if (name === 'stderr') this.#log.warn({ stream: name, inference_pid: pid }, truncate(line));
      else this.#log.info({ stream: name, inference_pid: pid }, truncate(line));
    });
  }
}

function truncate(line: string): string {
  return line.length > MAX_RELAYED_LINE ? `${line.slice(0, MAX_RELAYED_LINE - 1)}…` : line;
}

function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  if (signal) return `was killed by ${signal}`;
  return `exited with code ${code ?? 'unknown'}`;
}

let tsxLoader: string | undefined;
function tsxLoaderUrl(): string {
  tsxLoader ??= pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  return tsxLoader;
}
