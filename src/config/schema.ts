import { z } from 'zod';
import { isAgent, type AgentDefinition } from '@livekit/agents';
import { DEFAULT_IDLE_TENANT_ROWS } from '../admission/tenant-rows.js';
import { parseDuration } from '../clock/duration.js';
import { DEFAULT_ROOM_RECONNECT_TIMEOUT_MS, DEFAULT_SHUTDOWN_GRACE_MS } from '../session/types.js';
import { isValidTenantId, tenantIdProblem } from '../tenancy/tenant-id.js';
import { tenantKeyedRecord } from '../tenancy/tenant-keyed-record.js';
import type { PhoneNumberSource, TenantConfigLoader, TenantConfig } from '../tenancy/types.js';

const positiveInt = z
  .number({ error: (iss) => `expected a positive integer, got ${describe(iss.input)}` })
  .refine((n) => Number.isInteger(n) && n > 0, {
    error: (iss) => `expected a positive integer, got ${describe(iss.input)}`,
  });
const nonNegativeMs = z
  .number({ error: (iss) => `expected a duration in milliseconds, got ${describe(iss.input)}` })
  .refine((n) => Number.isFinite(n) && n >= 0, {
    error: (iss) => `expected a duration in milliseconds (>= 0), got ${describe(iss.input)}`,
  });
const ratio = z
  .number({ error: (iss) => `expected a ratio in (0, 1], got ${describe(iss.input)}` })
  .refine((n) => n > 0 && n <= 1, {
    error: (iss) => `expected a ratio in (0, 1], got ${describe(iss.input)}`,
  });
/** How far back the worker keeps event-loop delay history (see src/load/load-monitor.ts). */
export const MAX_LOOP_WINDOW_MS = 10_000;
const positiveMs = nonNegativeMs.refine((n) => n > 0, {
  error: (iss) => `expected a duration in milliseconds (> 0), got ${describe(iss.input)}`,
});

function uptimeError(input: unknown): string {
  return `expected a duration (milliseconds, or "90m", "24h", "7d"), got ${describe(input)}`;
}

function fn<T>(what: string) {
  return z.custom<T>((v) => typeof v === 'function', {
    error: (iss) => `expected ${what}, got ${describe(iss.input)}`,
  });
}

/** A tenant id, or `*` where a record gives a value for every other tenant. */
const tenantId = z.string().refine((s) => s === '*' || isValidTenantId(s), {
  error: (iss) => tenantIdProblem(describe(iss.input)),
});

/**
 * Secrets are only ever checked for presence; `describe` never prints a string's content for
 * fields that may carry keys, so a typo in a key does not echo the key to the terminal.
 */
export function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'string')
    return value.length <= 40 && /^[\w\-.:/*@ +]*$/.test(value)
      ? JSON.stringify(value)
      : `a string of ${value.length} characters`;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

const tenantConfigObject = z.custom<TenantConfig>(
  (v) => typeof v === 'object' && v !== null && !Array.isArray(v),
  {
    error: 'expected a tenant config object ({ stt?, llm?, tts?, instructions?, greeting? })',
  },
);

const agentEntry = z.union([
  z.string().min(1, { error: 'expected a module path' }),
  z.custom<AgentDefinition>((v) => isAgent(v), {
    error: 'expected a module path or an agent made with defineAgent',
  }),
]);

export const redisStore = z.strictObject({
  redis: z.strictObject({
    /** Default: `OPENRTC_REDIS_URL`. */
    url: z
      .string()
      .regex(/^rediss?:\/\//, { error: 'expected a redis:// or rediss:// URL' })
      .optional(),
    keyPrefix: z.string().min(1).max(64).default('openrtc:'),
  }),
  /** While Redis does not answer: count locally against the configured caps, or reject. */
  onUnavailable: z.enum(['local', 'reject']).default('local'),
  /** Redis unreachable at start: exit 1 (the default), or start degraded under `onUnavailable`. */
  onUnavailableAtStart: z.enum(['exit', 'degraded']).default('exit'),
  /** Every availability answer waits for the store at most this long. */
  timeoutMs: positiveMs.default(250),
  /** A dead worker's slots come free after this. */
  leaseTtlMs: positiveMs.default(15_000),
  /** Each worker renews all its leases this often, in one call. */
  renewIntervalMs: positiveMs.default(5_000),
});

const storeSchema = z
  .union([z.literal('memory'), redisStore], {
    error: `expected 'memory' or { redis: { url, keyPrefix } }`,
  })
  .refine((s) => s === 'memory' || s.renewIntervalMs < s.leaseTtlMs, {
    error: 'renewIntervalMs must be shorter than leaseTtlMs, or live leases would expire',
  });

export type StoreSettings = z.output<typeof redisStore>;

