import type { ipc } from '@livekit/agents';
import type { Logger } from 'pino';
import { InferenceUnavailableError } from './errors.js';
import {
  InferenceProcess,
  type InferenceProcessState,
  type InferenceProcessStats,
  type InferenceTimings,
} from './inference-process.js';
import { registeredRunners, registerLocalEotRunner, type LocalEotRegistration } from './runners.js';

/** `inference.enabled` in the config. */
export type InferenceEnabled = 'auto' | boolean;

/** `disabled`: there is no process (config, or no runner); otherwise the process's own state. */
export type InferenceState = 'disabled' | InferenceProcessState;

/** Whether a shared inference process should exist, and if so whether it is up (for health). */
export type InferenceHealth = { expected: false } | { expected: true; running: boolean };

export interface InferenceStats extends Omit<InferenceProcessStats, 'state'> {
  state: InferenceState;
  /** Why there is no process, when `disabled`. */
  disabledReason?: string;
}

export interface SharedInferenceOptions {
  enabled: InferenceEnabled;
  logger: Logger;
  /** Level for the lines the runners write in the process (the framework's level). */
  logLevel: string;
  onEvent?: (message: string) => void;
  timings?: Partial<InferenceTimings>;
  /** Registers the local end-of-turn runner (replaced in tests of a platform without it). */
  registerLocalEot?: () => Promise<LocalEotRegistration>;
}

/**
 * The worker's one inference process, shared by every session: each session's
 * `JobContext.inferenceExecutor` is this object. `start()` decides, after the agents are loaded
 * and prewarmed (plugins register their runners then), whether there is a process at all:
 * `inference.enabled: false` never, `true` always, `auto` when some runner is registered, which
 * on a platform with the local end-of-turn model is always, as with stock `AgentServer`.
 */
export class SharedInference implements ipc.InferenceExecutor {
  readonly #opts: SharedInferenceOptions;
  #process: InferenceProcess | undefined;
  #decided = false;
  #disabledReason = 'the inference process has not been started';

  constructor(options: SharedInferenceOptions) {
    this.#opts = options;
  }

  async start(): Promise<void> {
    const { enabled, logger } = this.#opts;
    this.#decided = true;
    if (enabled === false) {
      this.#disabledReason = 'the inference process is disabled (inference.enabled: false)';
      logger.info(
        'inference process disabled by config (inference.enabled: false); local turn detection and other InferenceRunners are unavailable',
      );
      return;
    }
    const eot = await (this.#opts.registerLocalEot ?? registerLocalEotRunner)();
    if (!eot.registered) {
      logger.warn({ reason: eot.reason }, `local end-of-turn model unavailable: ${eot.reason}`);
    }
    const runners = registeredRunners();
    const methods = Object.keys(runners);
    if (methods.length === 0) {
      if (enabled === 'auto') {
        this.#disabledReason = 'no InferenceRunner is registered on this worker';
        logger.info('no InferenceRunner registered; no inference process started');
        return;
      }
      logger.warn(
        'inference.enabled is true but no InferenceRunner is registered; starting the inference process anyway',
      );
    }
    const proc = new InferenceProcess({
      runners,
      logger,
      logLevel: this.#opts.logLevel,
      ...(this.#opts.onEvent ? { onEvent: this.#opts.onEvent } : {}),
      ...(this.#opts.timings ? { timings: this.#opts.timings } : {}),
    });
    this.#process = proc;
    await proc.start();
  }

  get state(): InferenceState {
    if (this.#process) return this.#process.state;
    return this.#decided ? 'disabled' : 'starting';
  }

  /** What `GET /` reads: a process is expected unless disabled, and answers 503 `inference process not running` unless it runs. */
  health(): InferenceHealth {
    const state = this.state;
    return state === 'disabled'
      ? { expected: false }
      : { expected: true, running: state === 'running' };
  }

  /** The process's pid while it runs (tests and the benchmark count it). */
  get pid(): number | undefined {
    return this.#process?.pid;
  }

  doInference(method: string, data: unknown): Promise<unknown> {
    if (this.#process) return this.#process.doInference(method, data);
    return Promise.reject(
      new InferenceUnavailableError(
        `inference method "${method}" is not available: ${this.#disabledReason}`,
      ),
    );
  }

  stats(): InferenceStats {
    if (this.#process) return this.#process.stats();
    return {
      state: this.state,
      disabledReason: this.#disabledReason,
      runners: [],
      rssBytes: 0,
      cpuPct: 0,
      restarts: 0,
      inFlight: 0,
      failedRequests: 0,
    };
  }

  async close(): Promise<void> {
    await this.#process?.close();
  }
}
