import { z } from 'zod';
import { isAgent, type AgentDefinition } from '@livekit/agents';
import type { PhoneNumberSource, TenantConfigLoader, TenantConfig } from '../tenancy/types.js';

const TENANT_KEY = /^(\*|[A-Za-z0-9_-]{1,128})$/;

const positiveInt = z.number({ error: (iss) => `expected a positive integer, got ${describe(iss.input)}` }).refine(
  (n) => Number.isInteger(n) && n > 0,
  { error: (iss) => `expected a positive integer, got ${describe(iss.input)}` },
);
const nonNegativeMs = z.number({ error: (iss) => `expected a duration in milliseconds, got ${describe(iss.input)}` }).refine(
  (n) => Number.isFinite(n) && n >= 0,
  { error: (iss) => `expected a duration in milliseconds (>= 0), got ${describe(iss.input)}` },
);
const positiveMs = nonNegativeMs.refine((n) => n > 0, { error: (iss) => `expected a duration in milliseconds (> 0), got ${describe(iss.input)}` });

function fn<T>(what: string) {
  return z.custom<T>((v) => typeof v === 'function', { error: (iss) => `expected ${what}, got ${describe(iss.input)}` });
}

const tenantId = z.string().regex(TENANT_KEY, {
  error: (iss) => `expected a tenant id (1-128 letters, digits, "-" or "_"), got ${describe(iss.input)}`,
});

/**
 * Secrets are only ever checked for presence; `describe` never prints a string's content for
 * fields that may carry keys, so a typo in a key does not echo the key to the terminal.
 */
export function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'string') return value.length <= 40 && /^[\w\-.:/*@ +]*$/.test(value) ? JSON.stringify(value) : `a string of ${value.length} characters`;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

const tenantConfigObject = z.custom<TenantConfig>((v) => typeof v === 'object' && v !== null && !Array.isArray(v), {
  error: 'expected a tenant config object ({ stt?, llm?, tts?, instructions?, greeting? })',
});

const agentEntry = z.union([
  z.string().min(1, { error: 'expected a module path' }),
  z.custom<AgentDefinition>((v) => isAgent(v), { error: 'expected a module path or an agent made with defineAgent' }),
]);

export const configSchema = z.strictObject({
  /** Shown in `openrtc top`, and part of the control socket's name. */
  name: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, { error: 'expected 1-64 letters, digits, ".", "-" or "_"' }).default('openrtc'),
  agents: z.record(z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/, { error: 'expected an agent name' }), agentEntry).refine(
    (r) => Object.keys(r).length > 0,
    { error: 'expected at least one agent (name -> module path)' },
  ),
  livekit: z
    .strictObject({
      url: z.string().regex(/^(wss?|https?):\/\//, { error: 'expected a ws://, wss://, http:// or https:// URL' }).optional(),
      apiKey: z.string().min(1, { error: 'expected a non-empty API key' }).optional(),
      apiSecret: z.string().min(1, { error: 'expected a non-empty API secret' }).optional(),
    })
    .default({}),
  maxConcurrentSessions: positiveInt.nullable().default(null),
  tenants: z
    .strictObject({
      metadataKey: z.string().min(1).default('tenant'),
      defaultTenant: tenantId.refine((t) => t !== '*', { error: 'the default tenant cannot be "*"' }).default('default'),
      requireConfig: z.boolean().default(false),
      config: z
        .union([z.record(tenantId, tenantConfigObject), fn<TenantConfigLoader>('a record of tenant configs or a function (tenant) => config')])
        .default({}),
      configCache: z
        .strictObject({
          ttlMs: positiveMs.default(300_000),
          missTtlMs: positiveMs.default(30_000),
          loadTimeoutMs: positiveMs.default(5_000),
        })
        .default({ ttlMs: 300_000, missTtlMs: 30_000, loadTimeoutMs: 5_000 }),
      maxSessions: z.record(tenantId, positiveInt).default({}),
      phoneNumbers: z
        .union([z.record(z.string().min(1), tenantId), fn<PhoneNumberSource>('a record of dialed number -> tenant or a function')])
        .optional(),
    })
    .default({
      metadataKey: 'tenant',
      defaultTenant: 'default',
      requireConfig: false,
      config: {},
      configCache: { ttlMs: 300_000, missTtlMs: 30_000, loadTimeoutMs: 5_000 },
      maxSessions: {},
    }),
  circuitBreaker: z
    .strictObject({
      enabled: z.boolean().default(true),
      failureRatio: z
        .number()
        .refine((n) => n > 0 && n <= 1, { error: (iss) => `expected a ratio in (0, 1], got ${describe(iss.input)}` })
        .default(0.5),
      minSamples: positiveInt.default(5),
      windowMs: positiveMs.default(60_000),
      cooldownMs: positiveMs.default(30_000),
      halfOpenProbes: positiveInt.default(1),
    })
    .default({ enabled: true, failureRatio: 0.5, minSamples: 5, windowMs: 60_000, cooldownMs: 30_000, halfOpenProbes: 1 }),
  drainTimeoutMs: nonNegativeMs.default(30_000),
  /** How long an accepted job may wait for its assignment before its slot is given back. */
  assignmentTimeoutMs: positiveMs.default(15_000),
  introspection: z
    .strictObject({
      /**
       * Per-session CPU and block attribution. The hook brackets every callback, promise reactions
       * included, which on a busy audio worker costs about 1 % of a core per 10 sessions when
       * continuous; sampled watches 100 ms of each second (see README, Snapshot and introspection).
       */
      attribution: z
        .enum(['sampled', 'continuous', 'off'], { error: (iss) => `expected "sampled", "continuous" or "off", got ${describe(iss.input)}` })
        .default('sampled'),
      blockThresholdMs: positiveMs.default(50),
      slowFlagMs: positiveMs.default(5_000),
    })
    .default({ attribution: 'sampled', blockThresholdMs: 50, slowFlagMs: 5_000 }),
});

/** What a config file may contain (defaults optional). */
export type OpenrtcConfigInput = z.input<typeof configSchema>;
/** A validated config with every default filled in. */
export type OpenrtcConfig = z.output<typeof configSchema>;

/** How much per-session attribution the worker runs (see `introspection.attribution`). */
export type AttributionMode = OpenrtcConfig['introspection']['attribution'];
