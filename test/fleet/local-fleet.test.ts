// `openrtc dev --workers 3 --redis URL`: one command for a local fleet. Three workers register
// with the supervisor's one local dispatcher and share a tenant cap through that Redis; SIGTERM
// ends everything with exit 0. (A config naming the memory store gets the Redis store from
// --redis too: test/supervisor/worker-count.test.ts, and the runbooks' fleet steps on the demo.)
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { FleetView } from '../../src/introspection/fleet-view.js';
import { isAlive, until } from '../support/conditions.js';
import path from 'node:path';
import { freePort, REPO_ROOT, startWorkerProcess, type DevWorker } from '../support/dev-worker.js';
import {
  redisAvailable,
  startRedisServer,
  type RedisServer,
} from '../support/redis/redis-server.js';
import { runCli } from '../support/run-cli.js';

const available = redisAvailable();
const CONFIG = path.join(REPO_ROOT, 'test/fixtures/local-fleet.config.ts');

describe.skipIf(!available)('openrtc dev --workers 3 --redis URL', () => {
  let redis: RedisServer;
  let fleet: DevWorker;

  beforeAll(async () => {
    redis = await startRedisServer();
    const port = await freePort();
    fleet = await startWorkerProcess({
      args: [
        'dev',
        '--config',
        CONFIG,
        '--workers',
        '3',
        '--redis',
        redis.url,
        '--port',
        String(port),
        '--log-format',
        'json',
      ],
      port,
      readyTimeoutMs: 180_000,
    });
  }, 240_000);

  afterAll(async () => {
    await fleet?.stop();
    await redis?.stop();
  });

  const fleetView = async (): Promise<FleetView> => {
    const r = await runCli(
      ['tenant', 'list', '--fleet', '--json', '--redis', redis.url],
      fleet.env,
    );
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as FleetView;
  };

  it('three workers on one dispatcher hold a tenant cap across them, and SIGTERM ends all with 0', async () => {
    const registered = await until(
      'three workers registered with the one local dispatcher',
      () => {
        const ids = new Set(
          fleet
            .logRecords()
            .filter((r) => r.component === 'dispatcher' && r.msg === 'worker registered')
            .map((r) => r.worker_id),
        );
        return ids.size === 3 && ids;
      },
      240_000,
      () => fleet.logs.slice(-20).join('\n'),
    );
    expect(registered.size).toBe(3);
    const pids = await vi.waitFor(
      async () => {
        const view = await fleetView();
        const live = view.workers.filter((w) => !w.stopped);
        expect(live).toHaveLength(3);
        return live.map((w) => w.pid);
      },
      { timeout: 90_000, interval: 200 },
    );
    expect(new Set(pids).size).toBe(3);

    // globex is capped at 2: of 6 calls at once, exactly 2 run, fleet-wide.
    // No --url: `dispatch` finds the one dispatcher every worker reports.
    const r = await runCli(
      [
        'dispatch',
        '--agent',
        'demo',
        '--tenant',
        'globex',
        '--count',
        '6',
        '--duration',
        '45',
        '--json',
      ],
      fleet.env,
    );
    expect(r.code, r.stderr).toBe(1);
    const results = JSON.parse(r.stdout) as { status: string; reason?: string }[];
    const fellBack = fleet.logs.filter((l) => l.includes('did not decide in time'));
    expect(fellBack).toEqual([]);
    expect(results.filter((x) => x.status === 'accepted')).toHaveLength(2);
    expect(results.filter((x) => x.reason === 'tenant_capacity')).toHaveLength(4);
    const running = await fleetView();
    expect(running.tenants.find((t) => t.tenant === 'globex')).toMatchObject({ live: 2, cap: 2 });
    // What the workers themselves run, from their heartbeats: 2 globex sessions in all.
    await vi.waitFor(
      async () => {
        const view = await fleetView();
        const sessions = view.workers.reduce((n, w) => n + (w.sessionsByTenant.globex ?? 0), 0);
        expect(sessions).toBe(2);
      },
      { timeout: 90_000, interval: 200 },
    );
    // The calls (long enough to outlast a slow CLI run on a busy machine) end by themselves; then a stop drains nothing and exits 0.
    await vi.waitFor(async () => expect((await fleetView()).totals.live).toBe(0), {
      timeout: 150_000,
      interval: 250,
    });
    fleet.child.kill('SIGTERM');
    expect(await fleet.exited).toBe(0);
    for (const pid of pids) await until(`worker ${pid} to exit`, () => !isAlive(pid), 10_000);
  }, 480_000);
});
