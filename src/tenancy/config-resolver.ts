import { z } from 'zod';
import type { Clock } from '../clock/clock.js';
import { redactText } from '../secrets/redact-text.js';
import { rememberTenantSecrets } from './redact.js';
import type { TenantConfig, TenantConfigSource } from './types.js';

export type ConfigResolution =
  | { ok: true; config: TenantConfig | undefined; cached: boolean }
  | { ok: false; reason: 'tenant_config_error' | 'tenant_config_timeout'; message: string };

export interface TenantConfigResolverOptions {
  source: TenantConfigSource;
  clock: Clock;
  ttlMs: number;
  missTtlMs: number;
  loadTimeoutMs: number;
  /** Metrics hooks: a request served without asking the source (cached, or joining a load in flight), and each load's result. */
  events?: {
    cacheHit?(tenant: string): void;
    loaded?(tenant: string, result: 'found' | 'missing' | 'error' | 'timeout'): void;
  };
  /** Cached results kept at most; expired ones go first, then the oldest. */
  maxEntries?: number;
}

/** Enough for every tenant an agency serves; tenant ids from traffic cannot grow the cache past it. */
export const DEFAULT_CACHE_ENTRIES = 10_000;

const providerSlot = z.custom<object>(
  (v) => typeof v === 'object' && v !== null && !Array.isArray(v),
  {
    error: 'expected a provider object',
  },
);
const tenantConfigShape = z
  .object({
    stt: providerSlot.optional(),
    llm: providerSlot.optional(),
    tts: providerSlot.optional(),
    instructions: z.string().optional(),
    greeting: z.string().optional(),
    settings: z.record(z.string(), z.unknown()).optional(),
  })
  .nullable()
  .optional();

/** What the cache holds for one tenant, as `tenant show` prints it. */
export interface TenantConfigCacheState {
  cached: boolean;
  ageMs?: number;
  /** The cached load found a config (false: a cached miss). */
  hit?: boolean;
  source: 'record' | 'callable';
}

interface Entry {
  config: TenantConfig | undefined;
  loadedAt: number;
  expiresAt: number;
}

/**
 * Per-tenant cache in front of the operator's config source. One load per tenant at a time; a
 * failed load is never cached, so the next request retries it.
 */
export class TenantConfigResolver {
  #source: TenantConfigSource;
  readonly #cache = new Map<string, Entry>();
  readonly #inFlight = new Map<string, Promise<ConfigResolution>>();
  #generation = 0;

  /** Everything but the source, which `setSource` swaps: no stale copy of it stays here. */
  private readonly options: Omit<TenantConfigResolverOptions, 'source'>;

  constructor(options: TenantConfigResolverOptions) {
    const { source, ...rest } = options;
    this.#source = source;
    this.options = rest;
  }

  async resolve(tenant: string): Promise<ConfigResolution> {
    const now = this.options.clock.now();
    const hit = this.#cache.get(tenant);
    if (hit && hit.expiresAt > now) {
      this.options.events?.cacheHit?.(tenant);
      return { ok: true, config: hit.config, cached: true };
    }
    const pending = this.#inFlight.get(tenant);
    if (pending) {
      // Served without asking the source, like a cached answer.
      this.options.events?.cacheHit?.(tenant);
      return pending;
    }
    const load = this.#load(tenant)
      .then((r) => {
        this.options.events?.loaded?.(
          tenant,
          r.ok
            ? r.config === undefined
              ? 'missing'
              : 'found'
            : r.reason === 'tenant_config_timeout'
              ? 'timeout'
              : 'error',
        );
        return r;
      })
      .finally(() => this.#inFlight.delete(tenant));
    this.#inFlight.set(tenant, load);
    return load;
  }

  async #load(tenant: string): Promise<ConfigResolution> {
    const generation = this.#generation;
    const source = this.#source;
    let raw: unknown;
    try {
      raw = await this.#withTimeout(
        Promise.resolve().then(() =>
          typeof source === 'function'
            ? source(tenant)
            : Object.hasOwn(source, tenant)
              ? source[tenant]
              : undefined,
        ),
      );
    } catch (err) {
      if (err === TIMEOUT) {
        return {
          ok: false,
          reason: 'tenant_config_timeout',
          message: `config load for tenant "${tenant}" took longer than ${this.options.loadTimeoutMs} ms`,
        };
      }
      const name = err instanceof Error ? err.name : typeof err;
      const detail = err instanceof Error ? redactText(err.message).slice(0, 200) : '';
      return {
        ok: false,
        reason: 'tenant_config_error',
        message: `config load for tenant "${tenant}" failed: ${name}${detail ? `: ${detail}` : ''}`,
      };
    }
    const parsed = tenantConfigShape.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return {
        ok: false,
        reason: 'tenant_config_error',
        message: `config for tenant "${tenant}" is invalid: ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`,
      };
    }
    const config = (parsed.data ?? undefined) as TenantConfig | undefined;
    rememberTenantSecrets(config);
    // An invalidation during the load means this result may already be stale: use it, don't keep it.
    if (generation === this.#generation) {
      const now = this.options.clock.now();
      this.#cache.delete(tenant);
      this.#cache.set(tenant, {
        config,
        loadedAt: now,
        expiresAt: now + (config ? this.options.ttlMs : this.options.missTtlMs),
      });
      this.#trim(now);
    }
    return { ok: true, config, cached: false };
  }

  #trim(now: number): void {
    const max = this.options.maxEntries ?? DEFAULT_CACHE_ENTRIES;
    if (this.#cache.size <= max) return;
    for (const [tenant, entry] of this.#cache)
      if (entry.expiresAt <= now) this.#cache.delete(tenant);
    // Map order is load order: the oldest loads go first.
    for (const tenant of this.#cache.keys()) {
      if (this.#cache.size <= max) break;
      this.#cache.delete(tenant);
    }
  }

  get cachedEntries(): number {
    return this.#cache.size;
  }

  #withTimeout<T>(promise: Promise<T>): Promise<T> {
    const { clock, loadTimeoutMs } = this.options;
    return new Promise<T>((resolve, reject) => {
      const timer = clock.setTimeout(() => reject(TIMEOUT), loadTimeoutMs);
      promise.then(
        (v) => (clock.clearTimeout(timer), resolve(v)),
        (e: unknown) => (clock.clearTimeout(timer), reject(e)),
      );
    });
  }

  invalidate(tenant: string): void {
    this.#cache.delete(tenant);
    this.#inFlight.delete(tenant);
    this.#generation += 1;
  }

  invalidateAll(): void {
    this.#cache.clear();
    this.#inFlight.clear();
    this.#generation += 1;
  }

  setSource(source: TenantConfigSource): void {
    this.#source = source;
    this.invalidateAll();
  }

  /** True when the source is a record that names this tenant. */
  hasRecord(tenant: string): boolean {
    return typeof this.#source !== 'function' && Object.hasOwn(this.#source, tenant);
  }

  describe(tenant: string): TenantConfigCacheState {
    const source = typeof this.#source === 'function' ? 'callable' : 'record';
    const entry = this.#cache.get(tenant);
    if (!entry || entry.expiresAt <= this.options.clock.now()) return { cached: false, source };
    return {
      cached: true,
      ageMs: this.options.clock.now() - entry.loadedAt,
      hit: entry.config !== undefined,
      source,
    };
  }
}

const TIMEOUT = Symbol('timeout');
