import type { PhoneNumberSource } from '../tenancy/types.js';
import type { TenantConfigResolver } from '../tenancy/config-resolver.js';
import { phoneNumberLookup, resolveTenant, type PhoneLookup } from '../tenancy/resolve-tenant.js';
import { CircuitBreaker, type BreakerSettings, type BreakerTransition } from './breaker.js';
import { TenantCaps } from './caps.js';
import type { Clock, TimerHandle } from './clock.js';
import { emptyCounters, sumCounters, type TenantCounters } from './counters.js';
import { emptyReasonCounts, type HostRejectReason, type RejectReason } from './reasons.js';
import type { AdmissionDecision, JobRequestInfo, Reservation, SessionOutcome, TenantStats } from './types.js';

export interface AdmissionSettings {
  maxConcurrentSessions: number | null;
  tenants: {
    metadataKey: string;
    defaultTenant: string;
    requireConfig: boolean;
    maxSessions: Record<string, number>;
    phoneNumbers?: PhoneNumberSource;
  };
  breaker: BreakerSettings;
  assignmentTimeoutMs: number;
  /** Turn calls away while the event loop is already late; omitted: never. */
  overload?: OverloadSettings;
}

export interface OverloadSettings {
  enabled: boolean;
  /** Reject while loop delay p99 over `windowMs` is above this. */
  maxLoopDelayMs: number;
  windowMs: number;
}

export interface AdmissionEvents {
  /** `elapsedMs`: from the request reaching admission to its decision, config load included. */
  onReject?(e: { jobId: string; tenant?: string; reason: RejectReason; message: string; elapsedMs: number }): void;
  onAccept?(e: { jobId: string; tenant: string; probe: boolean; elapsedMs: number }): void;
  onBreakerTransition?(e: BreakerTransition & { tenant: string }): void;
  onReservationExpired?(e: { jobId: string; tenant: string }): void;
  onSessionEnd?(e: { jobId: string; tenant: string; outcome: SessionOutcome }): void;
}

export interface AdmissionOptions extends AdmissionSettings {
  clock: Clock;
  resolver: TenantConfigResolver;
  events?: AdmissionEvents;
  /** Event-loop delay p99 (ms) over the last `windowMs`; the overload gate reads it. */
  loopDelayP99?: (windowMs: number) => number;
}

/**
 * The single decision point for job requests. Everything asynchronous (tenant lookup, config
 * load) happens first; the breaker check, the cap checks and the reservation then happen in one
 * synchronous step, so concurrent requests can never overshoot a cap.
 */
export class Admission {
  #settings: AdmissionSettings;
  #phoneLookup: PhoneLookup | undefined;
  readonly #caps: TenantCaps;
  readonly #counters = new Map<string, TenantCounters>();
  readonly #breakers = new Map<string, CircuitBreaker>();
  /**
   * Rejections decided before a tenant was known (a malformed id, or draining). They belong to
   * the worker, not to a tenant row: a made-up row would pick up a cap and a breaker.
   */
  readonly #rejectedWithoutTenant = emptyReasonCounts();
  #draining = false;
  #inUse = 0;
  #nextReservation = 1;

  constructor(private readonly options: AdmissionOptions) {
    this.#settings = options;
    this.#phoneLookup = phoneNumberLookup(options.tenants.phoneNumbers);
    this.#caps = new TenantCaps(options.tenants.maxSessions);
  }

  get draining(): boolean {
    return this.#draining;
  }

  setDraining(draining: boolean): void {
    this.#draining = draining;
  }

  inUse(): number {
    return this.#inUse;
  }

  capacity(): number | null {
    return this.#settings.maxConcurrentSessions;
  }

