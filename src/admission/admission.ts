import type { PhoneNumberSource, TenantConfig } from '../tenancy/types.js';
import type { TenantConfigResolver } from '../tenancy/config-resolver.js';
import { phoneNumberLookup, resolveTenant, type PhoneLookup } from '../tenancy/resolve-tenant.js';
import { CircuitBreaker, type BreakerSettings, type BreakerTransition } from './breaker.js';
import { TenantCaps } from './caps.js';
import type { FleetAdmission, FleetHold } from './fleet-admission.js';
import type { Clock, TimerHandle } from '../clock/clock.js';
import { addCounters, emptyCounters, sumCounters, type TenantCounters } from './counters.js';
import { emptyReasonCounts, type HostRejectReason, type RejectReason } from './reasons.js';
import { DEFAULT_IDLE_TENANT_ROWS, TenantRows, type TenantEntry } from './tenant-rows.js';
import {
  MAX_SESSION_DURATION_REASON,
  type AdmissionDecision,
  type JobRequestInfo,
  type Reservation,
  type SessionOutcome,
  type TenantStats,
} from './types.js';

export interface AdmissionSettings {
  maxConcurrentSessions: number | null;
  tenants: {
    metadataKey: string;
    defaultTenant: string;
    requireConfig: boolean;
    maxSessions: Record<string, number>;
    phoneNumbers?: PhoneNumberSource;
    /** Idle rows of unconfigured tenants kept on their own; older ones fold into `(other)`. */
    maxIdleTenantRows?: number;
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
  onReject?(e: {
    jobId: string;
    tenant?: string;
    reason: RejectReason;
    message: string;
    elapsedMs: number;
  }): void;
  onAccept?(e: { jobId: string; tenant: string; probe: boolean; elapsedMs: number }): void;
  onBreakerTransition?(e: BreakerTransition & { tenant: string }): void;
  onReservationExpired?(e: { jobId: string; tenant: string }): void;
  onSessionEnd?(e: { jobId: string; tenant: string; outcome: SessionOutcome }): void;
}

/** What admission works with, as opposed to its settings (which a config reload replaces). */
export interface AdmissionDeps {
  clock: Clock;
  resolver: TenantConfigResolver;
  events?: AdmissionEvents;
  /** Event-loop delay p99 (ms) over the last `windowMs`; the overload gate reads it. */
  loopDelayP99?: (windowMs: number) => number;
  /**
   * Fleet mode: tenant caps and the breaker are decided fleet-wide through the store first; this
   * process's own caps (its `maxConcurrentSessions` among them) still apply after.
   */
  fleet?: FleetAdmission;
}

export interface AdmissionOptions extends AdmissionSettings, AdmissionDeps {}

/**
 * The single decision point for job requests. Everything asynchronous (tenant lookup, config
 * load) happens first; the breaker check, the cap checks and the reservation then happen in one
 * synchronous step, so concurrent requests can never overshoot a cap.
 */
export class Admission {
  #settings: AdmissionSettings;
  #phoneLookup: PhoneLookup | undefined;
  readonly #caps: TenantCaps;
  readonly #rows: TenantRows;
  /**
   * Rejections decided before a tenant was known (a malformed id, or draining). They belong to
   * the worker, not to a tenant row: a made-up row would pick up a cap and a breaker.
   */
  readonly #rejectedWithoutTenant = emptyReasonCounts();
  /**
   * Decisions per job id, while being made and while their slot is held. A server that repeats
   * an availability request gets the same answer and the job holds one slot, not two. Only the
   * same request is a repeat: one that says something else under the same id is decided afresh.
   */
  readonly #deciding = new Map<string, DecidingEntry>();
  readonly #holding = new Map<
    string,
    { request: JobRequestInfo; decision: Extract<AdmissionDecision, { accept: true }> }
  >();
  #draining = false;
  #inUse = 0;
  #nextReservation = 1;

  /** Kept apart from the settings, so a reload leaves no stale copy of them behind. */
  readonly #deps: AdmissionDeps;

  constructor(options: AdmissionOptions) {
    const { clock, resolver, events, loopDelayP99, fleet, ...settings } = options;
    this.#deps = {
      clock,
      resolver,
      ...(events ? { events } : {}),
      ...(loopDelayP99 ? { loopDelayP99 } : {}),
      ...(fleet ? { fleet } : {}),
    };
    this.#settings = settings;
    this.#phoneLookup = phoneNumberLookup(settings.tenants.phoneNumbers);
    this.#caps = new TenantCaps(settings.tenants.maxSessions);
    this.#rows = new TenantRows(this.#rowOptions());
  }

