import { describe, expect, it } from 'vitest';
import {
  decideRecycle,
  describeCondition,
  recycleConditions,
  type RecycleReadings,
} from '../../src/recycle/recycle-policy.js';

const base: RecycleReadings = {
  sessionsServed: 0,
  rssMiB: 200,
  nativeGrowthMiB: 0,
  now: 1_000_000,
  startedAt: 1_000_000,
};

describe('decideRecycle', () => {
  it('never fires and names nothing when no condition is set', () => {
    expect(decideRecycle({}, { ...base, sessionsServed: 1e6, rssMiB: 1e6 })).toEqual({
      exceeded: undefined,
      nearest: undefined,
    });
  });

  it('fires once a reading reaches its limit, not before', () => {
    expect(decideRecycle({ maxSessions: 20 }, { ...base, sessionsServed: 19 }).exceeded).toBe(
      undefined,
    );
    expect(decideRecycle({ maxSessions: 20 }, { ...base, sessionsServed: 20 }).exceeded).toEqual({
      name: 'maxSessions',
      value: 20,
      limit: 20,
      share: 1,
    });
  });

  it('names the condition nearest to firing, with its figures', () => {
    const d = decideRecycle(
      { maxSessions: 20, maxRssMiB: 1000, maxNativeGrowthMiB: 100, maxUptimeMs: 3_600_000 },
      { ...base, sessionsServed: 18, rssMiB: 500, nativeGrowthMiB: 10, now: base.now + 60_000 },
    );
    expect(d.exceeded).toBeUndefined();
    expect(d.nearest).toEqual({ name: 'maxSessions', value: 18, limit: 20, share: 0.9 });
    expect(describeCondition(d.nearest!)).toBe('maxSessions 18/20');
  });

  it('picks the condition furthest past its limit when several fired', () => {
    const d = decideRecycle(
      { maxSessions: 20, maxRssMiB: 400, maxUptimeMs: 3_600_000 },
      { ...base, sessionsServed: 21, rssMiB: 600, now: base.now + 7_200_000 },
    );
    expect(d.exceeded?.name).toBe('maxUptime');
    expect(d.exceeded?.share).toBe(2);
    expect(describeCondition(d.exceeded!)).toBe('maxUptime 2h/1h');
  });

  it('reads native growth and uptime in their own units', () => {
    const list = recycleConditions(
      { maxNativeGrowthMiB: 64, maxUptimeMs: 86_400_000 },
      { ...base, nativeGrowthMiB: 16, now: base.now + 21_600_000 },
    );
    expect(list).toEqual([
      { name: 'maxNativeGrowthMiB', value: 16, limit: 64, share: 0.25 },
      { name: 'maxUptime', value: 21_600_000, limit: 86_400_000, share: 0.25 },
    ]);
    expect(describeCondition(list[1]!)).toBe('maxUptime 6h/24h');
    expect(
      describeCondition({ name: 'maxUptime', value: 1_800_000, limit: 3_600_000, share: 0.5 }),
    ).toBe('maxUptime 30m/1h');
  });
});
