import { afterEach, describe, expect, it, vi } from 'vitest';
import { SessionAttribution, type SlowSessionEvent } from '../../src/introspection/attribution.js';
import { sessionScope, type SessionScope } from '../../src/scope/session-scope.js';

function scope(sessionId: string, tenant: string): SessionScope {
  return { sessionId, tenant, jobId: `job-${sessionId}`, agent: 'demo', config: undefined };
}

/**
 * A simulated loop. Attribution's own timers (interval, sample end, stall watchdog) are fake and
 * move only with `elapse`; its clock is that fake time plus every simulated `block`. A block is a
 * callback during which the clock jumps, as it does while real code holds the loop, so a stall of
 * the machine itself (another process on a loaded box) can never look like one. The callbacks are
 * real (immediates), so the async hook and the session scope are the real ones.
 */
function simulatedLoop() {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
  let fakeMs = 0;
  let blockedMs = 0;
  return {
    now: () => fakeMs + blockedMs,
    /** Holds the loop for `ms`, inside whatever callback calls it. */
    block: (ms: number) => void (blockedMs += ms),
    /** Lets `ms` of loop time pass, firing attribution's timers when due. */
    elapse: (ms: number) => {
      for (let i = 0; i < ms; i++) {
        fakeMs += 1;
        vi.advanceTimersByTime(1);
      }
    },
  };
}

/** Runs `fn` from a callback scheduled inside the session, i.e. in the session's async tree. */
function inSession(s: SessionScope, fn: () => void): Promise<void> {
  return new Promise((resolve) => sessionScope.run(s, () => setImmediate(() => (fn(), resolve()))));
}

