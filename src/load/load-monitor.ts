import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { DelayBuckets, type DelayStats } from './delay-buckets.js';
import { LoadModel, type LiveCounts, type LoadReport, type LoadSettings } from './load-model.js';

export interface LoadMonitorOptions {
  settings: LoadSettings;
  /** How often the delay probe timer asks to run; its lateness is one delay sample. */
  resolutionMs?: number;
  /** How often utilisation and delay are folded into the load. */
  sampleMs?: number;
}

/** Loop delay p99 that the load's delay share reads: short, so the load follows the loop. */
export const LOAD_DELAY_WINDOW_MS = 2_000;
/** History kept for windows (overload gate, health). */
const HISTORY_S = 12;

/**
 * The measuring half of the load: a timer whose lateness samples the event-loop delay into
 * one-second buckets, and event-loop utilisation read once per sample. `LoadModel` does the
 * arithmetic; this only feeds it.
 */
export class LoadMonitor {
  readonly model: LoadModel;
  readonly #delays = new DelayBuckets(1_000, HISTORY_S);
  readonly #resolutionMs: number;
  readonly #sampleMs: number;
  #probe: NodeJS.Timeout | undefined;
  #sampler: NodeJS.Timeout | undefined;
  #elu: EventLoopUtilization | undefined;
  #lastElu = 0;

  constructor(options: LoadMonitorOptions) {
    this.model = new LoadModel(options.settings);
    this.#resolutionMs = options.resolutionMs ?? 10;
    this.#sampleMs = options.sampleMs ?? 1_000;
  }

  start(): void {
    if (this.#probe) return;
    let last = performance.now();
    this.#probe = setInterval(() => {
      const now = performance.now();
      this.#delays.record(now, Math.max(0, now - last - this.#resolutionMs));
      last = now;
    }, this.#resolutionMs);
    this.#probe.unref();
    this.#elu = performance.eventLoopUtilization();
    this.#sampler = setInterval(() => this.sample(), this.#sampleMs);
    this.#sampler.unref();
  }

  stop(): void {
    clearInterval(this.#probe);
    clearInterval(this.#sampler);
    this.#probe = undefined;
    this.#sampler = undefined;
  }

  /** Reads utilisation since the last sample and the short-window delay, and folds them in. */
  sample(): void {
    const now = performance.now();
    const elu = performance.eventLoopUtilization();
    this.#lastElu = this.#elu ? performance.eventLoopUtilization(elu, this.#elu).utilization : 0;
    this.#elu = elu;
    this.model.observe(now, {
      elu: this.#lastElu,
      loopDelayP99Ms: this.loopDelay(LOAD_DELAY_WINDOW_MS).p99Ms,
    });
  }

  /** Event-loop delay over the last `windowMs` (at most the kept history). */
  loopDelay(windowMs: number): DelayStats {
    return this.#delays.stats(performance.now(), windowMs);
  }

  /** Event-loop utilisation over the last sample, 0..1. */
  get utilization(): number {
    return this.#lastElu;
  }

  report(live: LiveCounts): LoadReport {
    return this.model.report(live);
  }
}
