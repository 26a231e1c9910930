// One contract for every store: the memory store and the Redis store run this same suite.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BreakerSettings } from '../../src/admission/breaker.js';
import type { FleetStore } from '../../src/store/fleet-store.js';

export interface StoreFixture {
  store: FleetStore;
  /** Another client of the same shared state (the same object for the memory store). */
  connectAgain(): Promise<FleetStore>;
  close(): Promise<void>;
}

const by = { worker: 'w-1', operator: 'alice', source: 'worker' } as const;
const TTL = 60_000;
const breaker: BreakerSettings = {
  enabled: true,
  failureRatio: 0.5,
  minSamples: 4,
  windowMs: 30_000,
  cooldownMs: 300,
  halfOpenProbes: 2,
};

export function storeContract(name: string, make: () => Promise<StoreFixture>): void {
  describe(`${name} store contract`, () => {
    let f: StoreFixture;
    let store: FleetStore;
    beforeEach(async () => {
      f = await make();
      store = f.store;
    });
    afterEach(async () => {
      await f.close();
    });

    const lease = (
      tenant: string,
      leaseId: string,
      tenantCap: number | null,
      fleetCap = null as number | null,
    ) => store.acquireLease({ tenant, leaseId, tenantCap, fleetCap, ttlMs: TTL });

    it('holds a tenant at its cap, names the cap it hit, and leaves other tenants alone', async () => {
      for (let i = 0; i < 3; i++) expect(await lease('acme', `j${i}`, 3)).toEqual({ ok: true });
      expect(await lease('acme', 'j3', 3)).toEqual({
        ok: false,
        reason: 'tenant_capacity',
        held: 3,
        cap: 3,
      });
      expect(await lease('globex', 'j0', 3)).toEqual({ ok: true });
      expect(await store.leaseCounts()).toEqual(
        new Map([
          ['acme', 3],
          ['globex', 1],
        ]),
      );
    });

    it('holds the fleet at its global cap across tenants', async () => {
      expect(await lease('a', '1', null, 2)).toEqual({ ok: true });
      expect(await lease('b', '1', null, 2)).toEqual({ ok: true });
      expect(await lease('c', '1', null, 2)).toEqual({
        ok: false,
        reason: 'fleet_capacity',
        held: 2,
        cap: 2,
      });
    });

    it('grants exactly the cap to 200 acquires at once', async () => {
      const results = await Promise.all(
        Array.from({ length: 200 }, (_, i) => lease('acme', `burst-${i}`, 20)),
      );
      expect(results.filter((r) => r.ok)).toHaveLength(20);
      expect(results.filter((r) => !r.ok && r.reason === 'tenant_capacity')).toHaveLength(180);
    });

    it('keeps one slot for a lease asked twice, and frees it on release (twice is fine)', async () => {
      expect(await lease('acme', 'same', 1)).toEqual({ ok: true });
      expect(await lease('acme', 'same', 1)).toEqual({ ok: true });
      expect(await lease('acme', 'other', 1)).toMatchObject({ ok: false });
      await store.releaseLease({ tenant: 'acme', leaseId: 'same' });
      await store.releaseLease({ tenant: 'acme', leaseId: 'same' });
      expect(await lease('acme', 'other', 1)).toEqual({ ok: true });
    });

    it('lets a lease expire after its TTL unless renewed, and reports one that expired as lost', async () => {
      const short = (id: string) =>
        store.acquireLease({
          tenant: 'acme',
          leaseId: id,
          tenantCap: 2,
          fleetCap: null,
          ttlMs: 400,
        });
      expect(await short('kept')).toEqual({ ok: true });
      expect(await short('dropped')).toEqual({ ok: true });
      const renewals = setInterval(
        () => void store.renewLeases([{ tenant: 'acme', leaseId: 'kept' }], 400).catch(() => {}),
        100,
      );
      try {
        await expect
          .poll(async () => (await store.leaseCounts()).get('acme'), { timeout: 5_000 })
          .toBe(1);
      } finally {
        clearInterval(renewals);
      }
      const r = await store.renewLeases(
        [
          { tenant: 'acme', leaseId: 'kept' },
          { tenant: 'acme', leaseId: 'dropped' },
        ],
        TTL,
      );
      expect(r).toEqual({
        renewed: 1,
        reasserted: 0,
        dataLost: false,
        lost: [{ tenant: 'acme', leaseId: 'dropped' }],
      });
    });

    const admitSession = (
      on: FleetStore,
      tenant: string,
      leaseId: string,
      tenantCap: number | null,
      fleetCap = null as number | null,
    ) => on.admitSession({ tenant, leaseId, tenantCap, fleetCap, ttlMs: TTL, breaker });

    it('decides breaker and lease in one call: exactly the cap of 200 at once, the cap named', async () => {
      const results = await Promise.all(
        Array.from({ length: 200 }, (_, i) => admitSession(store, 'acme', `burst-${i}`, 20)),
      );
      expect(results.filter((r) => r.ok)).toEqual(
        Array.from({ length: 20 }, () => ({ ok: true, probe: false })),
      );
      expect(results.filter((r) => !r.ok)).toEqual(
        Array.from({ length: 180 }, () => ({
          ok: false,
          reason: 'tenant_capacity',
          held: 20,
          cap: 20,
        })),
      );
      expect(await admitSession(store, 'acme', 'burst-0', 20)).toEqual({ ok: true, probe: false });
      expect(await admitSession(store, 'globex', 'g', null, 20)).toEqual({
        ok: false,
        reason: 'fleet_capacity',
        held: 20,
        cap: 20,
      });
      expect((await store.leaseCounts()).get('acme')).toBe(20);
    });

    it('answers breaker_open with the time left, before any cap, and takes no lease', async () => {
      const other = await f.connectAgain();
      await store.breakerTrip('acme', 60_000, by, breaker);
      const r = await admitSession(other, 'acme', 'j1', 5);
      expect(r).toMatchObject({ ok: false, reason: 'breaker_open' });
      expect(r.ok === false && r.reason === 'breaker_open' && r.retryInMs).toBeGreaterThan(50_000);
      expect((await store.leaseCounts()).get('acme') ?? 0).toBe(0);
      expect(await admitSession(other, 'globex', 'j1', 5)).toEqual({ ok: true, probe: false });
    });

    it('limits half-open probes fleet-wide, and a session a cap turns away holds no probe slot', async () => {
      const other = await f.connectAgain();
      // One slot left under the cap of 2: a probe refused by the cap must give its slot back.
      expect(await admitSession(store, 'flaky', 'running', 2)).toEqual({ ok: true, probe: false });
      await store.breakerTrip('flaky', 200, by, breaker);
      await expect
        .poll(async () => (await store.breakerView('flaky', breaker)).state, { timeout: 5_000 })
        .toBe('half_open');
      const first = await Promise.all([
        admitSession(store, 'flaky', 'p1', 2),
        admitSession(other, 'flaky', 'p2', 2),
        admitSession(store, 'flaky', 'p3', 2),
      ]);
      // One probe got the last slot; the other two were refused by the cap, holding no probe.
      expect(first.filter((r) => r.ok)).toEqual([{ ok: true, probe: true }]);
      expect(first.filter((r) => !r.ok)).toEqual([
        { ok: false, reason: 'tenant_capacity', held: 2, cap: 2 },
        { ok: false, reason: 'tenant_capacity', held: 2, cap: 2 },
      ]);
      expect((await store.breakerView('flaky', breaker)).probesInFlight).toBe(1);
      // With room under the cap, the second of the 2 probes goes through, and no more.
      const second = await Promise.all([
        admitSession(other, 'flaky', 'p4', null),
        admitSession(store, 'flaky', 'p5', null),
        admitSession(other, 'flaky', 'p6', null),
      ]);
      expect(second.filter((r) => r.ok)).toEqual([{ ok: true, probe: true }]);
      expect(second.filter((r) => !r.ok)).toEqual([
        { ok: false, reason: 'breaker_open', retryInMs: 0 },
        { ok: false, reason: 'breaker_open', retryInMs: 0 },
      ]);
      expect(await other.breakerRecord('flaky', 'success', true, breaker)).toMatchObject({
        from: 'half_open',
        to: 'closed',
      });
      expect(await admitSession(store, 'flaky', 'p7', null)).toEqual({ ok: true, probe: false });
    });

    it("opens a failing tenant's breaker for every client, limits half-open probes, and closes on a good probe", async () => {
      const other = await f.connectAgain();
      for (let i = 0; i < 3; i++) await store.breakerRecord('flaky', 'success', false, breaker);
      expect(await store.breakerRecord('flaky', 'failed', false, breaker)).toBeUndefined();
      // 2 of 5 failed: under the ratio; the third failure (3 of 6) opens it.
      await store.breakerRecord('flaky', 'failed', false, breaker);
      const opened = await store.breakerRecord('flaky', 'failed', false, breaker);
      expect(opened).toMatchObject({
        from: 'closed',
        to: 'open',
        failures: 3,
        samples: 6,
        manual: false,
      });
      const admit = await other.breakerAdmit('flaky', breaker);
      expect(admit.ok).toBe(false);
      expect(await other.breakerAdmit('healthy', breaker)).toEqual({ ok: true, probe: false });

      await expect
        .poll(async () => (await other.breakerView('flaky', breaker)).state, { timeout: 5_000 })
        .toBe('half_open');
      const probes = await Promise.all([
        store.breakerAdmit('flaky', breaker),
        other.breakerAdmit('flaky', breaker),
        store.breakerAdmit('flaky', breaker),
      ]);
      expect(probes.filter((p) => p.ok && p.probe)).toHaveLength(2);
      expect(probes.filter((p) => !p.ok)).toHaveLength(1);
      await store.breakerCancelProbe('flaky');
      expect(await other.breakerAdmit('flaky', breaker)).toEqual({ ok: true, probe: true });
      const closed = await other.breakerRecord('flaky', 'success', true, breaker);
      expect(closed).toMatchObject({
        from: 'half_open',
        to: 'closed',
        reason: 'probe session succeeded',
      });
      expect((await store.breakerView('flaky', breaker)).state).toBe('closed');
    });

    it('reopens on a failed probe', async () => {
      await store.breakerTrip('flaky', 200, by, breaker);
      await expect
        .poll(async () => (await store.breakerView('flaky', breaker)).state, { timeout: 5_000 })
        .toBe('half_open');
      expect(await store.breakerAdmit('flaky', breaker)).toEqual({ ok: true, probe: true });
      expect(await store.breakerRecord('flaky', 'failed', true, breaker)).toMatchObject({
        from: 'half_open',
        to: 'open',
        reason: 'probe session failed',
      });
    });

    it('trips and resets by hand for every client, with audit records naming worker and operator', async () => {
      const other = await f.connectAgain();
      expect(await store.breakerTrip('acme', 60_000, by, breaker)).toMatchObject({
        to: 'open',
        manual: true,
        reason: 'tripped by operator',
      });
      expect(await other.breakerView('acme', breaker)).toMatchObject({
        state: 'open',
        manual: true,
      });
      expect((await other.breakerAdmit('acme', breaker)).ok).toBe(false);
      expect(
        await other.breakerReset(
          'acme',
          { worker: 'cli@ops pid 7', operator: 'bob (uid 1000)', source: 'cli' },
          breaker,
        ),
      ).toMatchObject({ from: 'open', to: 'closed', reason: 'reset by operator' });
      expect(await store.breakerAdmit('acme', breaker)).toEqual({ ok: true, probe: false });
      const audit = await store.auditLog(10);
      // Who acted, and whether through a worker or straight from the CLI (`--fleet`).
      expect(audit.map((a) => [a.action, a.tenant, a.worker, a.operator, a.source])).toEqual([
        ['reset', 'acme', 'cli@ops pid 7', 'bob (uid 1000)', 'cli'],
        ['trip', 'acme', 'w-1', 'alice', 'worker'],
      ]);
    });

    it('shares cap overrides with every client until cleared', async () => {
      const other = await f.connectAgain();
      await store.setCapOverride('acme', 7, by);
      await store.setCapOverride('globex', 0, by);
      expect(await other.capOverrides()).toEqual(
        new Map([
          ['acme', 7],
          ['globex', 0],
        ]),
      );
      await other.setCapOverride('acme', null, by);
      expect(await store.capOverrides()).toEqual(new Map([['globex', 0]]));
    });

    it('restores overrides only where a tenant has none, unaudited, and says how many it wrote', async () => {
      await store.setCapOverride('globex', 4, by);
      const audited = (await store.auditLog(50)).length;
      const written = await store.restoreCapOverrides(
        new Map([
          ['acme', 7],
          ['globex', 9],
        ]),
      );
      expect(written).toBe(1);
      // An override set since the worker last read them is newer than its copy, and wins.
      expect(await (await f.connectAgain()).capOverrides()).toEqual(
        new Map([
          ['globex', 4],
          ['acme', 7],
        ]),
      );
      expect(await store.auditLog(50)).toHaveLength(audited);
      expect(await store.restoreCapOverrides(new Map())).toBe(0);
    });

    it('lists the breakers that are not closed, and stops listing one that is reset', async () => {
      await store.breakerTrip('acme', 60_000, by, breaker);
      await store.breakerAdmit('healthy', breaker);
      const [acme, ...rest] = await (await f.connectAgain()).breakerStates();
      expect(rest).toEqual([]);
      expect(acme).toMatchObject({
        tenant: 'acme',
        state: 'open',
        openForMs: 60_000,
        manual: true,
      });
      expect(acme!.remainingMs).toBeGreaterThan(50_000);
      expect(acme!.remainingMs).toBeLessThanOrEqual(60_000);
      await store.breakerReset('acme', by, breaker);
      expect(await store.breakerStates()).toEqual([]);
    });

    it('puts breakers back where they have not moved since, half-open as open with no time left', async () => {
      // acme moved (an operator reset it): its newer state wins over a worker's older copy.
      await store.breakerTrip('acme', 60_000, by, breaker);
      await store.breakerReset('acme', by, breaker);
      // globex was only read (closed, never moved): the copy wins.
      await store.breakerAdmit('globex', breaker);
      const restored = await store.restoreBreakers([
        { tenant: 'acme', state: 'open', remainingMs: 30_000, openForMs: 30_000, manual: true },
        { tenant: 'globex', state: 'open', remainingMs: 30_000, openForMs: 30_000, manual: false },
        { tenant: 'initech', state: 'half_open', remainingMs: 0, openForMs: 300, manual: false },
      ]);
      expect(restored).toBe(2);
      const other = await f.connectAgain();
      expect(await other.breakerAdmit('acme', breaker)).toEqual({ ok: true, probe: false });
      const globex = await other.breakerAdmit('globex', breaker);
      expect(globex.ok).toBe(false);
      expect(!globex.ok && globex.retryInMs).toBeGreaterThan(20_000);
      expect(await other.breakerView('globex', breaker)).toMatchObject({ state: 'open' });
      expect((await other.breakerView('globex', breaker)).manual).toBeFalsy();
      expect(await other.breakerAdmit('initech', breaker)).toEqual({ ok: true, probe: true });
      expect(await store.restoreBreakers([])).toBe(0);
    });

    it('delivers config invalidations, one tenant or all, to every subscribed client', async () => {
      const other = await f.connectAgain();
      const got: (string | null)[] = [];
      const off = other.onInvalidation((t) => got.push(t));
      // A subscription starts asynchronously on Redis: publish until the first one lands.
      await expect
        .poll(
          async () => {
            await store.publishInvalidation('acme', by);
            return got.length;
          },
          { timeout: 5_000 },
        )
        .toBeGreaterThan(0);
      got.length = 0;
      await store.publishInvalidation(null, by);
      await expect.poll(() => got, { timeout: 5_000 }).toEqual([null]);
      off();
      await store.publishInvalidation('acme', by);
      await store.publishInvalidation(null, by);
      await other.auditLog(1);
      expect(got).toEqual([null]);
    });

    it('lists heartbeats, marks the ones past their TTL stale, and forgets removed ones', async () => {
      const hb = (worker: string) => ({
        worker,
        host: 'box',
        pid: 42,
        draining: false,
        sessionsByTenant: { acme: 2 },
        loopP99Ms: 12,
        // What the fleet view and the CLI's --fleet controls read: configured caps, breaker settings.
        name: 'eu-1',
        caps: { acme: 20, globex: null },
        breaker,
      });
      await store.publishHeartbeat(hb('w-live'), 60_000);
      await store.publishHeartbeat(hb('w-dead'), 200);
      await expect
        .poll(async () => (await store.heartbeats()).map((h) => [h.worker, h.stale]), {
          timeout: 5_000,
        })
        .toEqual([
          ['w-dead', true],
          ['w-live', false],
        ]);
      // A fresh beat from the live worker: its age starts again, the dead one's keeps growing.
      await store.publishHeartbeat(hb('w-live'), 60_000);
      const [dead, live] = await store.heartbeats();
      expect(live).toMatchObject({ ...hb('w-live'), stale: false });
      // The age is on the store's clock, so a reader on another host tells it right.
      expect(dead!.ageMs).toBeGreaterThan(200);
      expect(live!.ageMs).toBeLessThan(dead!.ageMs);
      await store.removeHeartbeat('w-dead');
      expect((await store.heartbeats()).map((h) => h.worker)).toEqual(['w-live']);
    });

    it('reports its health', () => {
      expect(store.health().state).toBe('ok');
    });
  });
}
