import { z } from 'zod';
import { tenantKeyedRecord } from '../tenancy/tenant-keyed-record.js';

/**
 * The worker's live state as served over the control socket and printed by `openrtc top --json`.
 * Every object is strict and every leaf is a number, a flag, an identifier or a short message:
 * there is no free-form slot a provider config or a secret could travel in.
 */
export const SNAPSHOT_VERSION = 1 as const;

/** Longest id (room, job, session, agent, tenant, worker name) a snapshot carries. */
export const MAX_ID_CHARS = 256;

/**
 * Room names and job ids come from the server and may be longer than the schema's bound; the
 * snapshot carries them cut, ending in `…`, so it always parses.
 */
export function fitId(value: string): string {
  return fitText(value, MAX_ID_CHARS);
}

/** `text` cut to at most `max` characters, ending in `…` when it was cut. */
export function fitText(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

const count = z.number().int().nonnegative();
const ms = z.number().nonnegative();
const id = z.string().max(MAX_ID_CHARS);
const epochMs = z.number().nonnegative();

export const SessionStateSchema = z.enum(['starting', 'active', 'closing']);
export const BreakerStateSchema = z.enum(['closed', 'open', 'half_open']);
export const EventKindSchema = z.enum([
  'breaker',
  'reject',
  'slow_session',
  'audit',
  'drain',
  'config',
  'session',
  'worker',
]);

/** Counts per reject reason. Keys are reason codes; values are counts only. */
const reasonCounts = z.record(z.string().regex(/^[a-z_]{1,64}$/), count);

export const TotalsSchema = z.strictObject({
  accepted: count,
  rejected: reasonCounts,
  started: count,
  succeeded: count,
  failed: count,
  /** Sessions ended for running past `maxSessionDurationMs` (also counted as succeeded); added within v1, so optional. */
  maxDurationEnded: count.optional(),
  active: count,
  reserved: count,
});

export const LoopStatsSchema = z.strictObject({ p50Ms: ms, p99Ms: ms, maxMs: ms });

/** What the worker reports to LiveKit, and whether the overload gate is turning calls away. */
export const LoadSnapshotSchema = z.strictObject({
  load: z.number().min(0).max(1),
  full: z.boolean(),
  fullReason: z.enum(['draining', 'capacity', 'load']).optional(),
  overloaded: z.boolean(),
});

export const InferenceStateSchema = z.enum(['disabled', 'starting', 'running', 'down', 'stopped']);

/**
 * The shared inference process (agents-js `InferenceRunner`s, the local turn detector among
 * them). Added within v1: optional, so a snapshot from a worker without it still parses.
 */
export const InferenceSnapshotSchema = z.strictObject({
  state: InferenceStateSchema,
  /** While running. */
  pid: z.number().int().positive().optional(),
  /** Inference method ids the process serves, e.g. `lk_eot_audio`. */
  runners: z.array(id).max(64),
  rssBytes: count,
  /** Share of one core, every thread of the process. */
  cpuPct: z.number().nonnegative(),
  restarts: count,
  /** Since the current process became ready. */
  uptimeS: ms.optional(),
  inFlight: count,
  /** Requests failed because the process was down, died under them, or never answered. */
  failedRequests: count,
  /** How the last process ended, e.g. `was killed by SIGKILL`. */
  lastExit: z.string().max(300).optional(),
  /** Why there is no process, when `disabled`. */
  disabledReason: z.string().max(300).optional(),
});

export const WorkerSnapshotSchema = z.strictObject({
  name: id,
  pid: z.number().int().positive(),
  uptimeS: ms,
  version: z.string().max(64),
  draining: z.boolean(),
  active: count,
  reserved: count,
  /** null = unlimited. */
  capacity: count.nullable(),
  rssBytes: count,
  heapUsedBytes: count,
  loop: LoopStatsSchema,
  /** Absent from workers that do not measure their load. */
  load: LoadSnapshotSchema.optional(),
  totals: TotalsSchema,
  inference: InferenceSnapshotSchema.optional(),
});

export const BreakerSnapshotSchema = z.strictObject({
  state: BreakerStateSchema,
  /** Open only: seconds until it moves to half-open. */
  secondsLeft: ms.optional(),
  probesInFlight: count,
  lastTransitionAt: epochMs.optional(),
  manual: z.boolean().optional(),
});

export const TenantSnapshotSchema = z.strictObject({
  tenant: id,
  active: count,
  reserved: count,
  cap: count.nullable(),
  accepted: count,
  rejected: reasonCounts,
  succeeded: count,
  failed: count,
  maxDurationEnded: count.optional(),
  breaker: BreakerSnapshotSchema,
});

export const SessionSnapshotSchema = z.strictObject({
  sessionId: id,
  jobId: id,
  room: id,
  agent: id,
  tenant: id,
  state: SessionStateSchema,
  ageS: ms,
  /** Share of one core over the last interval, 0..100 (see attribution.ts for the method). */
  cpuPct: z.number().nonnegative(),
  /** An estimate, not a measurement (see attribution.ts). */
  memShareBytes: count,
  slow: z.boolean(),
  lastBlockMs: ms.optional(),
});

export const EventSnapshotSchema = z.strictObject({
  at: epochMs,
  kind: EventKindSchema,
  tenant: id.optional(),
  message: z.string().max(300),
});

export const SnapshotV1 = z.strictObject({
  v: z.literal(SNAPSHOT_VERSION),
  generatedAt: epochMs,
  worker: WorkerSnapshotSchema,
  tenants: z.array(TenantSnapshotSchema),
  sessions: z.array(SessionSnapshotSchema),
  /** Parsed into a null-prototype object: a tenant named `__proto__` or `constructor` is an ordinary key. */
  sessions_by_tenant: tenantKeyedRecord(id, count, 'a record of tenant -> live sessions'),
  events: z.array(EventSnapshotSchema),
});

export type SnapshotV1 = z.infer<typeof SnapshotV1>;
export type WorkerSnapshot = z.infer<typeof WorkerSnapshotSchema>;
export type TenantSnapshot = z.infer<typeof TenantSnapshotSchema>;
export type SessionSnapshot = z.infer<typeof SessionSnapshotSchema>;
export type EventSnapshot = z.infer<typeof EventSnapshotSchema>;
export type EventKind = z.infer<typeof EventKindSchema>;
export type LoopStats = z.infer<typeof LoopStatsSchema>;
export type LoadSnapshot = z.infer<typeof LoadSnapshotSchema>;
export type InferenceSnapshot = z.infer<typeof InferenceSnapshotSchema>;
