import type { TenantCounters } from '../admission/counters.js';
import type { TenantStats } from '../admission/types.js';
import type { InferenceStats } from '../inference/shared-inference.js';
import { redactText } from '../secrets/redact-text.js';
import type { SessionAttribution } from './attribution.js';
import type { LoopMonitor } from './loop-monitor.js';
import type { RecentEvents } from './recent-events.js';
import type { SessionRegistry } from './registry.js';
import { tenantRow } from './tenant-row.js';
import {
  fitId,
  fitText,
  SNAPSHOT_VERSION,
  type FootprintSnapshot,
  type InferenceSnapshot,
  type LoadSnapshot,
  type RecycleSnapshot,
  type SnapshotV1,
  type StoreSnapshot,
} from './snapshot-schema.js';

/** The part of admission the snapshot reads; the real `Admission` satisfies it. */
export interface AdmissionView {
  tenantStats(): TenantStats[];
  totals(): TenantCounters;
  inUse(): number;
  capacity(): number | null;
  readonly draining: boolean;
}

export interface SnapshotSources {
  worker: { name: string; version: string; startedAt: number };
  /** Epoch ms. */
  now(): number;
  registry: SessionRegistry;
  admission: AdmissionView;
  loop: Pick<LoopMonitor, 'stats'>;
  attribution: Pick<SessionAttribution, 'usage' | 'memoryShare'>;
  events: Pick<RecentEvents, 'list'>;
  memory(): { rss: number; heapUsed: number };
  /** The load reported to LiveKit and the overload gate's state. */
  load?: () => LoadSnapshot;
  /** The shared inference process. */
  inference?: { stats(): InferenceStats };
  /** What the worker holds (map sizes, handles, memory split), for finding leaks. */
  footprint?: () => FootprintSnapshot;
  /** The fleet store's kind and health. */
  store?: () => StoreSnapshot;
  /** Sessions served, the memory trend and the recycle condition nearest to firing. */
  recycle?: () => RecycleSnapshot;
  pid?: number;
}

/** How many recent events a snapshot carries. */
export const SNAPSHOT_EVENTS = 50;

/**
 * Assembles the versioned snapshot from the live sources. Registry records and tenant rows, which
 * hold configs and providers, are copied field by field; the spreads copy only plain counter and
 * event objects whose every field belongs in the snapshot. Nothing else the sources hold leaks.
 */
export function buildSnapshot(sources: SnapshotSources): SnapshotV1 {
  const now = sources.now();
  const records = sources.registry.list();
  const mem = sources.memory();
  const memShare = sources.attribution.memoryShare(mem.heapUsed, records.length);
  const totals = sources.admission.totals();

  // Keyed by tenant ids: a plain {} would read `constructor` as Object and drop `__proto__`.
  const sessionsByTenant = Object.create(null) as Record<string, number>;
  const sessions = records.map((r) => {
    const tenant = fitId(r.tenant);
    sessionsByTenant[tenant] = (sessionsByTenant[tenant] ?? 0) + 1;
    const usage = sources.attribution.usage(r.sessionId);
    const row: SnapshotV1['sessions'][number] = {
      sessionId: fitId(r.sessionId),
      jobId: fitId(r.jobId),
      room: fitId(r.room),
      agent: fitId(r.agent),
      tenant,
      status: r.status,
      state: r.status === 'running' ? 'active' : r.status,
      ageS: Math.max(0, Math.round((now - r.startedAt) / 100) / 10),
      cpuPct: usage.cpuPct,
      memShareBytes: memShare,
      slow: usage.slow,
    };
    if (usage.lastBlockMs !== undefined) row.lastBlockMs = usage.lastBlockMs;
    return row;
  });

  return {
    v: SNAPSHOT_VERSION,
    generatedAt: now,
    worker: {
      name: fitId(sources.worker.name),
      pid: sources.pid ?? process.pid,
      uptimeS: Math.max(0, Math.round((now - sources.worker.startedAt) / 1000)),
      version: sources.worker.version.slice(0, 64),
      draining: sources.admission.draining,
      live: totals.live,
      active: totals.live,
      reserved: totals.reserved,
      capacity: sources.admission.capacity(),
      rssBytes: Math.round(mem.rss),
      heapUsedBytes: Math.round(mem.heapUsed),
      loop: { ...sources.loop.stats() },
      ...(sources.load ? { load: { ...sources.load() } } : {}),
      ...(sources.store ? { store: storeView(sources.store()) } : {}),
      totals: {
        accepted: totals.accepted,
        rejected: { ...totals.rejected },
        started: totals.started,
        succeeded: totals.succeeded,
        failed: totals.failed,
        maxDurationEnded: totals.maxDurationEnded,
        live: totals.live,
        active: totals.live,
        reserved: totals.reserved,
      },
      ...(sources.inference
        ? { inference: inferenceSnapshot(sources.inference.stats(), now) }
        : {}),
      ...(sources.footprint ? { footprint: sources.footprint() } : {}),
      ...(sources.recycle ? { recycle: sources.recycle() } : {}),
    },
    tenants: sources.admission.tenantStats().map((t) => tenantRow(t, now)),
    sessions,
    sessions_by_tenant: sessionsByTenant,
    events: sources.events
      .list(SNAPSHOT_EVENTS)
      .map((e) => (e.tenant === undefined ? { ...e } : { ...e, tenant: fitId(e.tenant) })),
  };
}

const MAX_RUNNERS = 64;

function inferenceSnapshot(s: InferenceStats, now: number): InferenceSnapshot {
  const out: InferenceSnapshot = {
    state: s.state,
    runners: s.runners.slice(0, MAX_RUNNERS).map((r) => fitText(r, 256)),
    rssBytes: Math.round(s.rssBytes),
    cpuPct: Math.round(s.cpuPct * 10) / 10,
    restarts: s.restarts,
    inFlight: s.inFlight,
    failedRequests: s.failedRequests,
  };
  if (s.pid !== undefined) out.pid = s.pid;
  if (s.readyAt !== undefined) out.uptimeS = Math.max(0, Math.round((now - s.readyAt) / 1000));
  // Free text from a child process: masked like any other message the snapshot carries.
  if (s.lastExit !== undefined) out.lastExit = fitText(redactText(s.lastExit), 300);
  if (s.disabledReason !== undefined)
    out.disabledReason = fitText(redactText(s.disabledReason), 300);
  return out;
}

function storeView(s: StoreSnapshot): StoreSnapshot {
  return {
    kind: s.kind,
    state: s.state,
    since: Math.round(s.since),
    ...(s.reason !== undefined ? { reason: s.reason.slice(0, 256) } : {}),
    ...(s.policy !== undefined ? { policy: s.policy } : {}),
  };
}
