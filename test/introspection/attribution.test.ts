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
  return new Promise((resolve) => sessionScope.run(s, () => setTimeout(() => (fn(), resolve()), 1)));
}

describe('SessionAttribution', () => {
  let attribution: SessionAttribution | undefined;
  afterEach(() => attribution?.disable());

  it('charges a 200 ms block to the session whose code blocked, not to its idle sibling', async () => {
    const slow: SlowSessionEvent[] = [];
    attribution = new SessionAttribution({ onSlowSession: (e) => slow.push(e), intervalMs: 60_000 });
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
    attribution = new SessionAttribution({ blockThresholdMs: 20, slowFlagMs: 60, intervalMs: 60_000 });
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
    attribution = new SessionAttribution({ blockThresholdMs: 10, onSlowSession: (e) => slow.push(e), intervalMs: 60_000 });
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
});
