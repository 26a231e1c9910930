// The CLI's fleet commands against a real Redis, with no worker socket: `top --fleet` and
// `tenant list --fleet` read the fleet; `tenant cap/trip/reset/reload --fleet` act on every
// worker through the store, here two real worker processes on one local dispatcher.
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DEV_CREDENTIALS } from '../../src/dispatcher/dev-defaults.js';
import { LocalDispatcher } from '../../src/dispatcher/local-dispatcher.js';
import type { DispatchOutcome } from '../../src/dispatcher/types.js';
import type { FleetView } from '../../src/introspection/fleet-view.js';
import type { Heartbeat } from '../../src/store/fleet-store.js';
import { RedisStore } from '../../src/store/redis-store.js';
import { until } from '../support/conditions.js';
import {
  freePort,
  OPENRTC_BIN,
  REPO_ROOT,
  startWorkerProcess,
  type DevWorker,
} from '../support/dev-worker.js';
import {
  redisAvailable,
  startRedisServer,
  type RedisServer,
} from '../support/redis/redis-server.js';
import { runCli } from '../support/run-cli.js';
import { hasTmux, TmuxPane } from '../support/tmux.js';

const available = redisAvailable();
/** Within the store's retention of a stopped heartbeat (10 minutes), longer than this file runs. */
const HEARTBEAT_LIVE_MS = 8 * 60_000;
/** Each CLI run starts a Node process: on a busy shared machine that alone can take seconds. */
const SLOW = 240_000;
const CONFIG = path.join(REPO_ROOT, 'test/fixtures/fleet-control.config.ts');

/** The CLI's environment with no Redis URL of its own: each test says where Redis is. */
function cliEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  if (!('OPENRTC_REDIS_URL' in extra)) delete env.OPENRTC_REDIS_URL;
  return env;
}

function heartbeat(worker: string, over: Partial<Heartbeat> = {}): Heartbeat {
  return {
    worker,
    name: 'eu-1',
    host: 'box-a',
    pid: 101,
    draining: false,
    sessionsByTenant: {},
    loopP99Ms: 3,
    ...over,
  };
}

