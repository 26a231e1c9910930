import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { LoopMonitor } from '../../src/introspection/loop-monitor.js';

describe('LoopMonitor', () => {
  let monitor: LoopMonitor | undefined;
  afterEach(() => monitor?.stop());

  it('reports a block in the interval it happened, then forgets it after the next interval', async () => {
    monitor = new LoopMonitor({ intervalMs: 60_000, resolutionMs: 1 });
    expect(monitor.stats()).toEqual({ p50Ms: 0, p99Ms: 0, maxMs: 0 });
    monitor.start();
    await sleep(20);
    const end = performance.now() + 100;
    while (performance.now() < end) {
      // block the loop
    }
    await sleep(20);
    const stats = monitor.roll();
    expect(stats.maxMs).toBeGreaterThanOrEqual(95);
    expect(stats.p50Ms).toBeLessThan(stats.maxMs);
    expect(monitor.stats()).toEqual(stats);
    await sleep(30);
    expect(monitor.roll().maxMs).toBeLessThan(95);
  });
});
