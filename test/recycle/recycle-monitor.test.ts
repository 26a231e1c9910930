import { describe, expect, it } from 'vitest';
import { MemoryTrendTracker } from '../../src/recycle/memory-trend.js';
import { RecycleMonitor } from '../../src/recycle/recycle-monitor.js';
import type { RecycleCondition } from '../../src/recycle/recycle-policy.js';
import { FakeClock } from '../support/fake-clock.js';

const MIB = 1024 * 1024;

function rig(limits: ConstructorParameters<typeof RecycleMonitor>[0]['limits']) {
  const clock = new FakeClock();
  const memory = { rss: 300 * MIB, heapTotal: 100 * MIB, external: 50 * MIB };
  const fired: RecycleCondition[] = [];
  let served = 0;
  const monitor = new RecycleMonitor({
    limits,
    clock,
    memory: () => memory,
    sessionsServed: () => served,
    intervalMs: 30_000,
  });
  monitor.start((c) => fired.push(c));
  /** What the worker does at each session end: the host counts it, the monitor checks. */
  const sessionEnded = () => {
    served += 1;
    monitor.check();
  };
  return { clock, memory, fired, monitor, sessionEnded };
}

describe('RecycleMonitor', () => {
  it('fires once, at the session end that reaches maxSessions', () => {
    const { fired, monitor, sessionEnded } = rig({ maxSessions: 3 });
    sessionEnded();
    sessionEnded();
    expect(fired).toEqual([]);
    expect(monitor.status().nearest).toMatchObject({ name: 'maxSessions', value: 2, limit: 3 });
    sessionEnded();
    sessionEnded();
    expect(fired).toEqual([{ name: 'maxSessions', value: 3, limit: 3, share: 1 }]);
    expect(monitor.status()).toMatchObject({ sessionsServed: 4, fired: fired[0] });
  });

  it('reads RSS, native growth and uptime on its timer when no session ends', () => {
    const { clock, memory, fired } = rig({ maxNativeGrowthMiB: 100, maxUptimeMs: 3_600_000 });
    memory.rss += 99 * MIB;
    clock.advance(30_000);
    expect(fired).toEqual([]);
    memory.rss += 1 * MIB;
    clock.advance(30_000);
    expect(fired).toEqual([{ name: 'maxNativeGrowthMiB', value: 100, limit: 100, share: 1 }]);
  });

  it('fires on uptime alone', () => {
    const { clock, fired } = rig({ maxUptimeMs: 90_000 });
    clock.advance(60_000);
    expect(fired).toEqual([]);
    clock.advance(30_000);
    expect(fired.map((c) => c.name)).toEqual(['maxUptime']);
  });

  it('checks again when the limits are reloaded, and stops its timer', () => {
    const { clock, fired, monitor, sessionEnded } = rig({});
    sessionEnded();
    monitor.setLimits({ maxSessions: 1 });
    expect(fired.map((c) => c.name)).toEqual(['maxSessions']);
    monitor.stop();
    expect(() => clock.advance(120_000)).not.toThrow();
  });
});

describe('MemoryTrendTracker', () => {
  it('gives the least-squares growth per 1,000 sessions over the recent samples', () => {
    const t = new MemoryTrendTracker(5);
    // 2 MiB of RSS and 1 MiB of native memory per 10 sessions, RSS with noise; only the last five
    // samples count, whose noise (-0.5, 0, 0.5, -0.5, 0) adds 5 / 1000 MiB per session by hand.
    const noise = [0.5, -0.5, 0, 0.5, -0.5, 0];
    for (let i = 0; i < 6; i++)
      t.add({
        sessionsServed: i * 10,
        rssBytes: (300 + 2 * i + noise[i]!) * MIB,
        nativeBytes: (100 + i) * MIB,
      });
    expect(t.size).toBe(5);
    const trend = t.trend();
    expect(trend.samples).toBe(5);
    expect(trend.sessionsSpanned).toBe(40);
    expect(trend.nativeMiBPer1000).toBeCloseTo(100, 9);
    expect(trend.rssMiBPer1000).toBeCloseTo(200 + 5, 9);
  });

  it('shows no trend before enough sessions were served', () => {
    const t = new MemoryTrendTracker();
    for (let i = 0; i < 10; i++) t.add({ sessionsServed: i, rssBytes: i * MIB, nativeBytes: 0 });
    expect(t.trend()).toEqual({
      rssMiBPer1000: undefined,
      nativeMiBPer1000: undefined,
      samples: 10,
      sessionsSpanned: 9,
    });
  });
});