describe.skipIf(!available)('top --fleet and tenant list --fleet, read from Redis', () => {
  let redis: RedisServer;
  let store: RedisStore;
  const prefix = `view-${randomUUID()}:`;
  const fleetArgs = () => ['--redis', redis.url, '--key-prefix', prefix];

  beforeAll(async () => {
    redis = await startRedisServer();
    store = await RedisStore.connect({ url: redis.url, keyPrefix: prefix });
    // Two workers' heartbeats: one live, one that stopped (its TTL runs out in 200 ms).
    await store.publishHeartbeat(
      heartbeat('eu-1-box-a-101', {
        sessionsByTenant: { acme: 2 },
        caps: { acme: 20, globex: 10 },
      }),
      // Live for the whole file, however long a loaded machine takes over it.
      HEARTBEAT_LIVE_MS,
    );
    await store.publishHeartbeat(
      heartbeat('eu-1-box-b-202', { host: 'box-b', pid: 202, caps: { acme: 20 } }),
      200,
    );
    for (const job of ['j1', 'j2'])
      await store.acquireLease({
        tenant: 'acme',
        leaseId: `eu-1-box-a-101:${job}`,
        tenantCap: 20,
        fleetCap: null,
        ttlMs: HEARTBEAT_LIVE_MS,
      });
    await store.setCapOverride('globex', 4, { worker: 'test', operator: 'test', source: 'cli' });
    await vi.waitFor(
      async () => {
        const stale = (await store.heartbeats()).filter((h) => h.stale);
        if (stale.length !== 1) throw new Error('the second heartbeat is not stale yet');
      },
      { timeout: 90_000, interval: 50 },
    );
  }, SLOW);

  afterAll(async () => {
    await store?.close();
    await redis?.stop();
  });

  it(
    '--json: live/cap per tenant, one row per worker, the stopped one marked, and the store',
    async () => {
      const r = await runCli(['top', '--fleet', '--json', ...fleetArgs()], cliEnv());
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const view = JSON.parse(r.stdout) as FleetView;
      expect(view.store).toMatchObject({
        kind: 'redis',
        url: redis.url,
        keyPrefix: prefix,
        state: 'ok',
      });
      expect(view.tenants).toEqual([
        { tenant: 'acme', live: 2, cap: 20, capOverride: null },
        { tenant: 'globex', live: 0, cap: 4, capOverride: 4 },
      ]);
      expect(view.workers.map((w) => [w.worker, w.host, w.pid, w.stopped])).toEqual([
        ['eu-1-box-a-101', 'box-a', 101, false],
        ['eu-1-box-b-202', 'box-b', 202, true],
      ]);
      expect(view.workers[0]).toMatchObject({
        name: 'eu-1',
        draining: false,
        sessionsByTenant: { acme: 2 },
        sessions: 2,
        loopP99Ms: 3,
      });
      expect(view.workers[1]!.heartbeatAgeMs).toBeGreaterThan(200);
      expect(view.totals).toEqual({ live: 2, workers: 2, stopped: 1, draining: 0 });
      expect(view.audit[0]).toMatchObject({
        action: 'cap',
        tenant: 'globex',
        detail: '4',
        source: 'cli',
      });
    },
    SLOW,
  );

  it(
    'tenant list --fleet --json is the same view (one reader), OPENRTC_REDIS_URL standing in for --redis',
    async () => {
      const [top, list] = await Promise.all([
        runCli(
          ['top', '--fleet', '--json', '--key-prefix', prefix],
          cliEnv({ OPENRTC_REDIS_URL: redis.url }),
        ),
        runCli(
          ['tenant', 'list', '--fleet', '--json', '--key-prefix', prefix],
          cliEnv({ OPENRTC_REDIS_URL: redis.url }),
        ),
      ]);
      expect([top.code, list.code]).toEqual([0, 0]);
      const a = JSON.parse(top.stdout) as FleetView;
      const b = JSON.parse(list.stdout) as FleetView;
      expect(b.tenants).toEqual(a.tenants);
      expect(b.workers.map((w) => [w.worker, w.stopped])).toEqual(
        a.workers.map((w) => [w.worker, w.stopped]),
      );
      expect(b.totals).toEqual(a.totals);
    },
    SLOW,
  );

  it(
    'the plain frame (a pipe, --once, tenant list --fleet) shows the same rows',
    async () => {
      const runs = [
        ['top', '--fleet', ...fleetArgs()],
        ['top', '--fleet', '--once', '--tenant', 'acme', ...fleetArgs()],
        ['tenant', 'list', '--fleet', ...fleetArgs()],
      ];
      const results = await Promise.all(runs.map((args) => runCli(args, cliEnv())));
      for (const [i, r] of results.entries()) {
        expect(r.code, runs[i]!.join(' ')).toBe(0);
        expect(r.stdout).toContain('openrtc fleet');
        expect(r.stdout).toMatch(/^acme\s+2\/20/m);
        expect(r.stdout).toMatch(/box-b\s+202\s+0\s+-\s+HEARTBEAT STOPPED/);
        expect(r.stdout).not.toContain('\u001b[');
      }
    },
    SLOW,
  );

  it.skipIf(!hasTmux)(
    'live in a real terminal (tmux): the fleet on the alternate screen, t narrows it, q gives the shell back',
    async () => {
      const command = `echo SHELL_BEFORE_TOP; ${process.execPath} ${OPENRTC_BIN} top --fleet --refresh-rate 4 ${fleetArgs().join(' ')}`;
      const pane = TmuxPane.start(`openrtc-fleet-top-${process.pid}`, command, {
        columns: 100,
        rows: 24,
      });
      try {
        const first = await pane.waitFor((s) => s.includes('HEARTBEAT STOPPED'), 'the fleet view', {
          timeoutMs: 90_000,
        });
        expect(pane.alternateScreen).toBe(true);
        const lines = first.replace(/\n$/, '').split('\n');
        expect(lines).toHaveLength(24);
        // 100 columns do not hold the whole first line: the identity is cut, the store state never.
        expect(lines[0]).toContain(`openrtc fleet  ${redis.url} prefix `);
        expect(lines[0]).toMatch(/ store ok \(read in [\d.]+ms\)\s*$/);
        expect(first).toMatch(/^acme\s+2\/20/m);
        expect(lines.at(-1)).toContain('q quit');
        pane.keys('t');
        const acme = await pane.waitFor((s) => s.includes('tenant acme'), 'the acme filter', {
          timeoutMs: 30_000,
        });
        expect(acme).not.toMatch(/^globex/m);
        pane.keys('q');
        const after = await pane.waitFor((s) => s.includes('EXITED=0'), 'a clean exit after q', {
          timeoutMs: 30_000,
        });
        expect(pane.alternateScreen).toBe(false);
        expect(after).toContain('SHELL_BEFORE_TOP');
      } finally {
        pane.kill();
      }
    },
    SLOW,
  );

  it(
    'Redis unreachable: one clear line naming the host, never the password, and exit 1',
    async () => {
      const port = await freePort();
      const url = `redis://:s3cret-pw@127.0.0.1:${port}`;
      const runs = [
        ['top', '--fleet', '--json', '--redis', url],
        ['tenant', 'list', '--fleet', '--redis', url],
        ['tenant', 'cap', 'acme', '3', '--fleet', '--redis', url],
        ['tenant', 'trip', 'acme', '--fleet', '--redis', url],
        ['tenant', 'reload', '--all', '--fleet', '--redis', url],
      ];
      const results = await Promise.all(runs.map((args) => runCli(args, cliEnv())));
      for (const [i, r] of results.entries()) {
        expect(r.code, runs[i]!.join(' ')).toBe(1);
        expect(r.stdout).toBe('');
        const lines = r.stderr.trim().split('\n');
        expect(lines).toHaveLength(1);
        expect(lines[0]).toContain(
          `cannot reach the fleet store: Redis at redis://127.0.0.1:${port} is unreachable`,
        );
        expect(r.stderr).not.toContain('s3cret-pw');
      }
    },
    SLOW,
  );

  it(
    'bad invocations are usage errors (exit 2) that touch nothing',
    async () => {
      const noUrl = await runCli(['top', '--fleet', '--json'], cliEnv());
      expect(noUrl.code).toBe(2);
      expect(noUrl.stderr).toContain(
        '--fleet reads the fleet from Redis: give --redis URL or set OPENRTC_REDIS_URL',
      );
      const notRedis = await runCli(['tenant', 'list', '--fleet', '--redis', 'http://x'], cliEnv());
      expect(notRedis.code).toBe(2);
      expect(notRedis.stderr).toContain('--redis: expected a redis:// or rediss:// URL');
      const both = await runCli(
        ['tenant', 'reset', 'acme', '--fleet', '--socket', '/tmp/x.sock', ...fleetArgs()],
        cliEnv(),
      );
      expect(both.code).toBe(2);
      expect(both.stderr).toContain('--socket names one worker');
      const sort = await runCli(['top', '--fleet', '--sort', 'cpu', ...fleetArgs()], cliEnv());
      expect(sort.code).toBe(2);
      const cap = await runCli(
        ['tenant', 'cap', 'acme', '-3', '--fleet', ...fleetArgs()],
        cliEnv(),
      );
      expect(cap.code).toBe(2);
      const id = await runCli(
        ['tenant', 'trip', 'bad tenant!', '--fleet', ...fleetArgs()],
        cliEnv(),
      );
      expect(id.code).toBe(2);
      expect((await store.capOverrides()).get('acme')).toBeUndefined();
    },
    SLOW,
  );
});

