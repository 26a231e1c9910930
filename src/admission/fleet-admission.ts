import type { AdmitResult, BreakerRecord, FleetStore, LeaseKey } from '../store/fleet-store.js';
import type { BreakerSettings, BreakerTransition } from './breaker.js';
import type { Clock, TimerHandle } from '../clock/clock.js';
import type { SessionOutcome } from './types.js';

/** What to do while the store does not answer. */
export type UnavailablePolicy = 'local' | 'reject';

export interface FleetAdmissionOptions {
  store: FleetStore;
  /** Unique in the fleet: lease ids and audit records carry it. */
  workerId: string;
  clock: Clock;
  /** A dead worker's slots come free after this. */
  leaseTtlMs: number;
  /** Every live lease is renewed this often, in one call. */
  renewIntervalMs: number;
  /** The whole fleet-side decision (breaker and lease) answers within this, or the policy applies. */
  storeTimeoutMs: number;
  fleetCap: number | null;
  onUnavailable: UnavailablePolicy;
  events?: FleetEvents;
}

export interface FleetEvents {
  /** A lease expired while this worker still ran its session (a stalled loop, a partition). */
  onLeaseLost?(e: LeaseKey): void;
  /** Leases put back after the store lost its data, or taken while it was down. */
  onReasserted?(e: { count: number }): void;
  onRenewFailed?(e: { message: string }): void;
  /** A decision made without the store, under the policy. */
  onFallback?(e: { tenant: string; policy: UnavailablePolicy; message: string }): void;
  onBreakerTransition?(e: BreakerTransition & { tenant: string }): void;
  /** The fleet's cap overrides, read at every renewal so every worker applies them. */
  onCapOverrides?(caps: Map<string, number>): void;
  /** Cap overrides and breakers written back after the store lost its data. */
  onStateRestored?(e: { overrides: number; breakers: number }): void;
}

export interface FleetHold {
  lease: LeaseKey;
  probe: boolean;
  /** Decided without the store ('local' policy): this process's own counts and breaker apply. */
  local: boolean;
}

export type FleetVerdict =
  | { ok: true; hold: FleetHold }
  | {
      ok: false;
      reason: 'breaker_open' | 'tenant_capacity' | 'fleet_capacity' | 'store_unavailable';
      message: string;
    };

export interface FleetCounters {
  leasesLost: number;
  leasesReasserted: number;
  renewFailures: number;
  fallbackDecisions: number;
}

const TIMED_OUT = Symbol('timed out');

/**
 * The fleet half of admission: the shared breaker and the fleet-wide lease, through the injected
 * store, answered within `storeTimeoutMs` whatever the store does. No I/O of its own: the store
 * and the clock are given.
 */
export class FleetAdmission {
  readonly #o: FleetAdmissionOptions;
  /** Leases this worker holds, by lease id; `unconfirmed` ones were taken while the store was down. */
  readonly #held = new Map<string, { lease: LeaseKey; unconfirmed: boolean }>();
  readonly counters: FleetCounters = {
    leasesLost: 0,
    leasesReasserted: 0,
    renewFailures: 0,
    fallbackDecisions: 0,
  };
  /**
   * The overrides read at the last renewal. An operator's cap is a promise to a customer, so a
   * Redis that restarts without its data must not drop it: the workers write these back.
   */
  #knownOverrides: ReadonlyMap<string, number> = new Map();
  /** Likewise the breakers that were not closed, and when they were read (their time runs on). */
  #knownBreakers: { at: number; records: readonly BreakerRecord[] } = { at: 0, records: [] };
  #timer: TimerHandle | undefined;
  #renewing: Promise<void> | undefined;
  #stopped = false;

  constructor(options: FleetAdmissionOptions) {
    this.#o = options;
  }

  get store(): FleetStore {
    return this.#o.store;
  }

  get policy(): UnavailablePolicy {
    return this.#o.onUnavailable;
  }

  heldLeases(): number {
    return this.#held.size;
  }

  async admit(
    tenant: string,
    jobId: string,
    tenantCap: number | null,
    breaker: BreakerSettings,
  ): Promise<FleetVerdict> {
    const lease = { tenant, leaseId: `${this.#o.workerId}:${jobId}` };
    const decision = this.#decide(lease, tenantCap, breaker);
    const answer = await this.#within(decision, this.#o.storeTimeoutMs);
    if (answer === TIMED_OUT) {
      // The store may still say yes after we gave up: give that lease and probe straight back.
      void decision.then((v) => (v.ok ? this.abandon(v.hold) : undefined)).catch(() => {});
      return this.#fallback(lease, `the store did not answer within ${this.#o.storeTimeoutMs} ms`);
    }
    if (answer instanceof Error) return this.#fallback(lease, answer.message);
    if (answer.ok) this.#held.set(lease.leaseId, { lease, unconfirmed: answer.hold.local });
    return answer;
  }

  /** Admission turned the job away after the fleet said yes (a local cap): give it all back. */
  abandon(hold: FleetHold): void {
    this.#held.delete(hold.lease.leaseId);
    if (hold.local) return;
    this.#quietly(this.#o.store.releaseLease(hold.lease));
    if (hold.probe) this.#quietly(this.#o.store.breakerCancelProbe(hold.lease.tenant));
  }

