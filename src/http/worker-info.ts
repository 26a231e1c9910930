import { JobType } from '@livekit/protocol';
import type { BreakerStateName, TenantStats } from '../admission/types.js';
import { breakerSecondsLeft } from '../introspection/tenant-row.js';
import type { StoreSnapshot } from '../introspection/snapshot-schema.js';
import type { LoadReport } from '../load/load-model.js';
import type { RegistrationState } from '../worker/worker-host.js';
import type { InferenceHealth } from '../inference/shared-inference.js';
import type { HealthResult } from './health.js';

/** As stock agents-js reports them (`worker.ts`): a deployment tool reads these to recognise a worker. */
const PROJECT_TYPE = 'nodejs';
const WORKER_PROTOCOL_VERSION = 1;

export interface OverloadView {
  enabled: boolean;
  maxLoopDelayMs: number;
  windowMs: number;
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
}

export interface WorkerInfoSources {
  agentNames: string[];
  workerName: string;
  openrtcVersion: string;
  /** `@livekit/agents` version: the SDK the sessions run on. */
  sdkVersion: string;
  startedAt: number;
  now: number;
  registrations: RegistrationState[];
  health: HealthResult;
  draining: boolean;
  load: LoadReport;
  overload: OverloadView;
  /** Sessions that started and have not ended; stock calls the count `active_jobs`. */
  liveSessions: number;
  inUse: number;
  capacity: number | null;
  tenants: TenantStats[];
  sessionsByTenant: Iterable<[tenant: string, sessions: number]>;
  inference: InferenceHealth;
  /** Where fleet state lives (this process's memory, or Redis) and whether it answers. */
  store: StoreSnapshot;
  jobUpdatesQueued: number;
}

/**
 * The `/worker` document: stock agents-js's keys first, with the meaning they have there, then
 * openrtc's. Maps keyed by tenant are built with `Object.fromEntries`, so a tenant id such as
 * `__proto__` is an ordinary key.
 */
export function buildWorkerInfo(s: WorkerInfoSources) {
  return {
    // One registration per agent name: stock has one name, so several are joined with commas
    // and listed in full under `agent_names`.
    agent_name: s.agentNames.join(','),
    agent_name_is_env: false,
    deployment: '',
    worker_type: JobType[JobType.JT_ROOM],
    active_jobs: s.liveSessions,
    sdk_version: s.sdkVersion,
    project_type: PROJECT_TYPE,
    protocol_version: WORKER_PROTOCOL_VERSION,

    openrtc_version: s.openrtcVersion,
    worker_name: s.workerName,
    pid: process.pid,
    uptime_s: Math.max(0, Math.round((s.now - s.startedAt) / 1000)),
    health: s.health.message,
    draining: s.draining,
    agent_names: s.agentNames,
    registrations: s.registrations.map((r) => ({
      agent_name: r.agentName,
      registered: r.registered,
      worker_id: r.workerId ?? null,
    })),
    load: {
      load: s.load.load,
      status: s.load.full ? 'full' : 'available',
      full_reason: s.load.reason ?? null,
      measured: round3(s.load.measured),
      threshold: s.load.threshold,
      event_loop_utilization: round3(s.load.shares.eventLoopUtilization),
      loop_delay_share: round3(s.load.shares.loopDelay),
      sessions_share: round3(s.load.shares.sessions),
    },
    overload: {
      enabled: s.overload.enabled,
      max_loop_delay_ms: s.overload.maxLoopDelayMs,
      window_ms: s.overload.windowMs,
      loop_delay_p99_ms: round3(s.overload.loopDelayP99Ms),
      loop_delay_max_ms: round3(s.overload.loopDelayMaxMs),
      overloaded: s.overload.enabled && s.overload.loopDelayP99Ms > s.overload.maxLoopDelayMs,
    },
    sessions: { in_use: s.inUse, capacity: s.capacity },
    sessions_by_tenant: Object.fromEntries(s.sessionsByTenant),
    tenants: Object.fromEntries(
      s.tenants.map((t) => [
        t.tenant,
        {
          live: t.live,
          // Deprecated: the same count, under its old name.
          active: t.live,
          reserved: t.reserved,
          cap: t.cap,
          breaker: breakerInfo(t, s.now),
        },
      ]),
    ),
    store: {
      kind: s.store.kind,
      state: s.store.state,
      ...(s.store.reason !== undefined ? { reason: s.store.reason } : {}),
      ...(s.store.policy !== undefined ? { policy: s.store.policy } : {}),
    },
    inference: s.inference.expected
      ? { expected: true, running: s.inference.running }
      : { expected: false, running: false },
    job_updates_queued: s.jobUpdatesQueued,
  };
}

function breakerInfo(
  t: TenantStats,
  now: number,
): { state: BreakerStateName; seconds_left?: number; manual?: boolean } {
  const b = t.breaker;
  const secondsLeft = breakerSecondsLeft(b, now);
  return {
    state: b.state,
    ...(secondsLeft !== undefined ? { seconds_left: secondsLeft } : {}),
    ...(b.manual ? { manual: true } : {}),
  };
}

function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}
