// A worker with no supervisor recycles on its own: it stops taking calls, lets the live one
// finish, and exits 75 for systemd or Kubernetes to start a fresh one.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../src/protocol/exit-codes.js';
import { dispatchDemoCalls } from '../support/dev-dispatch.js';
import { REPO_ROOT, startDevWorker, type DevWorker } from '../support/dev-worker.js';
import { workerSnapshot } from '../support/livekit/worker.js';
import { parseExposition, sampleValue } from '../support/prometheus.js';

const CONFIG = path.join(REPO_ROOT, 'test/fixtures/recycle.config.ts');

let worker: DevWorker;
let http: string;

const snapshot = () => workerSnapshot(worker);

const dispatch = (count: number, durationS: number) =>
  dispatchDemoCalls(worker.port, count, durationS);

beforeAll(async () => {
  worker = await startDevWorker(['--config', CONFIG], { RECYCLE_MAX_SESSIONS: '3' });
  const line = await worker.waitForLog((l) => String(l.msg).startsWith('http server listening'));
  http = String(line.http);
}, 60_000);

afterAll(async () => {
  await worker?.stop();
});

describe('a worker recycling on its own', () => {
  it('shows sessions served and the nearest condition while it serves', async () => {
    expect((await dispatch(2, 0)).map((r) => r.status)).toEqual(['accepted', 'accepted']);
    await expect
      .poll(async () => (await snapshot()).worker.recycle, { timeout: 10_000, interval: 100 })
      .toMatchObject({
        sessionsServed: 2,
        state: 'serving',
        rssMiBPer1000Sessions: null,
        nearest: { name: 'maxSessions', value: 2, limit: 3, label: 'maxSessions 2/3' },
      });
    const metrics = parseExposition(await (await fetch(`${http}/metrics`)).text());
    expect(sampleValue(metrics, 'openrtc_sessions_served', {})).toBe(2);
    expect(
      sampleValue(metrics, 'openrtc_recycle_condition_share', { condition: 'maxSessions' }),
    ).toBeCloseTo(2 / 3, 9);
    expect(sampleValue(metrics, 'openrtc_recycling', {})).toBe(0);
    expect((await fetch(`${http}/`)).status).toBe(200);
  }, 30_000);

  it('drains at the limit: 503 "recycling", WS_FULL, the live call finishes, exit 75', async () => {
    // A long call stays up while the third one ends and fires the recycle.
    expect((await dispatch(1, 4)).map((r) => r.status)).toEqual(['accepted']);
    expect((await dispatch(1, 0)).map((r) => r.status)).toEqual(['accepted']);
    const fired = await worker.waitForLog((l) => String(l.msg).startsWith('recycle: '));
    expect(fired).toMatchObject({
      msg: 'recycle: maxSessions 3/3; draining, then exiting with code 75 for a fresh process to take over',
      condition: 'maxSessions',
      value: 3,
      limit: 3,
      sessions_served: 3,
      live: 1,
    });
    expect(typeof fired.rss_mib).toBe('number');
    await expect
      .poll(
        async () => {
          const r = await fetch(`${http}/`);
          return [r.status, await r.text()];
        },
        { timeout: 10_000, interval: 100 },
      )
      .toEqual([503, 'recycling']);
    const info = (await (await fetch(`${http}/worker`)).json()) as Record<string, unknown>;
    expect(info).toMatchObject({ draining: true, load: { status: 'full' } });
    expect((await snapshot()).worker.recycle).toMatchObject({
      state: 'draining',
      nearest: { label: 'maxSessions 3/3' },
    });
    const metrics = parseExposition(await (await fetch(`${http}/metrics`)).text());
    expect(sampleValue(metrics, 'openrtc_recycling', {})).toBe(1);
    expect(await worker.exited).toBe(EXIT.recycle);
    expect(worker.logRecords().find((l) => l.msg === 'worker stopped')).toMatchObject({
      clean: true,
      forced_sessions: 0,
      recycled: true,
    });
    // One line says which condition fired.
    expect(worker.logRecords().filter((l) => String(l.msg).startsWith('recycle: '))).toHaveLength(
      1,
    );
  }, 30_000);
});