/** One turn of the loop; reports are delivered from an immediate of their own, after the callback that caused them. */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('SessionAttribution', () => {
  let attribution: SessionAttribution | undefined;
  afterEach(() => {
    attribution?.disable();
    vi.useRealTimers();
  });

  it('charges a 200 ms block to the session whose code blocked, not to its idle sibling', async () => {
    const loop = simulatedLoop();
    const slow: SlowSessionEvent[] = [];
    attribution = new SessionAttribution({
      onSlowSession: (e) => slow.push(e),
      intervalMs: 60_000,
      now: loop.now,
    });
    attribution.enable();
    const busy = scope('s-busy', 'acme');
    const idle = scope('s-idle', 'acme');

    await Promise.all([
      inSession(busy, () => loop.block(200)),
      inSession(idle, () => loop.block(1)),
    ]);
    await inSession(idle, () => undefined);
    await nextTurn();
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
    const loop = simulatedLoop();
    attribution = new SessionAttribution({
      blockThresholdMs: 20,
      slowFlagMs: 60,
      intervalMs: 60_000,
      now: loop.now,
    });
    attribution.enable();
    const s = scope('s1', 'globex');
    await inSession(s, () => loop.block(30));
    expect(attribution.usage('s1')).toMatchObject({ slow: true });
    loop.elapse(59);
    expect(attribution.usage('s1').slow).toBe(true);
    loop.elapse(2);
    expect(attribution.usage('s1').slow).toBe(false);
    expect(attribution.usage('s1').lastBlockMs).toBeGreaterThanOrEqual(30);
  });

  it('does not charge callbacks outside any session, and records nothing while disabled', async () => {
    const loop = simulatedLoop();
    const slow: SlowSessionEvent[] = [];
    attribution = new SessionAttribution({
      blockThresholdMs: 10,
      onSlowSession: (e) => slow.push(e),
      intervalMs: 60_000,
      now: loop.now,
    });
    await inSession(scope('s-off', 'acme'), () => loop.block(15));
    attribution.enable();
    await new Promise<void>((resolve) => setImmediate(() => (loop.block(15), resolve())));
    await nextTurn();
    expect(attribution.usage('s-off')).toEqual({ cpuPct: 0, slow: false });
    expect(slow).toEqual([]);
    expect(attribution.enabled).toBe(true);
    attribution.disable();
    expect(attribution.enabled).toBe(false);
  });

  it('attributes promise continuations of the session too', async () => {
    const loop = simulatedLoop();
    attribution = new SessionAttribution({
      blockThresholdMs: 20,
      intervalMs: 60_000,
      now: loop.now,
    });
    attribution.enable();
    await sessionScope.run(scope('s-promise', 'acme'), async () => {
      await nextTurn();
      loop.block(25);
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
    const loop = simulatedLoop();
    attribution = new SessionAttribution({
      blockThresholdMs: 5,
      intervalMs: 60_000,
      now: loop.now,
    });
    attribution.enable();
    await inSession(scope('gone', 'acme'), () => loop.block(8));
    expect(attribution.usage('gone').slow).toBe(true);
    attribution.forget('gone');
    expect(attribution.usage('gone')).toEqual({ cpuPct: 0, slow: false });
  });

  describe('sampled', () => {
    it('watches only the sample, and gives CPU as a share of the time it watched', async () => {
      const loop = simulatedLoop();
      attribution = new SessionAttribution({ intervalMs: 60_000, sampleMs: 200, now: loop.now });
      attribution.enable();
      const s = scope('s-sampled', 'acme');
      await inSession(s, () => loop.block(40));
      loop.elapse(260);
      expect(attribution.continuous).toBe(false);
      // Outside the sample: not seen (and too short to count as a block).
      await inSession(s, () => loop.block(40));
      attribution.roll();
      // 40 ms of about 200 watched; the unseen 40 ms would make it about 40 %.
      const { cpuPct } = attribution.usage('s-sampled');
      expect(cpuPct).toBeGreaterThan(8);
      expect(cpuPct).toBeLessThan(32);
    });

    it('notices a block outside the sample, then watches continuously and names the session that blocks again', async () => {
      const loop = simulatedLoop();
      const slow: SlowSessionEvent[] = [];
      const unattributed: number[] = [];
      attribution = new SessionAttribution({
        intervalMs: 60_000,
        sampleMs: 30,
        catchMs: 60_000,
        onSlowSession: (e) => slow.push(e),
        onUnattributedBlock: (ms) => unattributed.push(ms),
        now: loop.now,
      });
      attribution.enable();
      loop.elapse(80);
      expect(attribution.continuous).toBe(false);
      const s = scope('s-repeat', 'globex');

      await inSession(s, () => loop.block(150));
      loop.elapse(60);
      await nextTurn();
      expect(attribution.usage('s-repeat').slow).toBe(false);
      expect(unattributed).toHaveLength(1);
      expect(unattributed[0]).toBeGreaterThan(50);
      expect(attribution.continuous).toBe(true);

      await inSession(s, () => loop.block(150));
      await nextTurn();
      expect(attribution.usage('s-repeat').slow).toBe(true);
      expect(slow.map((e) => e.sessionId)).toEqual(['s-repeat']);
    });

    it('after a catch, waits before catching again, so a saturated loop does not keep the hook on', async () => {
      const loop = simulatedLoop();
      const unattributed: number[] = [];
      attribution = new SessionAttribution({
        intervalMs: 200,
        sampleMs: 30,
        catchMs: 100,
        onUnattributedBlock: (ms) => unattributed.push(ms),
        now: loop.now,
      });
      const started = loop.now();
      attribution.enable();
      loop.elapse(80);
      await inSession(scope('s-a', 'acme'), () => loop.block(120));
      loop.elapse(20);
      await nextTurn();
      expect(unattributed).toHaveLength(1);
      // The catch window (100 ms) ends; the next interval samples again.
      loop.elapse(470 - (loop.now() - started));
      expect(attribution.continuous).toBe(false);
      await inSession(scope('s-b', 'acme'), () => loop.block(100));
      loop.elapse(20);
      await nextTurn();
      // Within five catch windows of the first catch: noticed by nobody, and still sampled.
      expect(unattributed).toHaveLength(1);
      expect(attribution.continuous).toBe(false);
    });
  });
});
