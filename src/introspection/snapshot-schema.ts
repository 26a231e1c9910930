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

/** A session's state: LiveKit's word for a job between start and end is running. */
export const SessionStatusSchema = z.enum(['starting', 'running', 'closing']);
/** Deprecated: `status` before it was named so, with `active` for `running`. Kept within v1. */
export const LegacySessionStateSchema = z.enum(['starting', 'active', 'closing']);
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
export const reasonCounts = z.record(z.string().regex(/^[a-z_]{1,64}$/), count);

export const InferenceStateSchema = z.enum(['disabled', 'starting', 'running', 'down', 'stopped']);

/**
 * How a schema treats fields it does not know: the worker's own output is checked strictly
 * (`z.strictObject`), while a client reading a worker strips what it does not know (`z.object`),
 * so an older `openrtc top` reads a newer worker of the same version.
 */
export type ObjectSchema = typeof z.strictObject;

/** A counter's name: `sessionHost.jobs`, or a Node resource type such as `Timeout`. */
const footprintKey = z.string().regex(/^[A-Za-z][A-Za-z0-9_.]{0,63}$/);

/**
 * How a schema treats a field renamed within v1. The worker sends the new name and, for older
 * clients, the old one (deprecated, never removed within v1). The producer's schema checks both;
 * a client's fills the new name from the old one when an older worker sent only that.
 */
export type RenamedFields = <T extends z.ZodType>(
  schema: T,
  fillNewNames: (fields: Record<string, unknown>) => void,
) => T;

const asWritten: RenamedFields = (schema) => schema;

export const fillingNewNames: RenamedFields = <T extends z.ZodType>(
  schema: T,
  fillNewNames: (fields: Record<string, unknown>) => void,
) =>
  // The preprocessed schema parses to the same output type; only what it accepts is wider.
  z.preprocess((value) => {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
    const fields = { ...(value as Record<string, unknown>) };
    fillNewNames(fields);
    return fields;
  }, schema) as unknown as T;

/** `live` was named `active` before. */
function liveFromActive(fields: Record<string, unknown>): void {
  if (fields.live === undefined) fields.live = fields.active;
}

/** `status` was `state`, where `running` was `active`. */
function statusFromState(fields: Record<string, unknown>): void {
  if (fields.status === undefined)
    fields.status = fields.state === 'active' ? 'running' : fields.state;
}

/**
 * Every schema of the snapshot, built for one way of treating unknown and renamed fields. The
 * compatibility policy: within one `v`, fields are only added, and an added field is optional
 * (one line here), or is a new name for a field whose old name stays (see `RenamedFields`);
 * removing or retyping a field bumps `SNAPSHOT_VERSION`.
 */
