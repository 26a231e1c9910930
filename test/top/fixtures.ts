import { emptyReasonCounts } from '../../src/admission/reasons.js';
import type {
  SessionSnapshot,
  SnapshotV1,
  TenantRow,
} from '../../src/introspection/snapshot-schema.js';
import type { ConnectionState, SnapshotSource } from '../../src/top/snapshot-source.js';

export const AT = Date.UTC(2026, 0, 2, 3, 4, 5);

/** A row as a worker sends it: the deprecated `active` repeats `live`. */
export function tenant(name: string, over: Partial<Omit<TenantRow, 'active'>> = {}): TenantRow {
  const live = over.live ?? 0;
  return {
    tenant: name,
    live,
    active: live,
    reserved: 0,
    cap: 10,
    accepted: 0,
    rejected: emptyReasonCounts(),
    succeeded: 0,
    failed: 0,
    maxDurationEnded: 0,
    breaker: { state: 'closed', probesInFlight: 0 },
    ...over,
  };
}

export function session(
  id: string,
  tenantName: string,
  over: Partial<Omit<SessionSnapshot, 'state'>> = {},
): SessionSnapshot {
  const status = over.status ?? 'running';
  return {
    sessionId: id,
    jobId: `job-${id}`,
    room: `room-${id}`,
    agent: 'support',
    tenant: tenantName,
    status,
    // As a worker sends it: the deprecated `state` names `running` by its old name.
    state: status === 'running' ? 'active' : status,
    ageS: 10,
    cpuPct: 0.5,
    memShareBytes: 2_000_000,
    slow: false,
    ...over,
  };
}

export function snapshot(over: Partial<SnapshotV1> = {}): SnapshotV1 {
  const sessions = over.sessions ?? [
    session('SA_alpha', 'acme', { ageS: 125, cpuPct: 1.5, status: 'running' }),
    session('SA_beta', 'acme', { ageS: 5, cpuPct: 12.25, status: 'starting', agent: 'booking' }),
    session('SG_gamma', 'globex', {
      ageS: 3700,
      cpuPct: 0.1,
      status: 'closing',
      slow: true,
      lastBlockMs: 210,
    }),
  ];
  const byTenant: Record<string, number> = {};
  for (const s of sessions) byTenant[s.tenant] = (byTenant[s.tenant] ?? 0) + 1;
  return {
    v: 1,
    generatedAt: AT,
    worker: {
      name: 'agency-eu-1',
      pid: 4242,
      uptimeS: 3725,
      version: '0.1.0',
      draining: false,
      live: sessions.length,
      active: sessions.length,
      reserved: 0,
      capacity: 50,
      rssBytes: 210 * 1024 * 1024,
      heapUsedBytes: 64 * 1024 * 1024,
      loop: { p50Ms: 10.2, p99Ms: 13.4, maxMs: 48 },
      totals: {
        accepted: 9,
        rejected: { ...emptyReasonCounts(), tenant_capacity: 2, invalid_tenant: 3 },
        started: 3,
        succeeded: 4,
        failed: 1,
        maxDurationEnded: 0,
        live: sessions.length,
        active: sessions.length,
        reserved: 0,
      },
      inference: {
        state: 'running',
        pid: 4243,
        runners: ['lk_eot_audio'],
        rssBytes: 338 * 1024 * 1024,
        cpuPct: 3.2,
        restarts: 0,
        uptimeS: 3724,
        inFlight: 0,
        failedRequests: 0,
      },
    },
    tenants: [
      tenant('acme', {
        live: 2,
        accepted: 6,
        failed: 1,
        rejected: { ...emptyReasonCounts(), tenant_capacity: 2 },
      }),
      tenant('globex', {
        live: 1,
        cap: 2,
        breaker: { state: 'open', secondsLeft: 12, probesInFlight: 0, manual: true },
      }),
    ],
    sessions,
    sessions_by_tenant: byTenant,
    events: [
      { at: AT - 4000, kind: 'config', message: 'config reloaded; changed: tenants' },
      {
        at: AT - 3000,
        kind: 'reject',
        message: 'invalid_tenant: tenant "bad tenant!" is not 1-128 of [A-Za-z0-9_-]',
      },
      { at: AT - 2000, kind: 'breaker', tenant: 'globex', message: 'closed -> open: manual trip' },
      {
        at: AT - 1000,
        kind: 'reject',
        tenant: 'acme',
        message: 'tenant_capacity: acme is at its cap of 10',
      },
    ],
    ...over,
  };
}

/** A snapshot source the test drives by hand. */
export class FakeSource implements SnapshotSource {
  onSnapshot: ((s: SnapshotV1) => void) | undefined;
  onState: ((s: ConnectionState) => void) | undefined;
  unsubscribed = 0;

  subscribe(
    onSnapshot: (s: SnapshotV1) => void,
    onState: (s: ConnectionState) => void,
  ): () => void {
    this.onSnapshot = onSnapshot;
    this.onState = onState;
    return () => {
      this.unsubscribed++;
    };
  }

  push(s: SnapshotV1): void {
    this.onState?.({ status: 'connected', socketPath: '/x.sock' });
    this.onSnapshot?.(s);
  }

  lose(reason: string, workerGone: boolean): void {
    this.onState?.({ status: 'disconnected', reason, workerGone });
  }
}

export function manySessions(n: number): SessionSnapshot[] {
  return Array.from({ length: n }, (_, i) =>
    session(
      `S_${String(i).padStart(4, '0')}_a_very_long_session_identifier`,
      i % 3 === 0 ? 'globex' : 'acme-with-a-long-tenant-name',
      {
        ageS: i,
        cpuPct: (i % 17) * 0.7,
        agent: 'an-agent-name-longer-than-its-column',
      },
    ),
  );
}
