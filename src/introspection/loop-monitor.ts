import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { LoopStats } from './snapshot-schema.js';

export interface LoopMonitorOptions {
  /** Length of one measurement interval. */
  intervalMs?: number;
  /** Sampling resolution of the delay histogram. */
  resolutionMs?: number;
  /** Where delays are recorded. Default: `monitorEventLoopDelay`, which samples this loop. */
  histogram?: (resolutionMs: number) => IntervalHistogram;
}

const NS_PER_MS = 1e6;

/**
 * Event-loop delay percentiles over the last completed interval. The histogram is reset at each
 * interval boundary so a spike shows for one interval and then ages out, as an operator expects.
 */
export class LoopMonitor {
  readonly intervalMs: number;
  readonly #resolutionMs: number;
  readonly #createHistogram: (resolutionMs: number) => IntervalHistogram;
  #histogram: IntervalHistogram | undefined;
  #timer: NodeJS.Timeout | undefined;
  #last: LoopStats = { p50Ms: 0, p99Ms: 0, maxMs: 0 };

  constructor(options: LoopMonitorOptions = {}) {
    this.intervalMs = options.intervalMs ?? 1_000;
    this.#resolutionMs = options.resolutionMs ?? 10;
    this.#createHistogram =
      options.histogram ?? ((resolution) => monitorEventLoopDelay({ resolution }));
  }

  start(): void {
    if (this.#histogram) return;
    this.#histogram = this.#createHistogram(this.#resolutionMs);
    this.#histogram.enable();
    this.#timer = setInterval(() => this.roll(), this.intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#histogram?.disable();
    this.#histogram = undefined;
  }

  /** Closes the current interval: its percentiles become `stats()`, and the histogram restarts. */
  roll(): LoopStats {
    const h = this.#histogram;
    if (!h) return this.#last;
    // The histogram's floor is its resolution; an idle loop reads as ~resolution, not 0.
    this.#last =
      h.count === 0
        ? this.#last
        : {
            p50Ms: round(h.percentile(50) / NS_PER_MS),
            p99Ms: round(h.percentile(99) / NS_PER_MS),
            maxMs: round(h.max / NS_PER_MS),
          };
    h.reset();
    return this.#last;
  }

  stats(): LoopStats {
    return this.#last;
  }
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}
