import { z } from 'zod';
import {
  BreakerStateSchema,
  fillingNewNames,
  reasonCounts,
  SNAPSHOT_VERSION,
  snapshotReader,
  strictSnapshot,
  type ObjectSchema,
  type RenamedFields,
  type SnapshotV1,
} from '../introspection/snapshot-schema.js';
import { ControlError } from '../ipc/control-error.js';
import { describeZodError } from '../ipc/protocol.js';

/**
 * The control socket's methods: for each, the params it takes and the result it answers. The
 * worker validates params with these schemas, the CLI reads results with them, and the tests check
 * the worker's answers against them strictly.
 *
 * Compatibility: a result, like the snapshot, only gains fields within one protocol version, and
 * an added field is optional. Clients read with `readResult`, which strips fields it does not
 * know, so an older CLI works with a newer worker.
 */

const tenantParam = z.string({ error: 'params.tenant: expected a tenant id' });
const noParams = z.object({}).passthrough();

export const CONTROL_PARAMS = {
  snapshot: noParams,
  'worker.info': noParams,
  'tenant.list': noParams,
  'tenant.show': z.object({ tenant: tenantParam }),
  'tenant.cap': z.object({
    tenant: tenantParam,
    cap: z.union([z.number().int().positive(), z.null()], {
      error: 'params.cap: expected a positive integer, or null to clear',
    }),
  }),
  'tenant.trip': z.object({
    tenant: tenantParam,
    forMs: z
      .number()
      .int()
      .positive({ error: 'params.forMs: expected a positive number of milliseconds' })
      .optional(),
  }),
  'tenant.reset': z.object({ tenant: tenantParam }),
  'tenant.reload': z.union(
    [z.object({ tenant: tenantParam }), z.object({ all: z.literal(true) })],
    { error: 'params: expected { tenant } or { all: true }' },
  ),
  drain: z.object({ timeoutMs: z.number().nonnegative().optional() }),
  'config.reload': z.object({}),
} as const;

export type ControlMethod = keyof typeof CONTROL_PARAMS;
export const CONTROL_METHODS = Object.keys(CONTROL_PARAMS) as ControlMethod[];
/** The methods an operator runs in an incident (runbooks): everything but the viewers' snapshot. */
export const OPERATOR_METHODS: ReadonlySet<string> = new Set(
  CONTROL_METHODS.filter((m) => m !== 'snapshot'),
);

/** The params a client sends. */
export type ControlParams<M extends ControlMethod> = z.input<(typeof CONTROL_PARAMS)[M]>;
/** The params a method receives, validated. */
export type ParsedParams<M extends ControlMethod> = z.output<(typeof CONTROL_PARAMS)[M]>;

const count = z.number().int().nonnegative();

function resultSchemas(
  object: ObjectSchema,
  snapshot: typeof strictSnapshot,
  renamed: RenamedFields,
) {
  const tenantAnswer = object({
    tenant: z.string(),
    old: BreakerStateSchema,
    breaker: snapshot.BreakerRowSchema,
  });
  return {
    snapshot: snapshot.SnapshotV1,
    'worker.info': object({
      name: z.string(),
      pid: z.number().int().positive(),
      version: z.string(),
      /** The embedded dispatcher's URL, or null when the worker runs against a LiveKit server. */
      localDispatcherUrl: z.string().nullable(),
    }),
    'tenant.list': object({
      tenants: z.array(snapshot.TenantRowSchema),
      /** Rejections decided before a tenant was known (malformed ids, draining), by reason. */
      rejectedWithoutTenant: reasonCounts,
    }),
    'tenant.show': object({
      /** Null for a configured tenant no job has named yet. */
      stats: snapshot.TenantRowSchema.nullable(),
      configuredCap: count.nullable(),
      config: object({
        cached: z.boolean(),
        ageMs: z.number().nonnegative().optional(),
        /** False when the cached answer is "no config" (the agent's defaults). */
        hit: z.boolean().optional(),
        source: z.enum(['record', 'callable']),
      }),
    }),
    'tenant.cap': object({ tenant: z.string(), old: count.nullable(), cap: count.nullable() }),
    'tenant.trip': tenantAnswer,
    'tenant.reset': tenantAnswer,
    'tenant.reload': z.union([object({ tenant: z.string() }), object({ all: z.literal(true) })]),
    drain: renamed(
      object({
        alreadyDraining: z.boolean(),
        /** Sessions still live when the drain began (renamed within v1: `activeSessions` before). */
        liveSessions: count,
        /** Deprecated: the same count as `liveSessions`, under its old name. */
        activeSessions: count,
        timeoutMs: z.number().nonnegative(),
      }),
      (fields) => {
        if (fields.liveSessions === undefined) fields.liveSessions = fields.activeSessions;
      },
    ),
    'config.reload': object({
      changed: z.array(z.string()),
      notCompared: z.array(z.string()),
      needsRestart: z.array(z.string()),
      files: z.array(z.string()),
      wholeGraph: z.boolean(),
    }),
  } satisfies Record<ControlMethod, z.ZodType>;
}

/** The worker's answers exactly: what its own tests check. */
export const CONTROL_RESULTS = resultSchemas(z.strictObject, strictSnapshot, (schema) => schema);
/** What a client accepts: the same fields, unknown ones stripped (see `snapshotReader`). */
const RESULT_READERS = resultSchemas(
  z.object as unknown as ObjectSchema,
  snapshotReader,
  fillingNewNames,
);

export type ControlResult<M extends ControlMethod> = z.output<(typeof CONTROL_RESULTS)[M]>;

/** Validates a request's params; a mismatch is `bad_request` naming the field. */
export function parseParams<M extends ControlMethod>(method: M, params: unknown): ParsedParams<M> {
  const result = CONTROL_PARAMS[method].safeParse(params ?? {});
  if (!result.success)
    throw new ControlError('bad_request', describeZodError(result.error, 'params'));
  return result.data as ParsedParams<M>;
}

/** Reads a worker's answer to `method`, as a client: unknown fields are dropped, missing ones named. */
export function readResult<M extends ControlMethod>(method: M, raw: unknown): ControlResult<M> {
  if (method === 'snapshot') return readSnapshot(raw) as ControlResult<M>;
  const result = RESULT_READERS[method].safeParse(raw);
  if (!result.success)
    throw new ControlError(
      'bad_response',
      `the worker's answer to "${method}" is not what this openrtc reads: ${describeZodError(result.error, 'result')}`,
    );
  return result.data as ControlResult<M>;
}

/**
 * Reads a snapshot as a client (`top`): a newer worker's added fields are dropped, and a snapshot
 * of another version is refused, saying which version came and which this client reads.
 */
export function readSnapshot(raw: unknown): SnapshotV1 {
  const v = typeof raw === 'object' && raw !== null ? (raw as { v?: unknown }).v : undefined;
  if (v !== SNAPSHOT_VERSION) {
    const got = typeof v === 'number' ? `snapshot v${v}` : 'a snapshot with no version';
    throw new ControlError(
      'unsupported_version',
      `the worker sent ${got}; this openrtc reads snapshot v${SNAPSHOT_VERSION} (use the openrtc version the worker runs)`,
    );
  }
  const result = snapshotReader.SnapshotV1.safeParse(raw);
  if (!result.success)
    throw new ControlError(
      'bad_response',
      `the worker sent a snapshot v${SNAPSHOT_VERSION} this openrtc cannot read: ${describeZodError(result.error, 'snapshot')}`,
    );
  return result.data;
}
