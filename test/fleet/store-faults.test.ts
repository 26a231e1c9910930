// The fleet store's faults against real worker processes and a real redis-server: each is
// answered, and each shows in a log line, the snapshot's `store` and `top`.
// (In-process: test/admission/fleet-admission.test.ts covers the stall, the dead worker's leases
// and the stalled loop.)
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterEach, beforeAll, afterAll, describe, expect, it } from 'vitest';
import { DEV_CREDENTIALS } from '../../src/dispatcher/dev-defaults.js';
import { LocalDispatcher } from '../../src/dispatcher/local-dispatcher.js';
import { until } from '../support/conditions.js';
import { REPO_ROOT, startWorkerProcess, type DevWorker } from '../support/dev-worker.js';
import { workerSnapshot } from '../support/livekit/worker.js';
import {
  redisAvailable,
  startRedisServer,
  type RedisServer,
} from '../support/redis/redis-server.js';
import { runCli } from '../support/run-cli.js';
import { scratchDir } from '../support/scratch-dir.js';

const available = redisAvailable();
const CONFIG = path.join(REPO_ROOT, 'test/fixtures/fleet-faults.config.ts');
/** As the fixture sets it. */
const RENEW_MS = 1_000;
const ACME = JSON.stringify({ tenant: 'acme' });

