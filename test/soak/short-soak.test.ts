// The short soak: about 200 short calls through the real worker runtime (local dispatcher, real
// AgentSessions on models every session shares, every kind of ending), then everything the worker
// holds per job or per session is back to exactly its idle size. Exact, not a memory trend: the
// trend is the soak benchmark's (`npm run bench -- soak`).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FootprintSnapshot } from '../../src/introspection/snapshot-schema.js';
import { SnapshotV1 } from '../../src/introspection/snapshot-schema.js';
import { IpcClient } from '../../src/ipc/ipc-client.js';
import type { SessionEndedEvent } from '../../src/session/types.js';
import type { ChurnEnding } from '../fixtures/agents/churn-agent.js';
import { until } from '../support/conditions.js';
import { fixtureAgent, startRuntime, type RuntimeRig } from '../support/runtime-rig.js';
import { detachRunnerErrorHandlers } from '../session/support.js';

const SESSIONS = 200;
const CONCURRENCY = 20;
const SESSION_LIMIT_MS = 200;
/** Reaches every tenant (`i % 10`) and the first three endings (`i / 10`). */
const WARM_UP = 30;
/** Readings 20 ms apart (`until`'s poll) that must agree: two seconds of stillness. */
const STILL_READINGS = 100;

let rig: RuntimeRig;
const ended = new Map<string, SessionEndedEvent>();
const waiting = new Map<string, (e: SessionEndedEvent) => void>();

function endingOf(i: number): ChurnEnding {
  // Every tenant sees every ending, and fails too rarely to open its breaker.
  return (['throw', 'reject', 'open'] as const)[Math.floor(i / 10) % 10] ?? 'normal';
}

/** One call: dispatched, then waited for until it ended; a rejected one is done at once. */
interface CallResult {
  tenant: string;
  status: 'ended' | 'rejected';
  reason?: string;
}

async function call(i: number): Promise<CallResult> {
  const tenant = i % 7 === 0 ? 'capped' : `t${i % 10}`;
  const outcome = await rig.dispatch({
    agentName: 'churn',
    // The capped tenant's calls end normally, so its rejections are its cap's alone.
    metadata: JSON.stringify({ tenant, ending: tenant === 'capped' ? 'normal' : endingOf(i) }),
  });
  if (outcome.status !== 'assigned')
    return { tenant, status: 'rejected', reason: outcome.reason ?? outcome.status };
  const done = ended.get(outcome.jobId);
  if (!done) await new Promise<SessionEndedEvent>((r) => waiting.set(outcome.jobId, r));
  ended.delete(outcome.jobId);
  return { tenant, status: 'ended' };
}

/** `total` calls, `concurrency` at a time, each slot starting its next call when one ends. */
async function churn(from: number, total: number, concurrency: number) {
  let next = from;
  const results: CallResult[] = [];
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < from + total) results.push(await call(next++));
    }),
  );
  return results;
}

/**
 * The footprint's counts of held state: memory bytes left out, and timers apart (see `timers`).
 */
function held(f: FootprintSnapshot) {
  const { Timeout: _timers, ...handles } = f.handles;
  return { tracked: f.tracked, ffiListeners: f.ffiListeners, handles };
}

/**
 * Referenced timers, ours and the framework's. Ours are counted exactly through the maps that
 * hold them (a session's limit timer is in `sessionHost.jobs`, a subscription's in
 * `ipc.pushGroups`); agents-js starts timers of its own per session that run out seconds after
 * the session ends, so this count must come back down to its idle value, not stay level.
 */
const timers = (f: FootprintSnapshot) => f.handles['Timeout'] ?? 0;

const processListeners = () =>
  Object.fromEntries(
    (['uncaughtException', 'unhandledRejection', 'warning', 'exit'] as const).map((e) => [
      e,
      process.listenerCount(e),
    ]),
  );

const sorted = (f: ReturnType<typeof held>) => ({
  tracked: Object.fromEntries(Object.entries(f.tracked).sort()),
  ffiListeners: f.ffiListeners,
  handles: Object.fromEntries(Object.entries(f.handles).sort()),
});

