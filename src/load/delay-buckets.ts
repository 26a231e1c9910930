import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';

export interface DelayStats {
  p99Ms: number;
  maxMs: number;
  samples: number;
}

interface Bucket {
  index: number;
  histogram: RecordableHistogram;
}

const US_PER_MS = 1_000;

/**
 * Event-loop delay samples in a ring of fixed-length time buckets, so "p99 over the last few
 * seconds" is one merge of a few histograms rather than a list of samples. Pure apart from the
 * histograms themselves: times are passed in, so tests drive it exactly.
 */
export class DelayBuckets {
  readonly bucketMs: number;
  readonly #ring: Bucket[];
  readonly #scratch = createHistogram();

  constructor(bucketMs: number, count: number) {
    if (!(bucketMs > 0) || !Number.isInteger(count) || count < 1)
      throw new RangeError('bucketMs must be > 0 and count a positive integer');
    this.bucketMs = bucketMs;
    this.#ring = Array.from({ length: count }, () => ({ index: -1, histogram: createHistogram() }));
  }

  /** How far back a window can reach. */
  get spanMs(): number {
    return this.bucketMs * this.#ring.length;
  }

  record(now: number, delayMs: number): void {
    const index = Math.floor(now / this.bucketMs);
    const bucket = this.#ring[index % this.#ring.length]!;
    if (bucket.index !== index) {
      bucket.index = index;
      bucket.histogram.reset();
    }
    // Histograms hold integers >= 1: microseconds, with anything under 1 µs as 1.
    bucket.histogram.record(Math.max(1, Math.round(delayMs * US_PER_MS)));
  }

  /** Delay over the buckets that overlap the last `windowMs` before `now` (the current one included). */
  stats(now: number, windowMs: number): DelayStats {
    const current = Math.floor(now / this.bucketMs);
    const reach = Math.min(this.#ring.length, Math.max(1, Math.ceil(windowMs / this.bucketMs)));
    const merged = this.#scratch;
    merged.reset();
    for (const bucket of this.#ring) {
      if (bucket.index > current - reach && bucket.index <= current && bucket.histogram.count > 0)
        merged.add(bucket.histogram);
    }
    if (merged.count === 0) return { p99Ms: 0, maxMs: 0, samples: 0 };
    return {
      p99Ms: merged.percentile(99) / US_PER_MS,
      maxMs: merged.max / US_PER_MS,
      samples: merged.count,
    };
  }
}