describe.skipIf(!available)('tenant cap/trip/reset/reload --fleet on two real workers', () => {
  let redis: RedisServer;
  let dispatcher: LocalDispatcher;
  let store: RedisStore;
  const workers: DevWorker[] = [];
  const prefix = `ctl-${randomUUID()}:`;
  const fleet = (...args: string[]) =>
    runCli([...args, '--fleet', '--redis', redis.url, '--key-prefix', prefix], cliEnv());

  beforeAll(async () => {
    redis = await startRedisServer();
    store = await RedisStore.connect({ url: redis.url, keyPrefix: prefix });
    dispatcher = await LocalDispatcher.start({ port: 0, ...DEV_CREDENTIALS });
    let registered = 0;
    dispatcher.on('worker_registered', () => (registered += 1));
    const env = {
      LIVEKIT_URL: dispatcher.url,
      LIVEKIT_API_KEY: DEV_CREDENTIALS.apiKey,
      LIVEKIT_API_SECRET: DEV_CREDENTIALS.apiSecret,
      OPENRTC_REDIS_URL: redis.url,
      FLEET_KEY_PREFIX: prefix,
    };
    for (let i = 0; i < 2; i++)
      workers.push(
        await startWorkerProcess({
          args: ['start', '--config', CONFIG, '--log-format', 'json'],
          env,
        }),
      );
    await until('2 workers registered', () => registered === 2, 180_000);
    await vi.waitFor(
      async () => {
        if ((await store.heartbeats()).filter((h) => !h.stale).length !== 2)
          throw new Error('not every worker has published a heartbeat');
      },
      { timeout: 90_000, interval: 100 },
    );
  }, 2 * SLOW);

  afterAll(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    await dispatcher?.close();
    await store?.close();
    await redis?.stop();
  });

  const dispatch = (tenant: string) =>
    dispatcher.dispatch({ agentName: 'hold', metadata: JSON.stringify({ tenant }) });

  async function endAll(outcomes: DispatchOutcome[]): Promise<void> {
    for (const o of outcomes) if (o.status === 'assigned') dispatcher.terminate(o.jobId);
    await vi.waitFor(
      async () => {
        const active = [...(await store.leaseCounts()).values()].reduce((a, b) => a + b, 0);
        if (active !== 0) throw new Error(`${active} leases still held`);
      },
      { timeout: 90_000, interval: 100 },
    );
  }

  /** One worker's own view of a tenant, through its socket. */
  async function tenantOn(w: DevWorker, tenant: string) {
    const r = await runCli(['tenant', 'show', tenant, '--json'], w.env);
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as {
      stats: { cap: number | null; rejected: Record<string, number> } | null;
      config: { cached: boolean };
    };
  }

  const loaderCalls = (w: DevWorker, tenant: string) =>
    w.logRecords().filter((r) => r.fixture === 'tenant_loader' && r.tenant === tenant).length;

  it(
    'cap: set in Redis from the CLI, every worker applies it, the fleet holds it; --clear goes back',
    async () => {
      const set = await fleet('tenant', 'cap', 'acme', '1');
      expect(set.stderr).toBe('');
      expect(set.code).toBe(0);
      expect(set.stdout).toBe('acme: cap 5 -> 1\n');
      await vi.waitFor(
        async () => {
          for (const w of workers) expect((await tenantOn(w, 'acme')).stats?.cap).toBe(1);
        },
        { timeout: 90_000, interval: 100 },
      );
      const outcomes = await Promise.all([dispatch('acme'), dispatch('acme'), dispatch('acme')]);
      const fellBack = workers.flatMap((w) =>
        w.logs.filter((l) => l.includes('did not decide in time')),
      );
      expect(fellBack).toEqual([]);
      expect(outcomes.filter((o) => o.status === 'assigned')).toHaveLength(1);
      expect(
        outcomes.filter((o) => o.status === 'rejected' && o.reason === 'tenant_capacity'),
      ).toHaveLength(2);
      await endAll(outcomes);

      const clear = await fleet('tenant', 'cap', 'acme', '--clear');
      expect(clear.stdout).toBe('acme: cap 1 -> 5\n');
      await vi.waitFor(
        async () => {
          for (const w of workers) expect((await tenantOn(w, 'acme')).stats?.cap).toBe(5);
        },
        { timeout: 90_000, interval: 100 },
      );
    },
    2 * SLOW,
  );

  it(
    'trip: every worker rejects the tenant with breaker_open; reset: it is served again',
    async () => {
      const trip = await fleet('tenant', 'trip', 'acme', '--for', '10m');
      expect(trip.code).toBe(0);
      const held = /^acme: breaker closed -> open, (\d+)s left \(manual\)\n$/.exec(trip.stdout);
      expect(held, trip.stdout).not.toBeNull();
      expect(Number(held![1])).toBeGreaterThan(590);
      // The local dispatcher offers a rejected job to the next worker, as LiveKit does: both say no.
      const rejected = await dispatch('acme');
      expect(rejected).toMatchObject({ status: 'rejected', reason: 'breaker_open' });
      for (const w of workers)
        expect((await tenantOn(w, 'acme')).stats?.rejected.breaker_open).toBeGreaterThanOrEqual(1);
      // Another tenant is untouched.
      const other = await dispatch('globex');
      expect(other.status).toBe('assigned');

      const reset = await fleet('tenant', 'reset', 'acme');
      expect(reset.code).toBe(0);
      expect(reset.stdout).toBe('acme: breaker open -> closed\n');
      const served = await dispatch('acme');
      expect(served.status).toBe('assigned');
      await endAll([other, served]);
    },
    2 * SLOW,
  );

  it(
    'reload: every worker drops the tenant’s cached config, and loads it again on its next job',
    async () => {
      // Jobs until both workers have loaded initech's config once (the dispatcher picks at random).
      const outcomes: DispatchOutcome[] = [];
      for (let i = 0; i < 40 && workers.some((w) => loaderCalls(w, 'initech') === 0); i++) {
        const o = await dispatch('initech');
        outcomes.push(o);
        if (o.status === 'assigned') dispatcher.terminate(o.jobId);
      }
      await endAll(outcomes);
      expect(workers.map((w) => loaderCalls(w, 'initech'))).toEqual([1, 1]);
      for (const w of workers) expect((await tenantOn(w, 'initech')).config.cached).toBe(true);

      const reload = await fleet('tenant', 'reload', 'initech');
      expect(reload.code).toBe(0);
      expect(reload.stdout).toBe(
        'initech: cached config dropped; the next session loads it fresh\n',
      );
      await vi.waitFor(
        async () => {
          for (const w of workers) expect((await tenantOn(w, 'initech')).config.cached).toBe(false);
        },
        { timeout: 90_000, interval: 100 },
      );
      const again: DispatchOutcome[] = [];
      for (let i = 0; i < 40 && workers.some((w) => loaderCalls(w, 'initech') < 2); i++) {
        const o = await dispatch('initech');
        again.push(o);
        if (o.status === 'assigned') dispatcher.terminate(o.jobId);
      }
      await endAll(again);
      expect(workers.map((w) => loaderCalls(w, 'initech'))).toEqual([2, 2]);

      const all = await fleet('tenant', 'reload', '--all');
      expect(all.stdout).toBe('all cached tenant configs dropped\n');
    },
    2 * SLOW,
  );

  it(
    'an unknown tenant is refused as on one worker (exit 1), and every action is audited as the CLI’s',
    async () => {
      const unknown = await fleet('tenant', 'cap', 'nobody-knows', '3');
      expect(unknown.code).toBe(1);
      expect(unknown.stderr).toContain('unknown tenant "nobody-knows"');
      expect((await store.capOverrides()).has('nobody-knows')).toBe(false);

      const audit = await store.auditLog(50);
      const fromCli = audit.filter((a) => a.source === 'cli');
      expect(fromCli.map((a) => `${a.action} ${a.tenant ?? '*'}`)).toEqual(
        expect.arrayContaining([
          'cap acme',
          'trip acme',
          'reset acme',
          'reload initech',
          'reload *',
        ]),
      );
      const user = os.userInfo().username;
      for (const a of fromCli) {
        expect(a.operator).toContain(user);
        expect(a.worker).toContain(`cli@${os.hostname()}`);
      }
    },
    2 * SLOW,
  );
});
