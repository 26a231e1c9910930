// Three worker processes on one local dispatcher and one real Redis, a tenant capped at 20:
// 1,000 requests at once are accepted exactly 20 times fleet-wide, and again after those end.
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_CREDENTIALS } from '../../src/dispatcher/dev-defaults.js';
import { LocalDispatcher } from '../../src/dispatcher/local-dispatcher.js';
import type { DispatchOutcome } from '../../src/dispatcher/types.js';
import { until } from '../support/conditions.js';
import { REPO_ROOT, startWorkerProcess, type DevWorker } from '../support/dev-worker.js';
import {
  redisAvailable,
  startRedisServer,
  type RedisServer,
} from '../support/redis/redis-server.js';

const available = redisAvailable();
const CONFIG = path.join(REPO_ROOT, 'test/fixtures/fleet.config.ts');

describe.skipIf(!available)('fleet exactness on the local dispatcher', () => {
  let redis: RedisServer;
  let dispatcher: LocalDispatcher;
  const workers: DevWorker[] = [];

  beforeAll(async () => {
    redis = await startRedisServer();
    dispatcher = await LocalDispatcher.start({ port: 0, ...DEV_CREDENTIALS });
    let registered = 0;
    dispatcher.on('worker_registered', () => (registered += 1));
    const env = {
      LIVEKIT_URL: dispatcher.url,
      LIVEKIT_API_KEY: DEV_CREDENTIALS.apiKey,
      LIVEKIT_API_SECRET: DEV_CREDENTIALS.apiSecret,
      OPENRTC_REDIS_URL: redis.url,
      FLEET_KEY_PREFIX: `x-${randomUUID()}:`,
    };
    for (let i = 0; i < 3; i++)
      workers.push(
        await startWorkerProcess({
          args: ['start', '--config', CONFIG, '--log-format', 'json'],
          env,
        }),
      );
    await until(
      '3 workers registered',
      () => registered === 3,
      60_000,
      () => workers.map((w) => w.logs.slice(-5).join('\n')).join('\n---\n'),
    );
  }, 90_000);

  afterAll(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    await dispatcher?.close();
    await redis?.stop();
  });

  async function burst(): Promise<DispatchOutcome[]> {
    const metadata = JSON.stringify({ tenant: 'acme' });
    return Promise.all(
      Array.from({ length: 1_000 }, () => dispatcher.dispatch({ agentName: 'hold', metadata })),
    );
  }

  it('accepts exactly 20 of 1,000 fleet-wide, rejects 980 as tenant_capacity, and 20 again after they end', async () => {
    const first = await burst();
    const fellBack = workers.flatMap((w) =>
      w.logs.filter((l) => l.includes('did not decide in time')),
    );
    expect(fellBack).toEqual([]);
    const assigned = first.filter((o) => o.status === 'assigned');
    expect(assigned).toHaveLength(20);
    expect(
      first.filter((o) => o.status === 'rejected' && o.reason === 'tenant_capacity'),
    ).toHaveLength(980);
    // Spread as LiveKit spreads them: more than one worker took some.
    expect(
      new Set(assigned.map((o) => (o.status === 'assigned' ? o.workerId : ''))).size,
    ).toBeGreaterThan(1);
    for (const o of assigned) dispatcher.terminate(o.jobId);
    await Promise.all(
      assigned.map((o) => dispatcher.waitForJob(o.jobId, (j) => j.state === 'success', 20_000)),
    );
    // A slot frees when the session's teardown has released its lease: wait for all 20.
    await expect
      .poll(
        async () => {
          const snaps = await Promise.all(workers.map((w) => snapshotActive(w)));
          return snaps.reduce((a, b) => a + b, 0);
        },
        { timeout: 20_000, interval: 200 },
      )
      .toBe(0);
    const second = await burst();
    expect(second.filter((o) => o.status === 'assigned')).toHaveLength(20);
    expect(
      second.filter((o) => o.status === 'rejected' && o.reason === 'tenant_capacity'),
    ).toHaveLength(980);
  }, 120_000);
});

async function snapshotActive(w: DevWorker): Promise<number> {
  const { runCli } = await import('../support/run-cli.js');
  const r = await runCli(['top', '--json'], w.env);
  const snap = JSON.parse(r.stdout) as { worker: { live: number; reserved: number } };
  return snap.worker.live + snap.worker.reserved;
}
