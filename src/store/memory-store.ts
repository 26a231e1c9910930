import {
  CircuitBreaker,
  type BreakerSettings,
  type BreakerTransition,
} from '../admission/breaker.js';
import type { Clock } from '../clock/clock.js';
import type { BreakerView } from '../admission/types.js';
import {
  HEARTBEAT_RETENTION_MS,
  type AcquireRequest,
  type AcquireResult,
  type AdmitRequest,
  type AdmitResult,
  type AuditActor,
  type AuditRecord,
  type BreakerAdmit,
  type BreakerRecord,
  type FleetStore,
  type Heartbeat,
  type HeartbeatView,
  type LeaseKey,
  type RenewResult,
} from './fleet-store.js';
import type { StoreHealth } from './store-health.js';

const MAX_AUDIT_RECORDS = 1_000;

/**
 * One process's store: the default, no Redis. Every method finishes its work synchronously before
 * it returns, so concurrent acquires in one process are exact as they were before stores existed.
 */
export class MemoryStore implements FleetStore {
  readonly kind = 'memory' as const;
  readonly #clock: Clock;
  readonly #leases = new Map<string, Map<string, number>>();
  readonly #breakers = new Map<string, CircuitBreaker>();
  /** Restored before the tenant's breaker exists: applied when it is made (it needs settings). */
  readonly #restored = new Map<string, { record: BreakerRecord; until: number }>();
  readonly #overrides = new Map<string, number>();
  readonly #listeners = new Set<(tenant: string | null) => void>();
  readonly #audit: AuditRecord[] = [];
  readonly #heartbeats = new Map<string, { hb: Heartbeat; at: number; ttlMs: number }>();
  #lastTransition: BreakerTransition | undefined;

  readonly #since: number;

  constructor(clock: Clock) {
    this.#clock = clock;
    this.#since = clock.now();
  }

