import type { BreakerSettings, BreakerTransition } from '../admission/breaker.js';
import type { BreakerView } from '../admission/types.js';
import type { StoreHealth } from './store-health.js';

/**
 * Everything the workers of a fleet share. The memory store is one process's own (the default);
 * the Redis store is shared by every worker pointed at the same Redis and key prefix. Both pass
 * the same contract suite (`test/store/store-contract.ts`).
 */
export interface FleetStore {
  readonly kind: 'memory' | 'redis';
  /** The memory store is always `ok`; the Redis store says whether Redis answers. */
  health(): StoreHealth;

  /**
   * One new session's fleet decision, atomically and in one round trip: the tenant's breaker
   * (taking a half-open probe slot if the session goes through as a probe), then the caps and the
   * lease. A session turned away by a cap holds no probe slot.
   */
  admitSession(req: AdmitRequest): Promise<AdmitResult>;
  /** Takes a slot for `leaseId` unless the tenant or the fleet is at its cap; atomic. */
  acquireLease(req: AcquireRequest): Promise<AcquireResult>;
  /** Idempotent: releasing a lease that is gone (expired, released) is not an error. */
  releaseLease(lease: LeaseKey): Promise<void>;
  /**
   * Pushes every given lease's expiry to now + `ttlMs` in one call. A lease that is gone is
   * re-added when the store lost its data (restart), so every worker re-asserts what it holds;
   * one that expired while the store kept its data is lost: another worker may hold the slot now.
   */
  renewLeases(leases: readonly LeaseKey[], ttlMs: number): Promise<RenewResult>;
  /** Live (unexpired) leases per tenant across the fleet. */
  leaseCounts(): Promise<Map<string, number>>;

  /** The shared breaker's verdict for one new session; takes a probe slot in half-open. */
  breakerAdmit(tenant: string, settings: BreakerSettings): Promise<BreakerAdmit>;
  /** Counts one session's outcome; returns the transition it caused, if any. */
  breakerRecord(
    tenant: string,
    outcome: 'success' | 'failed',
    probe: boolean,
    settings: BreakerSettings,
  ): Promise<BreakerTransition | undefined>;
  /** A probe that never ran gives its slot back without a verdict. */
  breakerCancelProbe(tenant: string): Promise<void>;
  breakerTrip(
    tenant: string,
    forMs: number,
    by: AuditActor,
    settings: BreakerSettings,
  ): Promise<BreakerTransition | undefined>;
  breakerReset(
    tenant: string,
    by: AuditActor,
    settings: BreakerSettings,
  ): Promise<BreakerTransition | undefined>;
  breakerView(tenant: string, settings: BreakerSettings): Promise<BreakerView>;
  /** Every tenant whose breaker is open or half-open. */
  breakerStates(): Promise<BreakerRecord[]>;
  /**
   * Puts back the breakers a worker last saw open or half-open, after the store lost its data:
   * each where the tenant's breaker has not moved since (an operator's reset or new failures
   * win). Half-open comes back as open with no time left, so its next session is a probe.
   * Returns how many were put back.
   */
  restoreBreakers(records: readonly BreakerRecord[]): Promise<number>;

  /** `null` clears the override. Overrides survive worker restarts. */
  setCapOverride(tenant: string, cap: number | null, by: AuditActor): Promise<void>;
  capOverrides(): Promise<Map<string, number>>;
  /**
   * Writes back the overrides a worker last read, after the store lost its data, each only where
   * the tenant has none (an operator's newer one wins); not audited, since no one acted. Returns
   * how many were written.
   */
  restoreCapOverrides(overrides: ReadonlyMap<string, number>): Promise<number>;

  /** Tells every worker to drop one tenant's cached config (`null`: every tenant's). */
  publishInvalidation(tenant: string | null, by: AuditActor): Promise<void>;
  /** Returns the unsubscribe function. */
  onInvalidation(listener: (tenant: string | null) => void): () => void;

  /** Operator actions taken through the store (trip, reset, cap, reload), newest first. */
  auditLog(limit: number): Promise<AuditRecord[]>;

  publishHeartbeat(hb: Heartbeat, ttlMs: number): Promise<void>;
  /** Every worker seen within the retention, stale ones (heartbeat older than its TTL) marked. */
  heartbeats(): Promise<HeartbeatView[]>;
  removeHeartbeat(worker: string): Promise<void>;

  close(): Promise<void>;
}

export interface LeaseKey {
  tenant: string;
  /** Unique per accepted job across the fleet (worker id + job id). */
  leaseId: string;
}

export interface AcquireRequest extends LeaseKey {
  tenantCap: number | null;
  fleetCap: number | null;
  ttlMs: number;
}

export type AcquireResult =
  | { ok: true }
  | { ok: false; reason: 'tenant_capacity' | 'fleet_capacity'; held: number; cap: number };

export interface AdmitRequest extends AcquireRequest {
  breaker: BreakerSettings;
}

export type AdmitResult =
  | { ok: true; probe: boolean }
  | { ok: false; reason: 'breaker_open'; retryInMs: number }
  | Extract<AcquireResult, { ok: false }>;

export interface RenewResult {
  renewed: number;
  /** Re-added after the store lost its data. */
  reasserted: number;
  /** The store lost its data since this worker's last renewal (a restart without persistence). */
  dataLost: boolean;
  /** Expired while the store kept its data: the slot may be someone else's now. */
  lost: LeaseKey[];
}

/** A breaker that is not closed, with what it takes to put it back. */
export interface BreakerRecord {
  tenant: string;
  state: 'open' | 'half_open';
  /** Left of the open hold; 0 when half-open. */
  remainingMs: number;
  openForMs: number;
  /** Tripped by an operator. */
  manual: boolean;
}

export type BreakerAdmit = { ok: true; probe: boolean } | { ok: false; retryInMs: number };

export interface AuditActor {
  /** The worker that acted, or for the CLI, the host and pid it ran as. */
  worker: string;
  /** Who: the OS user for the CLI; how the worker was reached for a worker. */
  operator: string;
  /** A worker's control socket, or the CLI acting on the store directly (`--fleet`). */
  source: 'worker' | 'cli';
}

export interface AuditRecord extends AuditActor {
  at: number;
  action: 'trip' | 'reset' | 'cap' | 'reload';
  tenant: string | null;
  detail: string;
}

export interface Heartbeat {
  worker: string;
  host: string;
  pid: number;
  draining: boolean;
  sessionsByTenant: Record<string, number>;
  loopP99Ms: number;
  /** The config's `name`. */
  name?: string;
  /**
   * The configured cap (before any fleet override; null: none) of each tenant this worker knows,
   * named in its config or seen in a job, so the fleet view can show active/cap and the CLI can
   * tell a known tenant from a typo.
   */
  caps?: Record<string, number | null>;
  /** This worker's breaker settings: a trip from the CLI holds for the configured cooldown. */
  breaker?: BreakerSettings;
}

export interface HeartbeatView extends Heartbeat {
  /** Store time (ms) of the last heartbeat. */
  at: number;
  /** How long ago that was, on the store's clock (the reader's own may differ). */
  ageMs: number;
  stale: boolean;
}

/** How long a stopped worker's last heartbeat stays listed (as stale) before it is dropped. */
export const HEARTBEAT_RETENTION_MS = 10 * 60_000;