describe.skipIf(!available)('fleet store faults, real workers and a real Redis', () => {
  let redis: RedisServer;
  const cleanups: (() => Promise<unknown>)[] = [];
  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(async () => {
    await redis?.stop();
  });
  let redisDown = false;
  const stopRedis = async () => {
    redisDown = true;
    await redis.kill();
  };
  const startRedis = async () => {
    await redis.start();
    redisDown = false;
  };
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
    // A test that stopped Redis leaves it running for the next.
    if (redisDown) await startRedis();
  }, 60_000);

  async function dispatcher(): Promise<LocalDispatcher> {
    const d = await LocalDispatcher.start({ port: 0, ...DEV_CREDENTIALS });
    cleanups.push(() => d.close());
    return d;
  }

  function workerEnv(d: LocalDispatcher, prefix: string, extra: NodeJS.ProcessEnv = {}) {
    return {
      LIVEKIT_URL: d.url,
      LIVEKIT_API_KEY: DEV_CREDENTIALS.apiKey,
      LIVEKIT_API_SECRET: DEV_CREDENTIALS.apiSecret,
      OPENRTC_REDIS_URL: redis.url,
      FLEET_KEY_PREFIX: prefix,
      ...extra,
    };
  }

  async function worker(env: NodeJS.ProcessEnv): Promise<DevWorker> {
    const w = await startWorkerProcess({
      args: ['start', '--config', CONFIG, '--log-format', 'json'],
      env,
    });
    cleanups.push(() => w.stop());
    return w;
  }

  /** The first log record after the `from`-th that matches. */
  const logAfter = (w: DevWorker, from: number, msg: RegExp, what: string) =>
    until(
      what,
      () =>
        w
          .logRecords()
          .slice(from)
          .find((r) => typeof r.msg === 'string' && msg.test(r.msg)),
      15_000,
      () => w.logs.slice(-10).join('\n'),
    );

  async function leasesOf(prefix: string, tenant: string): Promise<Map<string, number>> {
    const client = new Redis(redis.url);
    try {
      const flat = await client.zrange(`${prefix}leases:t:${tenant}`, 0, '-1', 'WITHSCORES');
      const out = new Map<string, number>();
      for (let i = 0; i + 1 < flat.length; i += 2) out.set(flat[i]!, Number(flat[i + 1]));
      return out;
    } finally {
      client.disconnect();
    }
  }

  async function storeState(w: DevWorker) {
    return (await workerSnapshot(w)).worker.store;
  }

  it('Redis unreachable at start: one clear line naming it, never its password, and exit 1', async () => {
    await stopRedis();
    const d = await dispatcher();
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...workerEnv(d, `u-${randomUUID()}:`),
      OPENRTC_REDIS_URL: `redis://:hunter2@127.0.0.1:${redis.port}`,
      OPENRTC_RUNTIME_DIR: scratchDir('ortc-fleet-'),
    };
    const r = await runCli(['start', '--config', CONFIG, '--log-format', 'json'], env);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(
        new RegExp(
          `^openrtc: worker failed to start: Redis at redis://127\\.0\\.0\\.1:${redis.port} is unreachable: `,
        ),
      ),
    ]);
    expect(r.stdout + r.stderr).not.toContain('hunter2');
  }, 120_000);

  it("Redis unreachable at start with onUnavailableAtStart 'degraded': starts degraded, decides locally, joins once Redis answers", async () => {
    await stopRedis();
    const prefix = `d-${randomUUID()}:`;
    const d = await dispatcher();
    const w = await worker(workerEnv(d, prefix, { FLEET_ON_UNAVAILABLE_AT_START: 'degraded' }));
    expect(w.logRecords().find((r) => String(r.msg).includes('starting degraded'))).toMatchObject({
      store: 'degraded',
      policy: 'local',
    });
    expect(await storeState(w)).toMatchObject({
      kind: 'redis',
      state: 'degraded',
      policy: 'local',
    });
    expect(await d.dispatch({ agentName: 'hold', metadata: ACME })).toMatchObject({
      status: 'assigned',
    });

    const from = w.logRecords().length;
    await startRedis();
    await logAfter(w, from, /^fleet store ok/, 'the store coming back');
    expect(await storeState(w)).toMatchObject({ state: 'ok' });
    // The session accepted without Redis is counted fleet-wide at the next renewal.
    await expect.poll(async () => (await leasesOf(prefix, 'acme')).size).toBe(1);
  }, 120_000);

  for (const policy of ['local', 'reject'] as const) {
    it(`Redis lost while running with '${policy}': answered, logged, in the snapshot and in top`, async () => {
      const prefix = `l-${randomUUID()}:`;
      const d = await dispatcher();
      const w = await worker(
        workerEnv(d, prefix, { FLEET_ON_UNAVAILABLE: policy, FLEET_ACME_CAP: '2' }),
      );
      expect(await d.dispatch({ agentName: 'hold', metadata: ACME })).toMatchObject({
        status: 'assigned',
      });

      const from = w.logRecords().length;
      await stopRedis();
      const line = await logAfter(w, from, /^fleet store degraded/, 'the store degraded line');
      expect(line).toMatchObject({ store: 'degraded', policy });
      expect(await storeState(w)).toMatchObject({ kind: 'redis', state: 'degraded', policy });
      const top = await runCli(['top', '--once'], w.env);
      expect(top.stdout).toContain(`STORE DEGRADED (${policy})`);

      const more = await Promise.all(
        [0, 1].map(() => d.dispatch({ agentName: 'hold', metadata: ACME })),
      );
      if (policy === 'local') {
        // This process's own count (1 running) against the configured cap of 2.
        expect(more.map((o) => o.status).sort()).toEqual(['assigned', 'rejected']);
        expect(more.find((o) => o.status === 'rejected')).toMatchObject({
          reason: 'tenant_capacity',
        });
      } else {
        expect(more.map((o) => (o.status === 'rejected' ? o.reason : o.status))).toEqual([
          'store_unavailable',
          'store_unavailable',
        ]);
      }

      const back = w.logRecords().length;
      await startRedis();
      await logAfter(w, back, /^fleet store ok/, 'the store coming back');
      expect(await storeState(w)).toMatchObject({ state: 'ok' });
      expect((await runCli(['top', '--once'], w.env)).stdout).toContain('store redis ok');
      // Every session this worker runs holds its lease again, and nothing else does.
      const running = policy === 'local' ? 2 : 1;
      await expect
        .poll(async () => (await leasesOf(prefix, 'acme')).size, { timeout: 10_000 })
        .toBe(running);
      expect((await workerSnapshot(w)).sessions).toHaveLength(running);
    }, 120_000);
  }

  it('Redis restarted with its data lost: every worker re-asserts within one renewal interval, nothing counted twice', async () => {
    const prefix = `r-${randomUUID()}:`;
    // Two workers on their own dispatchers, sharing one Redis: each holds a known number of calls.
    const held = [3, 2];
    const ws: DevWorker[] = [];
    for (const n of held) {
      const d = await dispatcher();
      const w = await worker(workerEnv(d, prefix));
      ws.push(w);
      for (let i = 0; i < n; i++)
        expect(await d.dispatch({ agentName: 'hold', metadata: ACME })).toMatchObject({
          status: 'assigned',
        });
    }
    const before = await leasesOf(prefix, 'acme');
    expect(before.size).toBe(5);
    // An operator's trip and cap, through the store as `tenant … --fleet` sets them. A worker
    // reads the breakers after the overrides in each renewal, so one that applies the cap has
    // read the trip.
    const fleetCli = (...args: string[]) =>
      runCli(
        ['tenant', ...args, '--fleet', '--redis', redis.url, '--key-prefix', prefix],
        ws[0]!.env,
      );
    const trip = await fleetCli('trip', 'acme', '--for', '10m');
    expect(trip.code, trip.stderr).toBe(0);
    const cap = await fleetCli('cap', 'acme', '7');
    expect(cap.code, cap.stderr).toBe(0);
    const capOf = async (w: DevWorker) =>
      (await workerSnapshot(w)).tenants.find((t) => t.tenant === 'acme')?.cap;
    for (const w of ws) await expect.poll(() => capOf(w), { timeout: 10_000 }).toBe(7);

    const from = ws.map((w) => w.logRecords().length);
    await redis.restart();
    for (const [i, w] of ws.entries()) {
      const ok = await logAfter(w, from[i]!, /^fleet store ok/, 'the store coming back');
      const reasserted = await logAfter(w, from[i]!, /^re-asserted/, 'its leases re-asserted');
      expect(reasserted).toMatchObject({ count: held[i] });
      // Timed by the worker's own clock: from Redis answering again to its leases back in.
      expect(Number(reasserted.time) - Number(ok.time)).toBeLessThanOrEqual(RENEW_MS + 500);
    }
    const after = await leasesOf(prefix, 'acme');
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
    // Renewed again by both workers (every expiry moved on): still the same 5, none twice.
    await expect
      .poll(async () => {
        const now = await leasesOf(prefix, 'acme');
        return [...after].every(([id, expiry]) => (now.get(id) ?? 0) > expiry);
      })
      .toBe(true);
    expect([...(await leasesOf(prefix, 'acme')).keys()].sort()).toEqual([...before.keys()].sort());
    const counts = await Promise.all(
      ws.map(async (w) => (await workerSnapshot(w)).sessions.length),
    );
    expect(counts).toEqual(held);
    // The cap came back with them, written back by one of the workers, and both still apply it.
    const written = ws.flatMap((w) =>
      w
        .logRecords()
        .filter((r) => /^the fleet store lost its data: wrote back/.test(String(r.msg))),
    );
    expect(written.map((r) => [r.overrides, r.breakers])).toEqual([[1, 1]]);
    const client = new Redis(redis.url, { lazyConnect: true });
    await client.connect();
    try {
      expect(await client.hgetall(`${prefix}caps`)).toEqual({ acme: '7' });
      // Still open by hand, for what was left of its ten minutes.
      const breaker = await client.hgetall(`${prefix}breaker:acme`);
      expect(breaker).toMatchObject({ state: 'open', manual: '1', openForMs: '600000' });
      expect(await client.pttl(`${prefix}breaker:acme`)).toBeGreaterThan(500_000);
    } finally {
      client.disconnect();
    }
    for (const w of ws) expect(await capOf(w)).toBe(7);
  }, 120_000);
});