function snapshotSchemas(object: ObjectSchema, renamed: RenamedFields) {
  const TotalsSchema = renamed(
    object({
      accepted: count,
      rejected: reasonCounts,
      started: count,
      succeeded: count,
      failed: count,
      /** Sessions ended for running past `maxSessionDurationMs` (also counted as succeeded); added within v1, so optional. */
      maxDurationEnded: count.optional(),
      /** Sessions that started and have not ended (renamed within v1; older workers send `active`). */
      live: count,
      /** Deprecated: the same count as `live`, under its old name. */
      active: count,
      reserved: count,
    }),
    liveFromActive,
  );

  const LoopStatsSchema = object({ p50Ms: ms, p99Ms: ms, maxMs: ms });

  /** What the worker reports to LiveKit, and whether the overload gate is turning calls away. */
  const LoadSnapshotSchema = object({
    load: z.number().min(0).max(1),
    full: z.boolean(),
    fullReason: z.enum(['draining', 'capacity', 'load']).optional(),
    overloaded: z.boolean(),
  });

  /**
   * The shared inference process (agents-js `InferenceRunner`s, the local turn detector among
   * them). Added within v1: optional, so a snapshot from a worker without it still parses.
   */
  const InferenceSnapshotSchema = object({
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

  /**
   * What the worker holds, for finding leaks: sizes that must return to their idle values once
   * calls end, and the process's memory split as a soak samples it. Added within v1: optional.
   */
  const FootprintSnapshotSchema = object({
    /** Sessions that started and have ended since the worker started, however they ended. */
    sessionsServed: count,
    /** Sizes of the worker's own per-job and per-session state, by name. */
    tracked: z.record(footprintKey, count),
    /** Listeners on rtc-node's process-wide FFI client: one per connected room and open media stream. */
    ffiListeners: count,
    /** Node's active handles and requests by type (`process.getActiveResourcesInfo()`), timers included. */
    handles: z.record(footprintKey, count),
    heapTotalBytes: count,
    externalBytes: count,
    arrayBuffersBytes: count,
  });

  /** Where fleet state lives and whether it answers. Added within v1: optional. */
  const StoreSnapshotSchema = object({
    kind: z.enum(['memory', 'redis']),
    state: z.enum(['ok', 'degraded']),
    since: epochMs,
    /** Degraded only; never carries a password. */
    reason: z.string().max(256).optional(),
    /** Redis only: what decisions do while it does not answer. */
    policy: z.enum(['local', 'reject']).optional(),
  });

  /**
   * A long-lived worker's life so far: sessions served, how its memory grows with them, and how
   * near it is to recycling (see src/recycle/). Added within v1: optional.
   */
  const RecycleSnapshotSchema = object({
    /** Sessions that started and have ended since the worker started, however they ended. */
    sessionsServed: count,
    /** Least-squares growth per 1,000 sessions over recent samples; null until enough were served. */
    rssMiBPer1000Sessions: z.number().nullable(),
    nativeMiBPer1000Sessions: z.number().nullable(),
    /** `serving`; `handover` while its replacement starts; `draining` once it stopped accepting. */
    state: z.enum(['serving', 'handover', 'draining']),
    /** The configured condition nearest to firing (or the one that fired); absent when none is set. */
    nearest: object({
      name: z.enum(['maxSessions', 'maxRssMiB', 'maxNativeGrowthMiB', 'maxUptime']),
      /** In the limit's unit: sessions, MiB, or milliseconds for `maxUptime`. */
      value: z.number().nonnegative(),
      limit: z.number().positive(),
      /** `maxSessions 18/20`. */
      label: z.string().max(100),
    }).optional(),
  });

  const WorkerSnapshotSchema = renamed(
    object({
      name: id,
      pid: z.number().int().positive(),
      uptimeS: ms,
      version: z.string().max(64),
      draining: z.boolean(),
      /** Sessions that started and have not ended (renamed within v1; older workers send `active`). */
      live: count,
      /** Deprecated: the same count as `live`, under its old name. */
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
      footprint: FootprintSnapshotSchema.optional(),
      store: StoreSnapshotSchema.optional(),
      recycle: RecycleSnapshotSchema.optional(),
    }),
    liveFromActive,
  );

  const BreakerRowSchema = object({
    state: BreakerStateSchema,
    /** Open only: whole seconds, rounded up, until it moves to half-open. */
    secondsLeft: ms.optional(),
    probesInFlight: count,
    lastTransitionAt: epochMs.optional(),
    manual: z.boolean().optional(),
  });

  /**
   * One tenant row: the same fields wherever a tenant is reported (`top --json`, `tenant list
   * --json`, `tenant show --json`), built by `tenantRow()`.
   */
  const TenantRowSchema = renamed(
    object({
      tenant: id,
      /** The tenant's sessions that started and have not ended (`active` before, within v1). */
      live: count,
      /** Deprecated: the same count as `live`, under its old name. */
      active: count,
      reserved: count,
      cap: count.nullable(),
      accepted: count,
      rejected: reasonCounts,
      /** Added within v1, so optional. */
      started: count.optional(),
      succeeded: count,
      failed: count,
      maxDurationEnded: count.optional(),
      breaker: BreakerRowSchema,
    }),
    liveFromActive,
  );

  const SessionSnapshotSchema = renamed(
    object({
      sessionId: id,
      jobId: id,
      room: id,
      agent: id,
      tenant: id,
      /** Added within v1 as the new name of `state`; older workers send only `state`. */
      status: SessionStatusSchema,
      /** Deprecated: `status` under its old name, with `active` for `running`. */
      state: LegacySessionStateSchema,
      ageS: ms,
      /** Share of one core over the last interval, 0..100 (see attribution.ts for the method). */
      cpuPct: z.number().nonnegative(),
      /** An estimate, not a measurement (see attribution.ts). */
      memShareBytes: count,
      slow: z.boolean(),
      lastBlockMs: ms.optional(),
    }),
    statusFromState,
  );

  const EventSnapshotSchema = object({
    at: epochMs,
    kind: EventKindSchema,
    tenant: id.optional(),
    message: z.string().max(300),
  });

  const SnapshotV1 = object({
    v: z.literal(SNAPSHOT_VERSION),
    generatedAt: epochMs,
    worker: WorkerSnapshotSchema,
    tenants: z.array(TenantRowSchema),
    sessions: z.array(SessionSnapshotSchema),
    /** Parsed into a null-prototype object: a tenant named `__proto__` or `constructor` is an ordinary key. */
    sessions_by_tenant: tenantKeyedRecord(id, count, 'a record of tenant -> live sessions'),
    events: z.array(EventSnapshotSchema),
  });

  return {
    TotalsSchema,
    LoopStatsSchema,
    LoadSnapshotSchema,
    InferenceSnapshotSchema,
    FootprintSnapshotSchema,
    StoreSnapshotSchema,
    RecycleSnapshotSchema,
    WorkerSnapshotSchema,
    BreakerRowSchema,
    TenantRowSchema,
    SessionSnapshotSchema,
    EventSnapshotSchema,
    SnapshotV1,
  };
}

/** The worker's output exactly: what the producer's tests check. */
export const strictSnapshot = snapshotSchemas(z.strictObject, asWritten);
/**
 * What a client accepts: the same fields, unknown ones stripped. `z.object` strips where
 * `z.strictObject` refuses; the two give the same parsed types, which is why the cast is sound.
 */
export const snapshotReader = snapshotSchemas(z.object as unknown as ObjectSchema, fillingNewNames);

export const { SnapshotV1 } = strictSnapshot;

type Schemas = typeof strictSnapshot;

export type SnapshotV1 = z.infer<typeof SnapshotV1>;
export type WorkerSnapshot = z.infer<Schemas['WorkerSnapshotSchema']>;
export type TenantRow = z.infer<Schemas['TenantRowSchema']>;
export type SessionSnapshot = z.infer<Schemas['SessionSnapshotSchema']>;
export type EventSnapshot = z.infer<Schemas['EventSnapshotSchema']>;
export type EventKind = z.infer<typeof EventKindSchema>;
export type SessionStatus = z.infer<typeof SessionStatusSchema>;
export type LegacySessionState = z.infer<typeof LegacySessionStateSchema>;
export type LoopStats = z.infer<Schemas['LoopStatsSchema']>;
export type LoadSnapshot = z.infer<Schemas['LoadSnapshotSchema']>;
export type InferenceSnapshot = z.infer<Schemas['InferenceSnapshotSchema']>;
export type FootprintSnapshot = z.infer<Schemas['FootprintSnapshotSchema']>;
export type StoreSnapshot = z.infer<Schemas['StoreSnapshotSchema']>;
export type RecycleSnapshot = z.infer<Schemas['RecycleSnapshotSchema']>;