  health(): StoreHealth {
    return { state: 'ok', since: this.#since };
  }

  admitSession(req: AdmitRequest): Promise<AdmitResult> {
    return Promise.resolve(this.#admitSessionNow(req));
  }

  /** Synchronous from the breaker's check to the lease: nothing else runs in between. */
  #admitSessionNow(req: AdmitRequest): AdmitResult {
    const breaker = this.#breaker(req.tenant, req.breaker);
    const admit = breaker.tryAdmit();
    if (!admit.ok) return { ok: false, reason: 'breaker_open', retryInMs: admit.retryInMs };
    const got = this.acquireLeaseNow(req);
    if (got.ok) return { ok: true, probe: admit.probe };
    if (admit.probe) breaker.cancelProbe();
    return got;
  }

  acquireLease(req: AcquireRequest): Promise<AcquireResult> {
    return Promise.resolve(this.acquireLeaseNow(req));
  }

  /** The synchronous acquire behind `acquireLease`, for callers that must not yield. */
  acquireLeaseNow(req: AcquireRequest): AcquireResult {
    const now = this.#clock.now();
    this.#dropExpired(now);
    const mine = this.#leases.get(req.tenant);
    if (mine?.has(req.leaseId)) {
      mine.set(req.leaseId, now + req.ttlMs);
      return { ok: true };
    }
    const held = mine?.size ?? 0;
    if (req.tenantCap !== null && held >= req.tenantCap)
      return { ok: false, reason: 'tenant_capacity', held, cap: req.tenantCap };
    if (req.fleetCap !== null) {
      let total = 0;
      for (const m of this.#leases.values()) total += m.size;
      if (total >= req.fleetCap)
        return { ok: false, reason: 'fleet_capacity', held: total, cap: req.fleetCap };
    }
    const set = mine ?? new Map<string, number>();
    set.set(req.leaseId, now + req.ttlMs);
    this.#leases.set(req.tenant, set);
    return { ok: true };
  }

  releaseLease(lease: LeaseKey): Promise<void> {
    const set = this.#leases.get(lease.tenant);
    set?.delete(lease.leaseId);
    if (set?.size === 0) this.#leases.delete(lease.tenant);
    return Promise.resolve();
  }

  renewLeases(leases: readonly LeaseKey[], ttlMs: number): Promise<RenewResult> {
    const now = this.#clock.now();
    this.#dropExpired(now);
    const lost: LeaseKey[] = [];
    let renewed = 0;
    for (const l of leases) {
      const set = this.#leases.get(l.tenant);
      if (set?.has(l.leaseId)) {
        set.set(l.leaseId, now + ttlMs);
        renewed += 1;
      } else {
        lost.push({ tenant: l.tenant, leaseId: l.leaseId });
      }
    }
    // A process's own memory never loses its data while the process lives.
    return Promise.resolve({ renewed, reasserted: 0, dataLost: false, lost });
  }

  leaseCounts(): Promise<Map<string, number>> {
    this.#dropExpired(this.#clock.now());
    return Promise.resolve(new Map([...this.#leases].map(([t, m]) => [t, m.size])));
  }

  breakerAdmit(tenant: string, settings: BreakerSettings): Promise<BreakerAdmit> {
    return Promise.resolve(this.#breaker(tenant, settings).tryAdmit());
  }

  breakerRecord(
    tenant: string,
    outcome: 'success' | 'failed',
    probe: boolean,
    settings: BreakerSettings,
  ): Promise<BreakerTransition | undefined> {
    return this.#transitionOf(() => this.#breaker(tenant, settings).record(outcome, probe));
  }

  breakerCancelProbe(tenant: string): Promise<void> {
    this.#breakers.get(tenant)?.cancelProbe();
    return Promise.resolve();
  }

  breakerTrip(
    tenant: string,
    forMs: number,
    by: AuditActor,
    settings: BreakerSettings,
  ): Promise<BreakerTransition | undefined> {
    this.#record(by, 'trip', tenant, `for ${forMs} ms`);
    return this.#transitionOf(() => this.#breaker(tenant, settings).trip(forMs));
  }

  breakerReset(
    tenant: string,
    by: AuditActor,
    settings: BreakerSettings,
  ): Promise<BreakerTransition | undefined> {
    this.#record(by, 'reset', tenant, '');
    return this.#transitionOf(() => this.#breaker(tenant, settings).reset());
  }

  breakerView(tenant: string, settings: BreakerSettings): Promise<BreakerView> {
    return Promise.resolve(this.#breaker(tenant, settings).view());
  }

  breakerStates(): Promise<BreakerRecord[]> {
    const now = this.#clock.now();
    const out: BreakerRecord[] = [...this.#restored.values()].map(({ record, until }) => ({
      ...record,
      remainingMs: Math.max(0, until - now),
    }));
    for (const [tenant, b] of this.#breakers) {
      const v = b.view();
      if (v.state === 'closed') continue;
      out.push({
        tenant,
        state: v.state,
        remainingMs: v.openUntil === undefined ? 0 : Math.max(0, v.openUntil - now),
        openForMs: b.openForMs,
        manual: v.manual === true,
      });
    }
    return Promise.resolve(out);
  }

  restoreBreakers(records: readonly BreakerRecord[]): Promise<number> {
    let restored = 0;
    for (const r of records) {
      const b = this.#breakers.get(r.tenant);
      if (b?.moved) continue;
      const left = r.state === 'open' ? r.remainingMs : 0;
      if (b) b.restoreOpen(left, r.openForMs, r.manual);
      else
        this.#restored.set(r.tenant, {
          record: { ...r, state: 'open', remainingMs: left },
          until: this.#clock.now() + left,
        });
      restored += 1;
    }
    return Promise.resolve(restored);
  }

  setCapOverride(tenant: string, cap: number | null, by: AuditActor): Promise<void> {
    if (cap === null) this.#overrides.delete(tenant);
    else this.#overrides.set(tenant, cap);
    this.#record(by, 'cap', tenant, cap === null ? 'cleared' : String(cap));
    return Promise.resolve();
  }

  capOverrides(): Promise<Map<string, number>> {
    return Promise.resolve(new Map(this.#overrides));
  }

  restoreCapOverrides(overrides: ReadonlyMap<string, number>): Promise<number> {
    let written = 0;
    for (const [tenant, cap] of overrides) {
      if (this.#overrides.has(tenant)) continue;
      this.#overrides.set(tenant, cap);
      written += 1;
    }
    return Promise.resolve(written);
  }

  publishInvalidation(tenant: string | null, by: AuditActor): Promise<void> {
    this.#record(by, 'reload', tenant, '');
    for (const l of [...this.#listeners]) l(tenant);
    return Promise.resolve();
  }

  onInvalidation(listener: (tenant: string | null) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  auditLog(limit: number): Promise<AuditRecord[]> {
    return Promise.resolve(this.#audit.slice(-limit).reverse());
  }

  publishHeartbeat(hb: Heartbeat, ttlMs: number): Promise<void> {
    this.#heartbeats.set(hb.worker, { hb: structuredClone(hb), at: this.#clock.now(), ttlMs });
    return Promise.resolve();
  }

  heartbeats(): Promise<HeartbeatView[]> {
    const now = this.#clock.now();
    const out: HeartbeatView[] = [];
    for (const [worker, e] of this.#heartbeats) {
      if (now - e.at > HEARTBEAT_RETENTION_MS) this.#heartbeats.delete(worker);
      else
        out.push({
          ...structuredClone(e.hb),
          at: e.at,
          ageMs: now - e.at,
          stale: now - e.at > e.ttlMs,
        });
    }
    return Promise.resolve(out.sort((a, b) => a.worker.localeCompare(b.worker)));
  }

  removeHeartbeat(worker: string): Promise<void> {
    this.#heartbeats.delete(worker);
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.#listeners.clear();
    return Promise.resolve();
  }

  #breaker(tenant: string, settings: BreakerSettings): CircuitBreaker {
    let b = this.#breakers.get(tenant);
    if (!b) {
      b = new CircuitBreaker(settings, this.#clock, (t) => (this.#lastTransition = t));
      this.#breakers.set(tenant, b);
      const restored = this.#restored.get(tenant);
      if (restored) {
        this.#restored.delete(tenant);
        const { record, until } = restored;
        b.restoreOpen(until - this.#clock.now(), record.openForMs, record.manual);
      }
    } else {
      b.updateSettings(settings);
    }
    return b;
  }

  #transitionOf(act: () => void): Promise<BreakerTransition | undefined> {
    this.#lastTransition = undefined;
    act();
    const t = this.#lastTransition;
    this.#lastTransition = undefined;
    return Promise.resolve(t);
  }

  #record(by: AuditActor, action: AuditRecord['action'], tenant: string | null, detail: string) {
    this.#audit.push({ ...by, at: this.#clock.now(), action, tenant, detail });
    if (this.#audit.length > MAX_AUDIT_RECORDS) this.#audit.shift();
  }

  #dropExpired(now: number): void {
    for (const [tenant, set] of this.#leases) {
      for (const [id, expiresAt] of set) if (expiresAt <= now) set.delete(id);
      if (set.size === 0) this.#leases.delete(tenant);
    }
  }
}
