// Admission in fleet mode against a real redis-server: three admissions (three workers' worth)
// sharing one Redis, the store faults, and the lease lifecycle.
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Admission } from '../../src/admission/admission.js';
import { systemClock } from '../../src/clock/clock.js';
import { FleetAdmission, type UnavailablePolicy } from '../../src/admission/fleet-admission.js';
import type { AdmissionDecision } from '../../src/admission/types.js';
import { RedisStore } from '../../src/store/redis-store.js';
import { TenantConfigResolver } from '../../src/tenancy/config-resolver.js';
import {
  redisAvailable,
  startRedisServer,
  type RedisServer,
} from '../support/redis/redis-server.js';

const available = redisAvailable();
const STORE_TIMEOUT_MS = 250;
const breaker = {
  enabled: true,
  failureRatio: 0.5,
  minSamples: 4,
  windowMs: 60_000,
  cooldownMs: 60_000,
  halfOpenProbes: 1,
};

describe.skipIf(!available)('fleet admission on a real Redis', () => {
  let redis: RedisServer;
  const cleanups: (() => Promise<void> | void)[] = [];
  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(async () => {
    await redis?.stop();
  });
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  let jobs = 0;
  const job = (tenant: string) => ({
    jobId: `J${++jobs}`,
    agentName: 'demo',
    metadata: JSON.stringify({ tenant }),
  });

  async function worker(
    keyPrefix: string,
    o: {
      cap?: number;
      policy?: UnavailablePolicy;
      ttlMs?: number;
      renewMs?: number;
      local?: number;
      storeTimeoutMs?: number;
    } = {},
  ) {
    const timeoutMs = o.storeTimeoutMs ?? STORE_TIMEOUT_MS;
    const store = await RedisStore.connect({ url: redis.url, keyPrefix, timeoutMs });
    const events: string[] = [];
    const fleet = new FleetAdmission({
      store,
      workerId: `w-${randomUUID().slice(0, 8)}`,
      clock: systemClock,
      leaseTtlMs: o.ttlMs ?? 15_000,
      renewIntervalMs: o.renewMs ?? 5_000,
      storeTimeoutMs: timeoutMs,
      fleetCap: null,
      onUnavailable: o.policy ?? 'local',
      events: {
        onLeaseLost: (l) => events.push(`lost:${l.leaseId}`),
        onReasserted: (e) => events.push(`reasserted:${e.count}`),
        onStateRestored: (e) => events.push(`restored:${e.overrides}/${e.breakers}`),
        onFallback: (e) => events.push(`fallback:${e.policy}`),
      },
    });
    const admission = new Admission({
      clock: systemClock,
      resolver: new TenantConfigResolver({
        source: {},
        clock: systemClock,
        ttlMs: 60_000,
        missTtlMs: 5_000,
        loadTimeoutMs: 1_000,
      }),
      maxConcurrentSessions: o.local ?? null,
      tenants: {
        metadataKey: 'tenant',
        defaultTenant: 'default',
        requireConfig: false,
        maxSessions: { acme: o.cap ?? 20 },
      },
      breaker,
      assignmentTimeoutMs: 60_000,
      fleet,
    });
    cleanups.push(
      () => fleet.stop(),
      () => store.close(),
    );
    return { admission, fleet, store, events };
  }

  const accepted = (ds: AdmissionDecision[]) =>
    ds.filter((d): d is Extract<AdmissionDecision, { accept: true }> => d.accept);

  it('accepts exactly the cap fleet-wide from 1,000 requests at once over 3 workers, and again after they end', async () => {
    const prefix = `x-${randomUUID()}:`;
    // 2,000 store calls queued at once on a shared 2-core machine: a timeout that fits the burst,
    // and no decision may have fallen back to local counts.
    const o = { storeTimeoutMs: 5_000 };
    const ws = await Promise.all([worker(prefix, o), worker(prefix, o), worker(prefix, o)]);
    const burst = () =>
      Promise.all(
        Array.from({ length: 1_000 }, (_, i) => ws[i % 3]!.admission.decide(job('acme'))),
      );
    const first = await burst();
    expect(accepted(first)).toHaveLength(20);
    expect(first.filter((d) => !d.accept && d.reason === 'tenant_capacity')).toHaveLength(980);
    for (const d of accepted(first)) {
      d.reservation.markStarted();
      d.reservation.release({ kind: 'success', reason: 'done' });
    }
    await expect.poll(async () => (await ws[0]!.store.leaseCounts()).get('acme') ?? 0).toBe(0);
    const second = await burst();
    expect(accepted(second)).toHaveLength(20);
    expect(second.filter((d) => !d.accept)).toHaveLength(980);
    for (const w of ws) expect(w.fleet.counters.fallbackDecisions).toBe(0);
  });

  it("opens the breaker on every worker when one worker's sessions fail, and leaves other tenants alone", async () => {
    const prefix = `b-${randomUUID()}:`;
    const [a, b, c] = await Promise.all([worker(prefix), worker(prefix), worker(prefix)]);
    for (let i = 0; i < 4; i++) {
      const d = await a!.admission.decide(job('flaky'));
      if (!d.accept) throw new Error(d.message);
      d.reservation.markStarted();
      d.reservation.release({ kind: 'failed', reason: 'entry threw' });
    }
    for (const w of [a!, b!, c!]) {
      await expect
        .poll(async () => {
          const d = await w.admission.decide(job('flaky'));
          if (d.accept) d.reservation.release({ kind: 'cancelled', reason: 'test' });
          return d.accept ? 'accepted' : d.reason;
        })
        .toBe('breaker_open');
      const ok = await w.admission.decide(job('healthy'));
      expect(ok.accept).toBe(true);
    }
  });

  for (const policy of ['local', 'reject'] as const) {
    it(`answers within the store timeout while Redis is stopped (SIGSTOP), with '${policy}'`, async () => {
      const prefix = `s-${randomUUID()}:`;
      const w = await worker(prefix, { policy, cap: 3 });
      redis.pause();
      try {
        const t0 = performance.now();
        const ds = await Promise.all(
          Array.from({ length: 5 }, () => w.admission.decide(job('acme'))),
        );
        expect(performance.now() - t0).toBeLessThan(STORE_TIMEOUT_MS + 750);
        if (policy === 'local') {
          // This process's own counts against the configured cap.
          expect(accepted(ds)).toHaveLength(3);
          expect(ds.filter((d) => !d.accept && d.reason === 'tenant_capacity')).toHaveLength(2);
        } else {
          expect(ds.every((d) => !d.accept && d.reason === 'store_unavailable')).toBe(true);
        }
        expect(w.store.health().state).toBe('degraded');
        expect(w.events).toContain(`fallback:${policy}`);
      } finally {
        redis.resume();
      }
      await expect
        .poll(async () => {
          await w.fleet.renew();
          return w.store.health().state;
        })
        .toBe('ok');
      if (policy === 'local') {
        // The sessions accepted without Redis are counted fleet-wide once it answers again.
        expect((await w.store.leaseCounts()).get('acme')).toBe(3);
      }
    });
  }

  it('re-asserts live leases after Redis restarts and lost its data, with no double counting', async () => {
    const prefix = `r-${randomUUID()}:`;
    const [a, b] = await Promise.all([worker(prefix), worker(prefix)]);
    for (const w of [a!, b!])
      for (let i = 0; i < 3; i++) expect((await w.admission.decide(job('acme'))).accept).toBe(true);
    // An operator's cap and trip, read by both workers at a renewal before Redis lost them.
    const ops = { worker: 'w-x', operator: 'ops', source: 'cli' } as const;
    await a!.store.setCapOverride('globex', 5, ops);
    await a!.store.breakerTrip('initech', 120_000, ops, breaker);
    await a!.fleet.renew();
    await b!.fleet.renew();
    await redis.restart();
    await expect
      .poll(
        async () => {
          await a!.fleet.renew();
          await b!.fleet.renew();
          return (await a!.store.leaseCounts().catch(() => new Map())).get('acme');
        },
        { timeout: 10_000 },
      )
      .toBe(6);
    await a!.fleet.renew();
    await b!.fleet.renew();
    expect((await a!.store.leaseCounts()).get('acme')).toBe(6);
    expect(a!.events.some((e) => e.startsWith('reasserted:'))).toBe(true);
    expect(await b!.store.capOverrides()).toEqual(new Map([['globex', 5]]));
    const initech = await b!.admission.decide(job('initech'));
    expect(initech).toMatchObject({ accept: false, reason: 'breaker_open' });
    expect(await b!.store.breakerView('initech', breaker)).toMatchObject({
      state: 'open',
      manual: true,
    });
    // Written back once, by whichever worker renewed first; the other found them there.
    expect([...a!.events, ...b!.events].filter((e) => e.startsWith('restored:'))).toEqual([
      'restored:1/1',
    ]);
  });

  it("frees a dead worker's slots after the lease TTL, and not before while the worker renews", async () => {
    const prefix = `k-${randomUUID()}:`;
    const opts = { cap: 2, ttlMs: 1_200, renewMs: 300 };
    const [dead, alive] = await Promise.all([worker(prefix, opts), worker(prefix, opts)]);
    alive!.fleet.start();
    dead!.fleet.start();
    expect((await dead!.admission.decide(job('acme'))).accept).toBe(true);
    expect((await alive!.admission.decide(job('acme'))).accept).toBe(true);
    // The worker dies: no release, no more renewals (as after SIGKILL).
    dead!.fleet.stop();
    await dead!.store.close();
    const t0 = Date.now();
    await expect
      .poll(
        async () => {
          const d = await alive!.admission.decide(job('acme'));
          return d.accept;
        },
        { timeout: 5_000, interval: 100 },
      )
      .toBe(true);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(800);
    // The living worker's own lease survived: the cap is full again.
    expect((await alive!.store.leaseCounts()).get('acme')).toBe(2);
  });

  it('notices a lease lost to a stalled loop (TTL + 1 s), logs and counts it, and the count is right again', async () => {
    const prefix = `l-${randomUUID()}:`;
    const opts = { cap: 1, ttlMs: 1_000, renewMs: 200 };
    const [stalled, other] = await Promise.all([worker(prefix, opts), worker(prefix, opts)]);
    stalled!.fleet.start();
    expect((await stalled!.admission.decide(job('acme'))).accept).toBe(true);
    // Block the event loop for TTL + 1 s: no renewal can run.
    const until = Date.now() + 2_000;
    while (Date.now() < until) {
      /* stall */
    }
    // Another worker takes the slot the stalled one's lease no longer holds.
    expect((await other!.admission.decide(job('acme'))).accept).toBe(true);
    await stalled!.fleet.renew();
    expect(stalled!.events.some((e) => e.startsWith('lost:'))).toBe(true);
    expect(stalled!.fleet.counters.leasesLost).toBe(1);
    expect((await other!.store.leaseCounts()).get('acme')).toBe(1);
  });

  it('exits with one clear error when Redis is unreachable at start', async () => {
    await expect(
      RedisStore.connect({ url: 'redis://:hunter2@127.0.0.1:1', connectTimeoutMs: 500 }),
    ).rejects.toThrow(/^Redis at redis:\/\/127\.0\.0\.1:1 is unreachable/);
  });
});