  updateSettings(settings: AdmissionSettings): void {
    this.#settings = settings;
    this.#phoneLookup = phoneNumberLookup(settings.tenants.phoneNumbers);
    this.#caps.update(settings.tenants.maxSessions);
    for (const breaker of this.#breakers.values()) breaker.updateSettings(settings.breaker);
  }

  async decide(req: JobRequestInfo): Promise<AdmissionDecision> {
    const since = this.options.clock.now();
    const reject = (tenant: string | undefined, reason: RejectReason, message: string) => this.#reject(req.jobId, tenant, reason, message, since);
    if (this.#draining) return reject(undefined, 'draining', 'the worker is draining');

    const { tenants } = this.#settings;
    const resolved = await resolveTenant(req, {
      metadataKey: tenants.metadataKey,
      defaultTenant: tenants.defaultTenant,
      ...(this.#phoneLookup ? { phoneNumbers: this.#phoneLookup } : {}),
    });
    if (!resolved.ok) return reject(undefined, 'invalid_tenant', resolved.message);
    const tenant = resolved.tenant;

    // Before the config load: an overloaded worker should not spend a lookup on a call it will not take.
    const overloaded = this.#overloadMessage();
    if (overloaded) return reject(tenant, 'worker_overloaded', overloaded);

    const config = await this.options.resolver.resolve(tenant);
    if (!config.ok) {
      // A tenant whose config cannot load would fail every session; count it toward its breaker.
      this.#breaker(tenant).record('failed', false);
      return reject(tenant, config.reason, config.message);
    }
    if (config.config === undefined && tenants.requireConfig) {
      return reject(tenant, 'tenant_not_configured', `tenant "${tenant}" has no config and tenants.requireConfig is set`);
    }

    // From here to the reservation: no await.
    if (this.#draining) return reject(tenant, 'draining', 'the worker is draining');
    const admit = this.#breaker(tenant).tryAdmit();
    if (!admit.ok) {
      const seconds = Math.ceil(admit.retryInMs / 1000);
      return reject(
        tenant,
        'breaker_open',
        seconds > 0 ? `tenant "${tenant}" circuit breaker is open (${seconds}s left)` : `tenant "${tenant}" circuit breaker is half-open and its probes are in flight`,
      );
    }
    const capReject = this.#capReject(tenant);
    if (capReject) {
      if (admit.probe) this.#breaker(tenant).cancelProbe();
      return reject(tenant, capReject.reason, capReject.message);
    }
    const counters = this.#countersFor(tenant);

    const reservation = this.#reserve(req, tenant, admit.probe);
    counters.accepted += 1;
    this.options.events?.onAccept?.({ jobId: req.jobId, tenant, probe: admit.probe, elapsedMs: this.options.clock.now() - since });
    return { accept: true, tenant, reservation, config: config.config };
  }

  /**
   * Counts a rejection the worker host decided outside `decide()`: a job for an agent this worker
   * does not host, or an admission that threw or did not answer in time.
   */
  recordRejection(e: { jobId: string; reason: HostRejectReason; message: string; tenant?: string; elapsedMs?: number }): void {
    this.#reject(e.jobId, e.tenant, e.reason, e.message, this.options.clock.now() - (e.elapsedMs ?? 0));
  }

  #overloadMessage(): string | undefined {
    const overload = this.#settings.overload;
    if (!overload?.enabled || !this.options.loopDelayP99) return undefined;
    const p99 = this.options.loopDelayP99(overload.windowMs);
    if (!(p99 > overload.maxLoopDelayMs)) return undefined;
    return `the worker is overloaded: event-loop delay p99 over the last ${Math.round(overload.windowMs / 1000)}s is ${Math.round(p99)} ms, above overload.maxLoopDelayMs (${overload.maxLoopDelayMs} ms)`;
  }

  #capReject(tenant: string): { reason: RejectReason; message: string } | undefined {
    const counters = this.#countersFor(tenant);
    const cap = this.#caps.capFor(tenant);
    if (cap !== null && counters.active + counters.reserved >= cap) {
      return { reason: 'tenant_capacity', message: `tenant "${tenant}" is at its cap of ${cap} sessions` };
    }
    const global = this.#settings.maxConcurrentSessions;
    if (global !== null && this.#inUse >= global) {
      return { reason: 'worker_capacity', message: `the worker is at its cap of ${global} sessions` };
    }
    return undefined;
  }

  #reserve(req: JobRequestInfo, tenant: string, probe: boolean): Reservation {
    const counters = this.#countersFor(tenant);
    const clock = this.options.clock;
    counters.reserved += 1;
    this.#inUse += 1;
    let started = false;
    let released = false;
    let timer: TimerHandle | undefined;
    const release = (outcome: SessionOutcome): boolean => {
      if (released) return false;
      released = true;
      if (timer) clock.clearTimeout(timer);
      this.#inUse -= 1;
      if (started) counters.active -= 1;
      else counters.reserved -= 1;
      const breaker = this.#breaker(tenant);
      if (outcome.kind === 'success') counters.succeeded += 1;
      if (outcome.kind === 'failed') counters.failed += 1;
      if (outcome.kind === 'cancelled') {
        if (probe) breaker.cancelProbe();
      } else {
        breaker.record(outcome.kind, probe);
      }
      this.options.events?.onSessionEnd?.({ jobId: req.jobId, tenant, outcome });
      return true;
    };
    timer = clock.setTimeout(() => {
      timer = undefined;
      if (!started && release({ kind: 'cancelled', reason: 'assignment_timeout' })) {
        this.options.events?.onReservationExpired?.({ jobId: req.jobId, tenant });
      }
    }, this.#settings.assignmentTimeoutMs);

    return {
      id: `R${this.#nextReservation++}`,
      jobId: req.jobId,
      tenant,
      agentName: req.agentName,
      probe,
      markStarted: () => {
        if (started || released) return;
        started = true;
        if (timer) clock.clearTimeout(timer);
        timer = undefined;
        counters.reserved -= 1;
        counters.active += 1;
        counters.started += 1;
      },
      release,
      get released() {
        return released;
      },
    };
  }

  #reject(jobId: string, tenant: string | undefined, reason: RejectReason, message: string, since: number): AdmissionDecision {
    if (tenant === undefined) this.#rejectedWithoutTenant[reason] += 1;
    else this.#countersFor(tenant).rejected[reason] += 1;
    const elapsedMs = this.options.clock.now() - since;
    this.options.events?.onReject?.({ jobId, ...(tenant !== undefined ? { tenant } : {}), reason, message, elapsedMs });
    return { accept: false, reason, ...(tenant !== undefined ? { tenant } : {}), message };
  }

  #countersFor(tenant: string): TenantCounters {
    let c = this.#counters.get(tenant);
    if (!c) {
      c = emptyCounters();
      this.#counters.set(tenant, c);
    }
    return c;
  }

