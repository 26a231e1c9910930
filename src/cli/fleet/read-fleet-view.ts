import type { FleetTenantRow, FleetView, FleetWorkerRow } from '../../introspection/fleet-view.js';
import type { HeartbeatView } from '../../store/fleet-store.js';
import type { FleetConnection } from './fleet-connection.js';

/** How many operator actions the view carries: enough for an incident's story. */
const AUDIT_ROWS = 20;

/**
 * The one reader of the fleet view (`top --fleet`, `tenant list --fleet`): leases, overrides,
 * heartbeats and the audit log, straight from the store, no worker socket involved.
 */
export async function readFleetView(fleet: FleetConnection): Promise<FleetView> {
  const started = performance.now();
  const { store } = fleet;
  const [leases, overrides, heartbeats, audit] = await Promise.all([
    store.leaseCounts(),
    store.capOverrides(),
    store.heartbeats(),
    store.auditLog(AUDIT_ROWS),
  ]);
  const readMs = performance.now() - started;
  const live = heartbeats.filter((h) => !h.stale);
  const workers = heartbeats.map(workerRow);
  return {
    readAt: Date.now(),
    store: {
      kind: 'redis',
      url: fleet.url,
      keyPrefix: fleet.keyPrefix,
      state: store.health().state,
      readMs: Math.round(readMs * 10) / 10,
    },
    tenants: tenantRows(leases, overrides, live),
    workers,
    totals: {
      live: [...leases.values()].reduce((a, b) => a + b, 0),
      workers: workers.length,
      stopped: workers.filter((w) => w.stopped).length,
      draining: workers.filter((w) => w.draining && !w.stopped).length,
    },
    audit: audit.map((a) => ({ ...a })),
  };
}

function workerRow(h: HeartbeatView): FleetWorkerRow {
  return {
    worker: h.worker,
    name: h.name ?? null,
    host: h.host,
    pid: h.pid,
    draining: h.draining,
    sessionsByTenant: h.sessionsByTenant,
    sessions: Object.values(h.sessionsByTenant).reduce((a, b) => a + b, 0),
    loopP99Ms: h.loopP99Ms,
    heartbeatAgeMs: h.ageMs,
    stopped: h.stale,
  };
}

/** Every tenant with a lease, an override, or a cap on a live worker; live/cap for each. */
function tenantRows(
  leases: Map<string, number>,
  overrides: Map<string, number>,
  live: HeartbeatView[],
): FleetTenantRow[] {
  const reported = new Map<string, Set<number | null>>();
  for (const h of live)
    for (const [tenant, cap] of Object.entries(h.caps ?? {})) {
      let caps = reported.get(tenant);
      if (!caps) reported.set(tenant, (caps = new Set()));
      caps.add(cap);
    }
  const names = new Set([...leases.keys(), ...overrides.keys(), ...reported.keys()]);
  return [...names].sort().map((tenant) => {
    const override = overrides.get(tenant) ?? null;
    const caps = [...(reported.get(tenant) ?? [])];
    const row: FleetTenantRow = {
      tenant,
      live: leases.get(tenant) ?? 0,
      cap: override ?? highestCap(caps),
      capOverride: override,
    };
    if (override === null && caps.length > 1) row.capsDiffer = caps.sort(byCap);
    return row;
  });
}

/** The highest of the caps workers report; no cap (null) is the highest of all. */
export function highestCap(caps: (number | null)[]): number | null {
  if (caps.length === 0 || caps.includes(null)) return null;
  return Math.max(...(caps as number[]));
}

function byCap(a: number | null, b: number | null): number {
  return (a ?? Infinity) - (b ?? Infinity);
}
