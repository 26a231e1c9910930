/**
 * The fleet as `openrtc top --fleet` and `openrtc tenant list --fleet` show it, read from the
 * shared store (no worker socket): what `--json` prints. Like the snapshot, it only gains fields.
 */
export interface FleetView {
  /** When the view was read (epoch ms, the reader's clock). */
  readAt: number;
  store: FleetStoreState;
  tenants: FleetTenantRow[];
  workers: FleetWorkerRow[];
  totals: {
    /** Live leases across the fleet: sessions accepted and not yet ended. */
    live: number;
    workers: number;
    /** Workers whose heartbeat stopped (past its TTL): dead, or cut off from the store. */
    stopped: number;
    draining: number;
  };
  /** Operator actions taken through the store (trip, reset, cap, reload), newest first. */
  audit: FleetAuditRow[];
}

export interface FleetStoreState {
  kind: 'redis';
  /** Without credentials. */
  url: string;
  keyPrefix: string;
  state: 'ok' | 'degraded';
  /** How long reading this view took: Redis's round trips, as the CLI sees them. */
  readMs: number;
}

export interface FleetTenantRow {
  tenant: string;
  /** Live leases fleet-wide. */
  live: number;
  /** The fleet-wide cap: the override, else the live workers' configured cap; null: no cap. */
  cap: number | null;
  /** Set by `tenant cap T N` (shared by every worker), or null. */
  capOverride: number | null;
  /**
   * The caps live workers report when they differ (a rolling deploy with a changed config):
   * `cap` is then the highest of them.
   */
  capsDiffer?: (number | null)[];
}

export interface FleetWorkerRow {
  /** The worker's id in the fleet (lease ids and audit records carry it). */
  worker: string;
  /** The config's `name`, when the worker reports it. */
  name: string | null;
  host: string;
  pid: number;
  draining: boolean;
  sessionsByTenant: Record<string, number>;
  sessions: number;
  loopP99Ms: number;
  /** How long ago its last heartbeat was written, on the store's clock. */
  heartbeatAgeMs: number;
  /** Its heartbeat stopped: past its TTL. */
  stopped: boolean;
}

export interface FleetAuditRow {
  at: number;
  action: 'trip' | 'reset' | 'cap' | 'reload';
  tenant: string | null;
  detail: string;
  worker: string;
  operator: string;
  source: 'worker' | 'cli';
}
