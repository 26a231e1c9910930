// One supervisor (`openrtc dev --workers 1`) for the whole file: it recycles its worker while
// calls keep arriving, restarts a SIGKILLed one, and drains everything on SIGTERM.
import path from 'node:path';
import { setTimeout as pace } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DispatchResult } from '../../src/dispatcher/dispatch-client.js';
import { EXIT } from '../../src/protocol/exit-codes.js';
import { until } from '../support/conditions.js';
import { dispatchDemoCalls } from '../support/dev-dispatch.js';
import { freePort, REPO_ROOT, startWorkerProcess, type DevWorker } from '../support/dev-worker.js';

const CONFIG = path.join(REPO_ROOT, 'test/fixtures/recycle.config.ts');
const READY = 'openrtc worker "recycler" ready';

let sup: DevWorker;
let port: number;

type Rec = Record<string, unknown>;
const records = (): Rec[] => sup.logRecords();
const readyPids = (): number[] =>
  records()
    .filter((r) => r.msg === READY)
    .map((r) => Number(r.pid));
const logTail = () => sup.logs.slice(-40).join('\n');

const dispatch = (count: number, durationS: number) => dispatchDemoCalls(port, count, durationS);

beforeAll(async () => {
  port = await freePort();
  sup = await startWorkerProcess({
    args: [
      'dev',
      '--workers',
      '1',
      '--port',
      String(port),
      '--log-format',
      'json',
      '--config',
      CONFIG,
    ],
  });
}, 60_000);

afterAll(async () => {
  await sup?.stop();
});

describe('openrtc dev --workers 1', () => {
  it('recycles after maxSessions while calls keep arriving: every call answered, live calls finish', async () => {
    const [oldPid] = readyPids();
    const results: DispatchResult[] = [];
    let handedOver = false;
    let afterHandover = 0;
    // Calls keep coming at a steady rate (two every half second, a second long each, far under
    // the caps) through the handover and a little past it.
    while (afterHandover < 4) {
      const [batch] = await Promise.all([dispatch(2, 1), pace(500)]);
      results.push(...batch);
      if (handedOver) afterHandover += batch.length;
      handedOver ||= records().some((r) => r.msg === 'recycled worker exited with code 75');
      expect(results.length, logTail()).toBeLessThan(200);
    }
    expect(
      results.filter((r) => r.status !== 'accepted'),
      logTail(),
    ).toEqual([]);

    const fired = records().find((r) => String(r.msg).startsWith('recycle: maxSessions 20/20'));
    expect(fired, logTail()).toMatchObject({
      pid: oldPid,
      condition: 'maxSessions',
      value: 20,
      limit: 20,
    });
    const newPid = readyPids().find((p) => p !== oldPid);
    expect(newPid).toBeDefined();
    // The replacement was serving before the old worker stopped accepting.
    const at = (pid: number, msg: string) =>
      Number(records().find((r) => r.pid === pid && r.msg === msg)?.time);
    expect(at(newPid!, READY)).toBeLessThan(at(oldPid!, 'draining'));
    // Its live calls ended by themselves: none was cut by the drain.
    expect(records().find((r) => r.pid === oldPid && r.msg === 'worker stopped')).toMatchObject({
      clean: true,
      forced_sessions: 0,
      recycled: true,
    });
    // A request that reached the old worker as it began to drain is turned away as `draining` and
    // offered to the replacement, as LiveKit does; none is turned away for capacity.
    expect(
      records().filter((r) => r.reason === 'tenant_capacity' || r.reason === 'worker_capacity'),
    ).toEqual([]);
    // The recycle exit was not restarted: its replacement is the one worker.
    expect(readyPids()).toEqual([oldPid, newPid]);
  }, 60_000);

  it('restarts a worker killed with SIGKILL', async () => {
    const before = readyPids();
    const victim = before[before.length - 1]!;
    process.kill(victim, 'SIGKILL');
    const restarted = await until(
      'a restarted worker',
      () => readyPids().find((p) => !before.includes(p)),
      30_000,
      logTail,
    );
    expect(
      records().find((r) =>
        String(r.msg).startsWith(`worker ${victim} was killed by SIGKILL unexpectedly`),
      ),
    ).toBeDefined();
    const [call] = await dispatch(1, 0);
    expect(call?.status).toBe('accepted');
    await until(
      'the restarted worker to run the call',
      () => records().some((r) => r.msg === 'session started' && r.pid === restarted),
      10_000,
      logTail,
    );
  }, 45_000);

  it('drains every worker on SIGTERM and exits 0', async () => {
    const worker = readyPids().at(-1)!;
    const live = await dispatch(1, 2);
    expect(live.map((r) => r.status)).toEqual(['accepted']);
    sup.child.kill('SIGTERM');
    expect(await sup.exited).toBe(EXIT.ok);
    expect(records().find((r) => r.pid === worker && r.msg === 'worker stopped')).toMatchObject({
      clean: true,
      forced_sessions: 0,
    });
    expect(records().find((r) => r.msg === 'every worker stopped')).toMatchObject({ exit_code: 0 });
  }, 30_000);
});