/**
 * Waits until nothing is in flight (no session, reservation or CPU row, which expires one
 * attribution interval after a session's last callback), then until every count has held still
 * for two seconds.
 */
async function quiescent() {
  await until(
    'no live session, reservation or CPU row',
    () => {
      const t = rig.runtime.footprint().tracked;
      return (
        t['registry'] === 0 &&
        t['admission.inUse'] === 0 &&
        t['admission.holding'] === 0 &&
        t['attribution.sessions'] === 0
      );
    },
    30_000,
    () => JSON.stringify(rig.runtime.footprint().tracked),
  );
  const readings: string[] = [];
  const reading = await until(
    'every count to hold still',
    () => {
      const now = JSON.stringify(sorted(held(rig.runtime.footprint())));
      readings.push(now);
      const recent = readings.slice(-STILL_READINGS);
      return recent.length === STILL_READINGS && recent.every((r) => r === now) && now;
    },
    30_000,
    () => readings.slice(-3).join('\n'),
  );
  return JSON.parse(reading) as ReturnType<typeof sorted>;
}

let restoreRunnerHandlers: () => void;

beforeAll(async () => {
  rig = await startRuntime(`export default {
    name: 'soak',
    agents: { churn: ${JSON.stringify(fixtureAgent('churn-agent'))} },
    maxSessionDurationMs: ${SESSION_LIMIT_MS},
    tenants: { maxSessions: { capped: 1 } },
    introspection: { attribution: 'continuous' },
  };`);
  rig.runtime.sessions.subscribe({
    ended: (e) => {
      const w = waiting.get(e.jobId);
      waiting.delete(e.jobId);
      if (w) w(e);
      else ended.set(e.jobId, e);
    },
  });
  // The 'reject' ending raises unhandled rejections on purpose; only the worker may see them.
  restoreRunnerHandlers = detachRunnerErrorHandlers();
}, 60_000);

afterAll(async () => {
  restoreRunnerHandlers?.();
  await rig?.stop();
});

describe('short soak', () => {
  it(`after ${SESSIONS} calls of every ending, the worker's own state is back to its idle size`, async () => {
    // Warm-up: the first sessions load modules and create what lives as long as the worker. It
    // reaches every tenant and the abnormal endings, so tenant rows (bounded by tenants, not
    // calls) are all there before the idle reading.
    await churn(0, WARM_UP, 5);
    const idle = await quiescent();
    const idleTimers = timers(rig.runtime.footprint());
    const idleListeners = processListeners();
    expect(idle.tracked['ipc.connections']).toBe(0);

    // While calls churn, a top client is subscribed, and snapshots are asked for over the socket.
    const viewer = await IpcClient.connect(rig.socketPath);
    let pushes = 0;
    await viewer.subscribe(100, () => (pushes += 1));
    const results = await churn(WARM_UP, SESSIONS, CONCURRENCY);
    SnapshotV1.parse(await rig.request('snapshot'));
    viewer.close();

    expect(results).toHaveLength(SESSIONS);
    // Only the tenant capped at one session turned calls away, and only for its cap.
    const rejected = results.filter((r) => r.status === 'rejected');
    expect(rejected.filter((r) => r.tenant !== 'capped')).toEqual([]);
    expect(new Set(rejected.map((r) => r.reason))).toEqual(new Set(['tenant_capacity']));
    const served = results.length - rejected.length;
    expect(served).toBeGreaterThan(SESSIONS * 0.8);
    expect(pushes).toBeGreaterThan(0);
    expect(rig.runtime.footprint().sessionsServed).toBe(WARM_UP + served);

    // Quiescence, then every count is exactly what it was at idle.
    expect(await quiescent()).toEqual(idle);
    await until(
      'the framework timers to run out',
      () => timers(rig.runtime.footprint()) <= idleTimers,
      30_000,
      () => `idle ${idleTimers}, now ${timers(rig.runtime.footprint())}`,
    );
    expect(processListeners()).toEqual(idleListeners);

    const totals = SnapshotV1.parse(await rig.request('snapshot')).worker.totals;
    expect(totals.live).toBe(0);
    expect(totals.reserved).toBe(0);
    expect(totals.failed).toBeGreaterThan(0);
  }, 120_000);
});