export const configSchema = z.strictObject({
  /** Shown in `openrtc top`, and part of the control socket's name. */
  name: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/, { error: 'expected 1-64 letters, digits, ".", "-" or "_"' })
    .default('openrtc'),
  /**
   * Agent name -> module. Each name is registered with LiveKit for explicit dispatch; the empty
   * name `''` registers for automatic dispatch, as LiveKit defines it: that agent joins every new
   * room that names no agent.
   */
  agents: z
    .record(
      z.string().regex(/^[A-Za-z0-9_.-]{0,128}$/, {
        error:
          'expected an agent name (up to 128 letters, digits, ".", "-" or "_"; "" for automatic dispatch)',
      }),
      agentEntry,
    )
    .refine((r) => Object.keys(r).length > 0, {
      error: 'expected at least one agent (name -> module path)',
    }),
  livekit: z
    .strictObject({
      url: z
        .string()
        .regex(/^(wss?|https?):\/\//, {
          error: 'expected a ws://, wss://, http:// or https:// URL',
        })
        .optional(),
      apiKey: z.string().min(1, { error: 'expected a non-empty API key' }).optional(),
      apiSecret: z.string().min(1, { error: 'expected a non-empty API secret' }).optional(),
    })
    .default({}),
  maxConcurrentSessions: positiveInt.nullable().default(null),
  tenants: z
    .strictObject({
      metadataKey: z.string().min(1).default('tenant'),
      defaultTenant: tenantId
        .refine((t) => t !== '*', { error: 'the default tenant cannot be "*"' })
        .default('default'),
      requireConfig: z.boolean().default(false),
      config: z
        .union([
          tenantKeyedRecord(tenantId, tenantConfigObject, 'a record of tenant configs'),
          fn<TenantConfigLoader>('a record of tenant configs or a function (tenant) => config'),
        ])
        .default({}),
      configCache: z
        .strictObject({
          ttlMs: positiveMs.default(300_000),
          missTtlMs: positiveMs.default(30_000),
          loadTimeoutMs: positiveMs.default(5_000),
        })
        .default({ ttlMs: 300_000, missTtlMs: 30_000, loadTimeoutMs: 5_000 }),
      maxSessions: tenantKeyedRecord(
        tenantId,
        positiveInt,
        'a record of tenant -> session cap',
      ).default({}),
      /**
       * Tenants that are not configured and hold no session keep their own counters row only
       * while they are among this many most recently seen; older ones fold into one "(other)" row.
       */
      maxIdleTenantRows: positiveInt.default(DEFAULT_IDLE_TENANT_ROWS),
      phoneNumbers: z
        .union([
          tenantKeyedRecord(z.string().min(1), tenantId, 'a record of dialed number -> tenant'),
          fn<PhoneNumberSource>('a record of dialed number -> tenant or a function'),
        ])
        .optional(),
      /** Where caps, breakers and live controls live: this process (`memory`), or Redis for a fleet. */
      store: storeSchema.default('memory'),
    })
    .default({
      metadataKey: 'tenant',
      defaultTenant: 'default',
      requireConfig: false,
      config: {},
      configCache: { ttlMs: 300_000, missTtlMs: 30_000, loadTimeoutMs: 5_000 },
      maxSessions: {},
      maxIdleTenantRows: DEFAULT_IDLE_TENANT_ROWS,
      store: 'memory',
    }),
  /** Limits over every worker sharing the store. */
  fleet: z
    .strictObject({ maxConcurrentSessions: positiveInt.nullable().default(null) })
    .default({ maxConcurrentSessions: null }),
  circuitBreaker: z
    .strictObject({
      enabled: z.boolean().default(true),
      failureRatio: ratio.default(0.5),
      minSamples: positiveInt.default(5),
      windowMs: positiveMs.default(60_000),
      cooldownMs: positiveMs.default(30_000),
      halfOpenProbes: positiveInt.default(1),
    })
    .default({
      enabled: true,
      failureRatio: 0.5,
      minSamples: 5,
      windowMs: 60_000,
      cooldownMs: 30_000,
      halfOpenProbes: 1,
    }),
  /**
   * A drain's whole budget: live sessions may finish on their own until `shutdownGraceMs` before
   * it ends, are then asked to end, and the worker exits when it is spent.
   */
  drainTimeoutMs: nonNegativeMs.default(30_000),
  /** How long a session asked to end may take to wind down, every teardown step together. */
  shutdownGraceMs: positiveMs.default(DEFAULT_SHUTDOWN_GRACE_MS),
  /** A session running longer than this is ended (reason `max_session_duration`); null for no limit. */
  maxSessionDurationMs: positiveMs.nullable().default(null),
  /**
   * A session whose room lost its LiveKit connection and has not got it back after this long is
   * ended (reason `room_reconnect_timeout`, not a breaker sample), rather than kept for the
   * worker's lifetime.
   */
  roomReconnectTimeoutMs: positiveMs.default(DEFAULT_ROOM_RECONNECT_TIMEOUT_MS),
  /** How long an accepted job may wait for its assignment before its slot is given back. */
  assignmentTimeoutMs: positiveMs.default(15_000),
  /** What the worker reports to LiveKit in `updateWorker` (see src/load/load-model.ts). */
  load: z
    .strictObject({
      /** Smoothed measured load at which the worker reports `WS_FULL` (stock and LiveKit: 0.7). */
      threshold: ratio.default(0.7),
      /** Event-loop delay p99 that counts as fully loaded: 80 ms makes 0.7 fall at 56 ms, under the overload gate. */
      loopDelayFullMs: positiveMs.default(80),
    })
    .default({ threshold: 0.7, loopDelayFullMs: 80 }),
  /**
   * Overload protection: while the loop is already late, new calls are turned away
   * (`worker_overloaded`) and the measured load may mark the worker full, so calls go to another
   * worker before the calls already here suffer. Off: the load is still reported, never acted on.
   * Default: on for `openrtc start`, off for `openrtc dev` (stock agents-js: no load threshold in dev).
   */
  overload: z
    .strictObject({
      enabled: z
        .boolean({ error: (iss) => `expected true or false, got ${describe(iss.input)}` })
        .optional(),
      maxLoopDelayMs: positiveMs.default(60),
      windowMs: positiveMs
        .refine((n) => n <= MAX_LOOP_WINDOW_MS, {
          error: (iss) => `expected at most ${MAX_LOOP_WINDOW_MS} ms, got ${describe(iss.input)}`,
        })
        .default(5_000),
    })
    .default({ maxLoopDelayMs: 60, windowMs: 5_000 }),
  /** Health (`/`, `/worker`) and Prometheus (`/metrics`) over HTTP. */
  http: z
    .strictObject({
      /** Default: 8081 for `openrtc start` (as stock agents-js), ephemeral for `openrtc dev`. `false`: no HTTP server. */
      port: z
        .union(
          [
            z.literal(false),
            z.number().refine((n) => Number.isInteger(n) && n >= 0 && n <= 65_535, {
              error: (iss) => `expected a port 0-65535 or false, got ${describe(iss.input)}`,
            }),
          ],
          { error: (iss) => `expected a port 0-65535 or false, got ${describe(iss.input)}` },
        )
        .optional(),
      /** Default: 0.0.0.0 for `start` (probes come from outside the process's host), 127.0.0.1 for `dev`. */
      host: z.string().min(1, { error: 'expected a host name or address' }).optional(),
      /** A single event-loop delay this long in the last 10 s makes `GET /` answer 503 `event loop stalled`. */
      loopStallMs: positiveMs.default(2_000),
    })
    .default({ loopStallMs: 2_000 }),
  metrics: z
    .strictObject({
      /** Tenants with a label of their own; the rest fold into `_other`. */
      maxTenants: positiveInt.default(500),
    })
    .default({ maxTenants: 500 }),
  /** Run one throwaway AgentSession before registering, so the first caller does not pay for agents-js's first use. */
  warmStart: z
    .boolean({ error: (iss) => `expected true or false, got ${describe(iss.input)}` })
    .default(true),
  introspection: z
    .strictObject({
      /**
       * Per-session CPU and block attribution. The hook brackets every callback, promise reactions
       * included, which on a busy audio worker costs about 1 % of a core per 10 sessions when
       * continuous; sampled watches 100 ms of each second (see README, Snapshot and introspection).
       */
      attribution: z
        .enum(['sampled', 'continuous', 'off'], {
          error: (iss) => `expected "sampled", "continuous" or "off", got ${describe(iss.input)}`,
        })
        .default('sampled'),
      blockThresholdMs: positiveMs.default(50),
      slowFlagMs: positiveMs.default(5_000),
    })
    .default({ attribution: 'sampled', blockThresholdMs: 50, slowFlagMs: 5_000 }),
  /**
   * When the worker hands over to a fresh process (see src/recycle/): checked between sessions.
   * Each is off unless set. `maxUptime` is milliseconds, or a duration such as `'24h'` or `'7d'`.
   */
  recycle: z
    .strictObject({
      maxSessions: positiveInt.optional(),
      maxRssMiB: positiveInt.optional(),
      maxNativeGrowthMiB: positiveInt.optional(),
      maxUptime: z
        .union([z.number(), z.string()], { error: (iss) => uptimeError(iss.input) })
        .transform((v, ctx) => {
          const ms = typeof v === 'number' ? v : parseDuration(v);
          if (ms === undefined || !Number.isFinite(ms) || ms <= 0) {
            ctx.addIssue({ code: 'custom', message: uptimeError(v) });
            return z.NEVER;
          }
          return ms;
        })
        .optional(),
    })
    .default({}),
  inference: z
    .strictObject({
      /**
       * The shared inference process that runs agents-js's `InferenceRunner`s (the local turn
       * detector among them) once per worker. `auto` starts it when some runner is registered.
       */
      enabled: z
        .union([z.literal('auto'), z.boolean()], {
          error: (iss) => `expected "auto", true or false, got ${describe(iss.input)}`,
        })
        .default('auto'),
    })
    .default({ enabled: 'auto' }),
});

/** What a config file may contain (defaults optional). */
export type OpenrtcConfigInput = z.input<typeof configSchema>;
/** A validated config with every default filled in. */
export type OpenrtcConfig = z.output<typeof configSchema>;

/** How much per-session attribution the worker runs (see `introspection.attribution`). */
export type AttributionMode = OpenrtcConfig['introspection']['attribution'];
