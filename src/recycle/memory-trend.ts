import { leastSquares } from '../introspection/trend.js';

export interface MemorySample {
  sessionsServed: number;
  rssBytes: number;
  /** RSS outside V8's heap and external buffers: what native code (rtc-node, the VAD) holds. */
  nativeBytes: number;
}

export interface MemoryTrend {
  /** RSS growth per 1,000 sessions served, in MiB; undefined until enough sessions were served. */
  rssMiBPer1000: number | undefined;
  nativeMiBPer1000: number | undefined;
  /** Samples the slopes were fitted over, and the sessions they span. */
  samples: number;
  sessionsSpanned: number;
}

const MIB = 1024 * 1024;
/** Recent samples kept: at one every 30 s, the last four hours. */
export const MEMORY_TREND_SAMPLES = 480;
/** Fewer sessions than this between the oldest and newest sample give no slope worth showing. */
export const MIN_SESSIONS_FOR_TREND = 20;

/**
 * Memory against sessions served, over the most recent samples: a least-squares slope, so one
 * garbage collection or one burst of calls does not read as a trend. Bounded: old samples fall off.
 */
export class MemoryTrendTracker {
  readonly #samples: MemorySample[] = [];
  readonly #max: number;

  constructor(maxSamples = MEMORY_TREND_SAMPLES) {
    this.#max = maxSamples;
  }

  add(sample: MemorySample): void {
    this.#samples.push(sample);
    if (this.#samples.length > this.#max) this.#samples.splice(0, this.#samples.length - this.#max);
  }

  get size(): number {
    return this.#samples.length;
  }

  trend(): MemoryTrend {
    const s = this.#samples;
    const spanned = s.length ? s[s.length - 1]!.sessionsServed - s[0]!.sessionsServed : 0;
    const fit = (pick: (m: MemorySample) => number): number | undefined => {
      if (spanned < MIN_SESSIONS_FOR_TREND || s.length < 3) return undefined;
      const t = leastSquares(s.map((m) => ({ x: m.sessionsServed, y: pick(m) / MIB })));
      return t.slope * 1000;
    };
    return {
      rssMiBPer1000: fit((m) => m.rssBytes),
      nativeMiBPer1000: fit((m) => m.nativeBytes),
      samples: s.length,
      sessionsSpanned: spanned,
    };
  }
}

/** Native memory from one `process.memoryUsage()` reading. */
export function nativeBytes(m: Pick<NodeJS.MemoryUsage, 'rss' | 'heapTotal' | 'external'>): number {
  return Math.max(0, m.rss - m.heapTotal - m.external);
}