  #rowOptions() {
    return {
      maxIdle: this.#settings.tenants.maxIdleTenantRows ?? DEFAULT_IDLE_TENANT_ROWS,
      isConfigured: (tenant: string) => this.isConfigured(tenant),
    };
  }

  /** Named by the config (a cap, a config record, the default tenant) or given a cap by an operator. */
  isConfigured(tenant: string): boolean {
    return (
      this.#caps.names(tenant) ||
      tenant === this.#settings.tenants.defaultTenant ||
      this.#deps.resolver.hasRecord(tenant)
    );
  }

  get draining(): boolean {
    return this.#draining;
  }

  setDraining(draining: boolean): void {
    this.#draining = draining;
  }

  /** Per-job entries (decisions being made, slots held awaiting assignment) and tenant rows. */
  footprint(): Record<string, number> {
    return {
      'admission.deciding': this.#deciding.size,
      'admission.holding': this.#holding.size,
      'admission.inUse': this.#inUse,
      'admission.tenantRows': this.#rows.size,
    };
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
    for (const row of this.#rows.rows()) row.breaker?.updateSettings(settings.breaker);
    this.#rows.update(this.#rowOptions());
  }

  /** Idempotent per job id: a repeated request gets the first one's decision while its slot is held. */
  decide(req: JobRequestInfo): Promise<AdmissionDecision> {
    const held = this.#holding.get(req.jobId);
    if (held && sameRequest(held.request, req) && !held.decision.reservation.released)
      return Promise.resolve(held.decision);
    const pending = this.#deciding.get(req.jobId);
    if (pending && sameRequest(pending.request, req)) return pending.decision;
    const entry: DecidingEntry = { request: req, decision: undefined! };
    this.#deciding.set(req.jobId, entry);
    entry.decision = this.#decide(req, entry);
    return entry.decision;
  }

  async #decide(req: JobRequestInfo, entry: DecidingEntry): Promise<AdmissionDecision> {
    try {
      return await this.#decideOnce(req);
    } finally {
      if (this.#deciding.get(req.jobId) === entry) this.#deciding.delete(req.jobId);
    }
  }

  async #decideOnce(req: JobRequestInfo): Promise<AdmissionDecision> {
    const since = this.#deps.clock.now();
    const reject = (
      tenant: string | undefined,
      reason: RejectReason,
      message: string,
      row?: TenantEntry,
    ) => this.#reject(req.jobId, tenant, reason, message, since, row);
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

    const config = await this.#deps.resolver.resolve(tenant);
    // This row serves the rejections below; the reservation looks its row up again after the
    // fleet's await, so a row folded meanwhile is never the one that gets reserved.
    const row = this.#rows.row(tenant);
    if (!config.ok) {
      // A tenant whose config cannot load would fail every session; count it toward its breaker.
      this.#breaker(tenant, row).record('failed', false);
      return reject(tenant, config.reason, config.message, row);
    }
    if (config.config === undefined && tenants.requireConfig) {
      return reject(
        tenant,
        'tenant_not_configured',
        `tenant "${tenant}" has no config and tenants.requireConfig is set`,
        row,
      );
    }

    if (this.#draining) return reject(tenant, 'draining', 'the worker is draining', row);
    let hold: FleetHold | undefined;
    const fleet = this.#deps.fleet;
    if (fleet) {
      const verdict = await fleet.admit(
        tenant,
        req.jobId,
        this.#caps.capFor(tenant),
        this.#settings.breaker,
      );
      // Another await: the row is looked up again below, and draining checked again.
      if (!verdict.ok) return reject(tenant, verdict.reason, verdict.message);
      hold = verdict.hold;
      if (this.#draining) {
        fleet.abandon(hold);
        return reject(tenant, 'draining', 'the worker is draining');
      }
    }
    return this.#decideLocally(req, tenant, config.config, hold, since);
  }

  /** Synchronous from the breaker check to the reservation, so one process never overshoots. */
  #decideLocally(
    req: JobRequestInfo,
    tenant: string,
    config: TenantConfig | undefined,
    hold: FleetHold | undefined,
    since: number,
  ): AdmissionDecision {
    const row = this.#rows.row(tenant);
    const reject = (reason: RejectReason, message: string) => {
      if (hold) this.#deps.fleet?.abandon(hold);
      return this.#reject(req.jobId, tenant, reason, message, since, row);
    };
    const breaker = this.#breaker(tenant, row);
    // With the store answering, the fleet's breaker decided; without it, this process's own does.
    const admit =
      hold && !hold.local ? { ok: true as const, probe: hold.probe } : breaker.tryAdmit();
    if (!admit.ok) {
      const seconds = Math.ceil(admit.retryInMs / 1000);
      return reject(
        'breaker_open',
        seconds > 0
          ? `tenant "${tenant}" circuit breaker is open (${seconds}s left)`
          : `tenant "${tenant}" circuit breaker is half-open and its probes are in flight`,
      );
    }
    const capReject = this.#capReject(tenant, row.counters);
    if (capReject) {
      if (admit.probe && !(hold && !hold.local)) breaker.cancelProbe();
      return reject(capReject.reason, capReject.message);
    }

    const reservation = this.#reserve(req, tenant, row, admit.probe, hold);
    row.counters.accepted += 1;
    this.#rows.settle(tenant);
    this.#deps.events?.onAccept?.({
      jobId: req.jobId,
      tenant,
      probe: admit.probe,
      elapsedMs: this.#deps.clock.now() - since,
    });
    const decision = { accept: true as const, tenant, reservation, config };
    this.#holding.set(req.jobId, { request: req, decision });
    return decision;
  }

  /**
   * Counts a rejection the worker host decided outside `decide()`: a job for an agent this worker
   * does not host, or an admission that threw or did not answer in time.
   */
  recordRejection(e: {
    jobId: string;
    reason: HostRejectReason;
    message: string;
    tenant?: string;
    elapsedMs?: number;
  }): void {
    this.#reject(
      e.jobId,
      e.tenant,
      e.reason,
      e.message,
      this.#deps.clock.now() - (e.elapsedMs ?? 0),
    );
  }

  #overloadMessage(): string | undefined {
    const overload = this.#settings.overload;
    if (!overload?.enabled || !this.#deps.loopDelayP99) return undefined;
    const p99 = this.#deps.loopDelayP99(overload.windowMs);
    if (!(p99 > overload.maxLoopDelayMs)) return undefined;
    return `the worker is overloaded: event-loop delay p99 over the last ${Math.round(overload.windowMs / 1000)}s is ${Math.round(p99)} ms, above overload.maxLoopDelayMs (${overload.maxLoopDelayMs} ms)`;
  }

  #capReject(
    tenant: string,
    counters: TenantCounters,
  ): { reason: RejectReason; message: string } | undefined {
    const cap = this.#caps.capFor(tenant);
    if (cap !== null && counters.live + counters.reserved >= cap) {
      return {
        reason: 'tenant_capacity',
        message: `tenant "${tenant}" is at its cap of ${cap} sessions`,
      };
    }
    const global = this.#settings.maxConcurrentSessions;
    if (global !== null && this.#inUse >= global) {
      return {
        reason: 'worker_capacity',
        message: `the worker is at its cap of ${global} sessions`,
      };
    }
    return undefined;
  }

  #reserve(
    req: JobRequestInfo,
    tenant: string,
    row: TenantEntry,
    probe: boolean,
    hold: FleetHold | undefined,
  ): Reservation {
    const { counters } = row;
    const clock = this.#deps.clock;
    counters.reserved += 1;
    this.#inUse += 1;
    let started = false;
    let released = false;
    let timer: TimerHandle | undefined;
    let settle!: () => void;
    const settled = new Promise<void>((resolve) => (settle = resolve));
    const release = (outcome: SessionOutcome): boolean => {
      if (released) return false;
      released = true;
      settle();
      if (timer) clock.clearTimeout(timer);
      this.#inUse -= 1;
      if (started) counters.live -= 1;
      else counters.reserved -= 1;
      // A held row is never folded, so `row` is still this tenant's row here.
      const breaker = this.#breaker(tenant, row);
      if (outcome.kind === 'success') counters.succeeded += 1;
      if (outcome.kind === 'failed') counters.failed += 1;
      if (outcome.reason === MAX_SESSION_DURATION_REASON) counters.maxDurationEnded += 1;
      // A fleet probe is the fleet breaker's; this process's breaker counts it as a plain sample.
      const localProbe = probe && !(hold && !hold.local);
      if (outcome.kind === 'cancelled') {
        if (localProbe) breaker.cancelProbe();
      } else {
        breaker.record(outcome.kind, localProbe);
      }
      if (hold) this.#deps.fleet?.end(hold, outcome, this.#settings.breaker);
      this.#rows.settle(tenant);
      if (this.#holding.get(req.jobId)?.decision.reservation === reservation)
        this.#holding.delete(req.jobId);
      this.#deps.events?.onSessionEnd?.({ jobId: req.jobId, tenant, outcome });
      return true;
    };
    timer = clock.setTimeout(() => {
      timer = undefined;
      if (!started && release({ kind: 'cancelled', reason: 'assignment_timeout' })) {
        this.#deps.events?.onReservationExpired?.({ jobId: req.jobId, tenant });
      }
    }, this.#settings.assignmentTimeoutMs);

    const reservation: Reservation = {
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
        counters.live += 1;
        counters.started += 1;
      },
      release,
      get released() {
        return released;
      },
      settled,
    };
    return reservation;
  }

  #reject(
    jobId: string,
    tenant: string | undefined,
    reason: RejectReason,
    message: string,
    since: number,
    row?: TenantEntry,
  ): AdmissionDecision {
    if (tenant === undefined) this.#rejectedWithoutTenant[reason] += 1;
    else (row ?? this.#rows.row(tenant)).counters.rejected[reason] += 1;
    const elapsedMs = this.#deps.clock.now() - since;
    this.#deps.events?.onReject?.({
      jobId,
      ...(tenant !== undefined ? { tenant } : {}),
      reason,
      message,
      elapsedMs,
    });
    return { accept: false, reason, ...(tenant !== undefined ? { tenant } : {}), message };
  }

  #breaker(tenant: string, row: TenantEntry): CircuitBreaker {
    row.breaker ??= new CircuitBreaker(this.#settings.breaker, this.#deps.clock, (t) =>
      this.#deps.events?.onBreakerTransition?.({ ...t, tenant }),
    );
    return row.breaker;
  }

  /** The cap the config gives this tenant (its own, else `*`), ignoring operator overrides. */
  configuredCap(tenant: string): number | null {
    return this.#caps.configuredCap(tenant);
  }

  setTenantCap(tenant: string, cap: number | null): void {
    this.#caps.setOverride(tenant, cap);
    // An operator's cap makes the tenant configured (its row stays); clearing it may make the row idle.
    this.#rows.row(tenant);
  }

  tripBreaker(tenant: string, forMs?: number): void {
    const row = this.#rows.row(tenant);
    this.#breaker(tenant, row).trip(forMs);
  }

  resetBreaker(tenant: string): void {
    const row = this.#rows.row(tenant);
    this.#breaker(tenant, row).reset();
  }

  /** Has a row (recently seen, configured, or holding a session) or is named in the config. */
  knownTenant(tenant: string): boolean {
    return this.#rows.find(tenant) !== undefined || this.isConfigured(tenant);
  }

  /** Reads only: looking at a row does not make it recently used, so the idle rows keep their order. */
  tenantStat(tenant: string): TenantStats | undefined {
    const row = this.#rows.find(tenant);
    if (row) return this.#stats(tenant, row.counters, row.breaker?.view() ?? CLOSED_BREAKER);
    return this.isConfigured(tenant)
      ? this.#stats(tenant, emptyCounters(), CLOSED_BREAKER)
      : undefined;
  }

  #stats(tenant: string, c: TenantCounters, breaker: TenantStats['breaker']): TenantStats {
    return {
      tenant,
      live: c.live,
      reserved: c.reserved,
      cap: tenant === OTHER_TENANTS_ROW ? null : this.#caps.capFor(tenant),
      accepted: c.accepted,
      rejected: { ...c.rejected },
      started: c.started,
      succeeded: c.succeeded,
      failed: c.failed,
      maxDurationEnded: c.maxDurationEnded,
      breaker,
    };
  }

  /** Every tenant with a row, every configured one, then the `(other)` row of folded idle tenants. */
  tenantStats(): TenantStats[] {
    const names = new Set([...this.#rows.tenants(), ...this.#caps.tenants()]);
    const stats = [...names]
      .sort()
      .map((t) => this.tenantStat(t))
      .filter((s): s is TenantStats => s !== undefined);
    const folded = this.#rows.folded();
    if (folded) stats.push(this.#stats(OTHER_TENANTS_ROW, folded.counters, CLOSED_BREAKER));
    return stats;
  }

  /** Worker-wide counts, including rejections that never reached a tenant and folded rows. */
  totals(): TenantCounters {
    const total = sumCounters([...this.#rows.rows()].map((r) => r.counters));
    const folded = this.#rows.folded();
    if (folded) addCounters(total, folded.counters);
    for (const [reason, n] of Object.entries(this.#rejectedWithoutTenant) as [
      RejectReason,
      number,
    ][])
      total.rejected[reason] += n;
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

interface DecidingEntry {
  request: JobRequestInfo;
  decision: Promise<AdmissionDecision>;
}

/** The same job offered again: every field admission reads is equal. */
function sameRequest(a: JobRequestInfo, b: JobRequestInfo): boolean {
  if (
    a.agentName !== b.agentName ||
    a.metadata !== b.metadata ||
    a.roomName !== b.roomName ||
    a.roomMetadata !== b.roomMetadata
  )
    return false;
  const ka = Object.keys(a.attributes ?? {});
  const kb = Object.keys(b.attributes ?? {});
  return (
    ka.length === kb.length &&
    ka.every((k) => Object.hasOwn(b.attributes ?? {}, k) && a.attributes?.[k] === b.attributes?.[k])
  );
}

const CLOSED_BREAKER: TenantStats['breaker'] = {
  state: 'closed',
  probesInFlight: 0,
  windowFailures: 0,
  windowSamples: 0,
};

/** Row that holds the counters of idle tenants folded out of their own rows. */
export const OTHER_TENANTS_ROW = '(other)';
