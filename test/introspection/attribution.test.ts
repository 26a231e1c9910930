import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { SessionAttribution, type SlowSessionEvent } from '../../src/introspection/attribution.js';
import { sessionScope, type SessionScope } from '../../src/logging/scope.js';

function scope(sessionId: string, tenant: string): SessionScope {
  return { sessionId, tenant, jobId: `job-${sessionId}`, agent: 'demo', config: undefined };
}

function busyWait(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // spin: this is the block under test
  }
}

/** Runs `fn` from a timer scheduled inside the session, i.e. in the session's async tree. */
function inSession(s: SessionScope, fn: () => void): Promise<void> {
  return new Promise((resolve) =>
    sessionScope.run(s, () => setTimeout(() => (fn(), resolve()), 1)),
  );
}

describe('SessionAttribution', () => {
  let attribution: SessionAttribution | undefined;
  afterEach(() => attribution?.disable());

  it('charges a 200 ms block to the session whose code blocked, not to its idle sibling', async () => {
    const slow: SlowSessionEvent[] = [];
    attribution = new SessionAttribution({
      onSlowSession: (e) => slow.push(e),
      intervalMs: 60_000,
    });
    attribution.enable();
    const busy = scope('s-busy', 'acme');
    const idle = scope('s-idle', 'acme');

    await Promise.all([inSession(busy, () => busyWait(200)), inSession(idle, () => busyWait(1))]);
    await inSession(idle, () => undefined);
    await sleep(5); // the slow_session report is delivered on a later tick
    attribution.roll();

    const busyUsage = attribution.usage('s-busy');
    const idleUsage = attribution.usage('s-idle');
    expect(busyUsage.slow).toBe(true);
    expect(busyUsage.lastBlockMs).toBeGreaterThanOrEqual(200);
    expect(idleUsage.slow).toBe(false);
    expect(idleUsage.lastBlockMs).toBeUndefined();
    expect(busyUsage.cpuPct).toBeGreaterThan(idleUsage.cpuPct);

    expect(slow).toHaveLength(1);
    expect(slow[0]).toMatchObject({ tenant: 'acme', sessionId: 's-busy', agent: 'demo' });
    expect(slow[0]!.durationMs).toBeGreaterThanOrEqual(200);
  });

  it('uses the configured threshold and clears the slow flag after slowFlagMs', async () => {
    attribution = new SessionAttribution({
      blockThresholdMs: 20,
      slowFlagMs: 60,
      intervalMs: 60_000,
    });
    attribution.enable();
    const s = scope('s1', 'globex');
    await inSession(s, () => busyWait(30));
    expect(attribution.usage('s1')).toMatchObject({ slow: true });
    await sleep(80);
    expect(attribution.usage('s1').slow).toBe(false);
    expect(attribution.usage('s1').lastBlockMs).toBeGreaterThanOrEqual(30);
  });

  it('does not charge callbacks outside any session, and records nothing while disabled', async () => {
    const slow: SlowSessionEvent[] = [];
    attribution = new SessionAttribution({
      blockThresholdMs: 10,
      onSlowSession: (e) => slow.push(e),
      intervalMs: 60_000,
    });
    await inSession(scope('s-off', 'acme'), () => busyWait(15));
    attribution.enable();
    await new Promise<void>((resolve) => setTimeout(() => (busyWait(15), resolve()), 1));
    await sleep(5);
    expect(attribution.usage('s-off')).toEqual({ cpuPct: 0, slow: false });
    expect(slow).toEqual([]);
    expect(attribution.enabled).toBe(true);
    attribution.disable();
    expect(attribution.enabled).toBe(false);
  });

  it('attributes promise continuations of the session too', async () => {
    attribution = new SessionAttribution({ blockThresholdMs: 20, intervalMs: 60_000 });
    attribution.enable();
    await sessionScope.run(scope('s-promise', 'acme'), async () => {
      await sleep(1);
      busyWait(25);
    });
    expect(attribution.usage('s-promise').slow).toBe(true);
  });

  it('splits heap growth since the last idle moment evenly across live sessions', () => {
    attribution = new SessionAttribution();
    expect(attribution.memoryShare(100_000_000, 0)).toBe(0);
    expect(attribution.memoryShare(130_000_000, 3)).toBe(10_000_000);
    expect(attribution.memoryShare(90_000_000, 2)).toBe(0);
  });

  it('forgets a finished session', async () => {
    attribution = new SessionAttribution({ blockThresholdMs: 5, intervalMs: 60_000 });
    attribution.enable();
    await inSession(scope('gone', 'acme'), () => busyWait(8));
    expect(attribution.usage('gone').slow).toBe(true);
    attribution.forget('gone');
    expect(attribution.usage('gone')).toEqual({ cpuPct: 0, slow: false });
  });

  describe('sampled', () => {
    it('watches only the sample, and gives CPU as a share of the time it watched', async () => {
      attribution = new SessionAttribution({ intervalMs: 60_000, sampleMs: 200 });
      attribution.enable();
      const s = scope('s-sampled', 'acme');
      await inSession(s, () => busyWait(40));
      await sleep(260);
      expect(attribution.continuous).toBe(false);
      // Outside the sample: not seen (and too short to count as a block).
      await inSession(s, () => busyWait(40));
      attribution.roll();
      // 40 ms of about 200 watched; the unseen 40 ms would make it about 40 %.
      const { cpuPct } = attribution.usage('s-sampled');
      expect(cpuPct).toBeGreaterThan(8);
      expect(cpuPct).toBeLessThan(32);
    });

    it('notices a block outside the sample, then watches continuously and names the session that blocks again', async () => {
      const slow: SlowSessionEvent[] = [];
      const unattributed: number[] = [];
      attribution = new SessionAttribution({
        intervalMs: 60_000,
        sampleMs: 30,
        catchMs: 60_000,
        onSlowSession: (e) => slow.push(e),
        onUnattributedBlock: (ms) => unattributed.push(ms),
      });
      attribution.enable();
      await sleep(80);
      expect(attribution.continuous).toBe(false);
      const s = scope('s-repeat', 'globex');

      await inSession(s, () => busyWait(150));
      await sleep(60);
      expect(attribution.usage('s-repeat').slow).toBe(false);
      expect(unattributed).toHaveLength(1);
      expect(unattributed[0]).toBeGreaterThan(50);
      expect(attribution.continuous).toBe(true);

      await inSession(s, () => busyWait(150));
      await sleep(5);
      expect(attribution.usage('s-repeat').slow).toBe(true);
      expect(slow.map((e) => e.sessionId)).toEqual(['s-repeat']);
    });

    it('after a catch, waits before catching again, so a saturated loop does not keep the hook on', async () => {
      const unattributed: number[] = [];
      attribution = new SessionAttribution({
        intervalMs: 200,
        sampleMs: 30,
        catchMs: 100,
        onUnattributedBlock: (ms) => unattributed.push(ms),
      });
      const started = performance.now();
      attribution.enable();
      await sleep(80);
      await inSession(scope('s-a', 'acme'), () => busyWait(120));
      await sleep(20);
      expect(unattributed).toHaveLength(1);
      // The catch window (100 ms) ends; the next interval samples again.
      while (performance.now() - started < 470) await sleep(10);
      expect(attribution.continuous).toBe(false);
      await inSession(scope('s-b', 'acme'), () => busyWait(100));
      await sleep(20);
      // Within five catch windows of the first catch: noticed by nobody, and still sampled.
      expect(unattributed).toHaveLength(1);
      expect(attribution.continuous).toBe(false);
    });
  });
});