  /** The session ended (or never started): free the lease and count the outcome fleet-wide. */
  end(hold: FleetHold, outcome: SessionOutcome, breaker: BreakerSettings): void {
    this.#held.delete(hold.lease.leaseId);
    const { store } = this.#o;
    const tenant = hold.lease.tenant;
    this.#quietly(store.releaseLease(hold.lease));
    if (outcome.kind === 'cancelled') {
      if (hold.probe && !hold.local) this.#quietly(store.breakerCancelProbe(tenant));
      return;
    }
    this.#quietly(
      store.breakerRecord(tenant, outcome.kind, hold.probe && !hold.local, breaker).then((t) => {
        if (t) this.#o.events?.onBreakerTransition?.({ ...t, tenant });
      }),
    );
  }

  /** Starts the renewal timer. */
  start(): void {
    this.#stopped = false;
    this.#schedule();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) this.#o.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /**
   * One renewal round: every confirmed lease in one call (re-added if the store lost its data),
   * and every lease taken while the store was down added without a cap check, since its session
   * really runs. A lease found expired is counted and logged, and no longer renewed.
   */
  renew(): Promise<void> {
    // One round at a time: a round asked for while one runs shares it.
    this.#renewing ??= this.#renewOnce().finally(() => (this.#renewing = undefined));
    return this.#renewing;
  }

  /** Writes back what this worker last read of the state the store lost. */
  async #restoreState(): Promise<void> {
    const { store, clock } = this.#o;
    const elapsed = clock.now() - this.#knownBreakers.at;
    const overrides =
      this.#knownOverrides.size > 0 ? await store.restoreCapOverrides(this.#knownOverrides) : 0;
    const breakers = await store.restoreBreakers(
      this.#knownBreakers.records.map((b) => ({
        ...b,
        remainingMs: Math.max(0, b.remainingMs - elapsed),
      })),
    );
    if (overrides + breakers > 0) this.#o.events?.onStateRestored?.({ overrides, breakers });
  }

  async #renewOnce(): Promise<void> {
    const { store, leaseTtlMs } = this.#o;
    const confirmed = [...this.#held.values()].filter((h) => !h.unconfirmed).map((h) => h.lease);
    const pending = [...this.#held.values()].filter((h) => h.unconfirmed);
    try {
      const r = await store.renewLeases(confirmed, leaseTtlMs);
      let reasserted = r.reasserted;
      for (const lost of r.lost) {
        // Ended meanwhile: its release, not a loss.
        if (!this.#held.delete(lost.leaseId)) continue;
        this.counters.leasesLost += 1;
        this.#o.events?.onLeaseLost?.(lost);
      }
      for (const h of pending) {
        await store.acquireLease({
          ...h.lease,
          tenantCap: null,
          fleetCap: null,
          ttlMs: leaseTtlMs,
        });
        const still = this.#held.get(h.lease.leaseId);
        if (still) still.unconfirmed = false;
        reasserted += 1;
      }
      if (reasserted > 0) {
        this.counters.leasesReasserted += reasserted;
        this.#o.events?.onReasserted?.({ count: reasserted });
      }
      if (r.dataLost) await this.#restoreState();
      this.#knownOverrides = await store.capOverrides();
      this.#knownBreakers = { at: this.#o.clock.now(), records: await store.breakerStates() };
      this.#o.events?.onCapOverrides?.(new Map(this.#knownOverrides));
    } catch (err) {
      this.counters.renewFailures += 1;
      this.#o.events?.onRenewFailed?.({
        message: err instanceof Error ? err.message : String(err),
      });
    }
  }

  async #decide(
    lease: LeaseKey,
    tenantCap: number | null,
    breaker: BreakerSettings,
  ): Promise<FleetVerdict> {
    // Breaker and lease in one atomic call: one round trip per decision.
    const got = await this.#o.store.admitSession({
      ...lease,
      tenantCap,
      fleetCap: this.#o.fleetCap,
      ttlMs: this.#o.leaseTtlMs,
      breaker,
    });
    if (got.ok) return { ok: true, hold: { lease, probe: got.probe, local: false } };
    return { ok: false, reason: got.reason, message: refusalMessage(lease.tenant, got) };
  }

  #fallback(lease: LeaseKey, why: string): FleetVerdict {
    this.counters.fallbackDecisions += 1;
    const policy = this.#o.onUnavailable;
    this.#o.events?.onFallback?.({ tenant: lease.tenant, policy, message: why });
    if (policy === 'reject') {
      return {
        ok: false,
        reason: 'store_unavailable',
        message: `the fleet store is unavailable (${why}) and store.onUnavailable is 'reject'`,
      };
    }
    this.#held.set(lease.leaseId, { lease, unconfirmed: true });
    return { ok: true, hold: { lease, probe: false, local: true } };
  }

  #within<T>(p: Promise<T>, ms: number): Promise<T | Error | typeof TIMED_OUT> {
    const { clock } = this.#o;
    return new Promise((resolve) => {
      const timer = clock.setTimeout(() => resolve(TIMED_OUT), ms);
      p.then(
        (v) => {
          clock.clearTimeout(timer);
          resolve(v);
        },
        (err: unknown) => {
          clock.clearTimeout(timer);
          resolve(err instanceof Error ? err : new Error(String(err)));
        },
      );
    });
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = this.#o.clock.setTimeout(() => {
      void this.renew().finally(() => this.#schedule());
    }, this.#o.renewIntervalMs);
  }

  #quietly(p: Promise<unknown>): void {
    p.catch(() => {});
  }
}

function refusalMessage(tenant: string, r: Extract<AdmitResult, { ok: false }>): string {
  switch (r.reason) {
    case 'breaker_open': {
      const seconds = Math.ceil(r.retryInMs / 1000);
      return seconds > 0
        ? `tenant "${tenant}" circuit breaker is open fleet-wide (${seconds}s left)`
        : `tenant "${tenant}" circuit breaker is half-open and its probes are in flight`;
    }
    case 'tenant_capacity':
      return `tenant "${tenant}" is at its fleet-wide cap of ${r.cap} sessions`;
    case 'fleet_capacity':
      return `the fleet is at its cap of ${r.cap} sessions (fleet.maxConcurrentSessions)`;
  }
}
