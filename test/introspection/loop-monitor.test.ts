import { createHistogram, type IntervalHistogram } from 'node:perf_hooks';
import { afterEach, describe, expect, it } from 'vitest';
import { LoopMonitor } from '../../src/introspection/loop-monitor.js';
import { until } from '../support/conditions.js';

const NS_PER_MS = 1e6;

/** A real histogram that the test records delays into, instead of one sampling this loop. */
function recordedDelays() {
  const histogram = createHistogram();
  const sampler = Object.assign(histogram, {
    enable: () => true,
    disable: () => true,
  }) as unknown as IntervalHistogram;
  return {
    histogram: () => sampler,
    delays: (...ms: number[]) => {
      for (const d of ms) histogram.record(Math.round(d * NS_PER_MS));
    },
  };
}

/**
 * Resolves once the sampler has recorded what the loop did so far: its timer came due during the
 * block, this one only after it, and libuv runs due timers in order. (A roll before then would
 * lose the block: the histogram drops its first sample after a reset.)
 */
function samplerTurn(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 1));
}

function busyWait(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // block the loop
  }
}

describe('LoopMonitor', () => {
  let monitor: LoopMonitor | undefined;
  afterEach(() => monitor?.stop());

  it('reports a block in the interval it happened, then forgets it after the next interval', () => {
    const recorded = recordedDelays();
    monitor = new LoopMonitor({ intervalMs: 60_000, histogram: recorded.histogram });
    expect(monitor.stats()).toEqual({ p50Ms: 0, p99Ms: 0, maxMs: 0 });
    monitor.start();
    recorded.delays(1, 1, 2, 1, 1, 100, 1, 1);
    const stats = monitor.roll();
    expect(stats.maxMs).toBeGreaterThanOrEqual(95);
    expect(stats.p50Ms).toBeLessThan(stats.maxMs);
    expect(monitor.stats()).toEqual(stats);
    recorded.delays(1, 2, 1);
    expect(monitor.roll().maxMs).toBeLessThan(95);
    // An interval with no samples keeps the last reading rather than inventing zeros.
    expect(monitor.roll()).toEqual(monitor.stats());
  });

  it('sees a real 100 ms block of this loop, and lets it age out', async () => {
    monitor = new LoopMonitor({ intervalMs: 60_000, resolutionMs: 1 });
    monitor.start();
    // The sampler measures from its previous turn, so it needs one before the block too.
    await samplerTurn();
    busyWait(100);
    await samplerTurn();
    const seen = monitor.roll();
    expect(seen.maxMs).toBeGreaterThanOrEqual(95);
    expect(monitor.stats()).toEqual(seen);
    await until('the block to age out', () => monitor!.roll().maxMs < 95);
  });
});