  #breaker(tenant: string): CircuitBreaker {
    let b = this.#breakers.get(tenant);
    if (!b) {
      b = new CircuitBreaker(this.#settings.breaker, this.options.clock, (t) =>
        this.options.events?.onBreakerTransition?.({ ...t, tenant }),
      );
      this.#breakers.set(tenant, b);
    }
    return b;
  }

  /** The cap the config gives this tenant (its own, else `*`), ignoring operator overrides. */
  configuredCap(tenant: string): number | null {
    return this.#caps.configuredCap(tenant);
  }

  setTenantCap(tenant: string, cap: number | null): void {
    this.#countersFor(tenant);
    this.#caps.setOverride(tenant, cap);
  }

  tripBreaker(tenant: string, forMs?: number): void {
    this.#countersFor(tenant);
    this.#breaker(tenant).trip(forMs);
  }

  resetBreaker(tenant: string): void {
    this.#breaker(tenant).reset();
  }

  knownTenant(tenant: string): boolean {
    return this.#counters.has(tenant) || this.#caps.tenants().includes(tenant);
  }

  tenantStat(tenant: string): TenantStats | undefined {
    if (!this.knownTenant(tenant)) return undefined;
    const c = this.#countersFor(tenant);
    return {
      tenant,
      active: c.active,
      reserved: c.reserved,
      cap: this.#caps.capFor(tenant),
      accepted: c.accepted,
      rejected: { ...c.rejected },
      started: c.started,
      succeeded: c.succeeded,
      failed: c.failed,
      breaker: this.#breaker(tenant).view(),
    };
  }

  tenantStats(): TenantStats[] {
    const names = new Set([...this.#counters.keys(), ...this.#caps.tenants()]);
    return [...names]
      .sort()
      .map((t) => this.tenantStat(t))
      .filter((s): s is TenantStats => s !== undefined);
  }

  /** Worker-wide counts, including rejections that never reached a tenant. */
  totals(): TenantCounters {
    const total = sumCounters(this.#counters.values());
    for (const [reason, n] of Object.entries(this.#rejectedWithoutTenant) as [RejectReason, number][]) total.rejected[reason] += n;
    return total;
  }

  /**
   * Rejections with no tenant to count them under: `invalid_tenant`, `draining` before lookup, and
   * the worker host's own `unknown_agent` and `internal_error`.
   */
  rejectedWithoutTenant(): Record<RejectReason, number> {
    return { ...this.#rejectedWithoutTenant };
  }
}
