import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { Redis } from 'ioredis';
import { z } from 'zod';
import type { BreakerSettings, BreakerTransition } from '../admission/breaker.js';
import type { BreakerView } from '../admission/types.js';
import {
  HEARTBEAT_RETENTION_MS,
  type AcquireRequest,
  type AcquireResult,
  type AdmitRequest,
  type AdmitResult,
  type AuditActor,
  type AuditRecord,
  type BreakerAdmit,
  type BreakerRecord,
  type FleetStore,
  type Heartbeat,
  type HeartbeatView,
  type LeaseKey,
  type RenewResult,
} from './fleet-store.js';
import { SCRIPTS, scriptSource, type ScriptName } from './lua-scripts.js';
import { DEFAULT_KEY_PREFIX, redisKeys, type RedisKeys } from './redis-keys.js';
import type { StoreHealth } from './store-health.js';
import { StoreUnavailableError } from './store-errors.js';

export interface RedisStoreOptions {
  url: string;
  keyPrefix?: string;
  /** Every call answers (or fails) within this; the availability path must never wait longer. */
  timeoutMs?: number;
  /** How long `connect()` waits for the first connection. */
  connectTimeoutMs?: number;
}

export const DEFAULT_STORE_TIMEOUT_MS = 250;
const MAX_AUDIT_RECORDS = 1_000;

type ScriptCall = (...args: (string | number)[]) => Promise<unknown>;

/** The flat arrays the lease scripts answer with. */
const scriptReply = z.array(z.union([z.number(), z.string()]));

/** A lease's script arguments: tenant, lease id, tenant cap, fleet cap (-1: none), TTL in ms. */
function leaseArgs(req: AcquireRequest): (string | number)[] {
  return [req.tenant, req.leaseId, req.tenantCap ?? -1, req.fleetCap ?? -1, Math.ceil(req.ttlMs)];
}

/** `{0, reason, held, cap}` from a lease script. */
function leaseRefusal(r: z.infer<typeof scriptReply>): Extract<AcquireResult, { ok: false }> {
  return {
    ok: false,
    reason: r[1] === 'fleet_capacity' ? 'fleet_capacity' : 'tenant_capacity',
    held: Number(r[2]),
    cap: Number(r[3]),
  };
}

const breakerReply = z.object({
  ok: z.boolean(),
  probe: z.boolean(),
  retryInMs: z.number(),
  transition: z
    .object({
      from: z.enum(['closed', 'open', 'half_open']),
      to: z.enum(['closed', 'open', 'half_open']),
      reason: z.string(),
      failures: z.number(),
      samples: z.number(),
      cooldownMs: z.number(),
      manual: z.boolean(),
    })
    .nullable(),
  view: z.object({
    state: z.enum(['closed', 'open', 'half_open']),
    openUntil: z.number(),
    probesInFlight: z.number(),
    lastTransitionAt: z.number(),
    manual: z.boolean(),
    windowFailures: z.number(),
    windowSamples: z.number(),
  }),
});

const storedHeartbeat = z.object({
  hb: z.object({
    worker: z.string(),
    host: z.string(),
    pid: z.number(),
    draining: z.boolean(),
    sessionsByTenant: z.record(z.string(), z.number()),
    loopP99Ms: z.number(),
    name: z.string().optional(),
    caps: z.record(z.string(), z.number().nullable()).optional(),
    breaker: z
      .object({
        enabled: z.boolean(),
        failureRatio: z.number(),
        minSamples: z.number(),
        windowMs: z.number(),
        cooldownMs: z.number(),
        halfOpenProbes: z.number(),
      })
      .optional(),
  }),
  at: z.number(),
  ttlMs: z.number(),
});

const storedAudit = z.object({
  at: z.number(),
  action: z.enum(['trip', 'reset', 'cap', 'reload']),
  tenant: z.string().nullable(),
  detail: z.string(),
  worker: z.string(),
  operator: z.string(),
  // Records written before the CLI could act on the store came from a worker.
  source: z.enum(['worker', 'cli']).default('worker'),
});

/**
 * The fleet's store on Redis (ioredis). Leases live in per-tenant sorted sets scored by their
 * expiry on Redis's clock; caps and breaker transitions are decided in Lua scripts; config
 * invalidation is a pub/sub channel. Commands fail fast while disconnected (no offline queue) and
 * time out after `timeoutMs`, so a lost or stalled Redis costs an availability answer at most that.
 */
export class RedisStore extends EventEmitter<{ health: [StoreHealth] }> implements FleetStore {
  readonly kind = 'redis' as const;
  readonly #redis: Redis;
  readonly #sub: Redis;
  readonly #keys: RedisKeys;
  readonly #timeoutMs: number;
  readonly #listeners = new Set<(tenant: string | null) => void>();
  #epoch = '';
  #health: StoreHealth;
  #closed = false;

  private constructor(opts: RedisStoreOptions) {
    super();
    this.#timeoutMs = opts.timeoutMs ?? DEFAULT_STORE_TIMEOUT_MS;
    this.#keys = redisKeys(opts.keyPrefix ?? DEFAULT_KEY_PREFIX);
    this.#health = { state: 'degraded', since: Date.now(), reason: 'not connected yet' };
    const common = {
      lazyConnect: true,
      // Fail at once while disconnected instead of queueing: an availability answer must not
      // wait for a reconnect. Reconnects go on in the background with a capped backoff.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      // No ioredis command timeout: every call is bounded by `timeoutMs` in #call instead. An
      // ioredis one would also bound its own ready check, and a worker whose loop is busy loading
      // agents at start (a few hundred ms on a loaded machine) would fail that check and report
      // a reachable Redis as unreachable. The first connection is bounded by connectTimeoutMs.
      retryStrategy: (attempt: number) => Math.min(50 * 2 ** attempt, 2_000),
    };
    this.#redis = new Redis(opts.url, { ...common, enableAutoPipelining: true });
    this.#sub = new Redis(opts.url, common);
    for (const name of Object.keys(SCRIPTS) as ScriptName[]) {
      this.#redis.defineCommand(name, {
        lua: scriptSource(name),
        numberOfKeys: SCRIPTS[name].keys,
      });
    }
    this.#redis.on('ready', () => void this.#onReady());
    this.#redis.on('close', () => this.#degraded('connection to Redis closed'));
    this.#redis.on('error', (err: Error) => this.#degraded(err.message));
    this.#sub.on('ready', () => void this.#sub.subscribe(this.#keys.invalidation).catch(() => {}));
    this.#sub.on('error', () => {});
    this.#sub.on('message', (_channel: string, message: string) => {
      const tenant = message === '*' ? null : message;
      for (const l of [...this.#listeners]) l(tenant);
    });
  }

  /** Connects, or throws `StoreUnavailableError` naming the URL's host (never its password). */
  static async connect(opts: RedisStoreOptions): Promise<RedisStore> {
    const store = new RedisStore(opts);
    const timeoutMs = opts.connectTimeoutMs ?? 3_000;
    try {
      await withTimeout(
        Promise.all([store.#redis.connect(), store.#sub.connect()]).then(() => store.#onReady()),
        timeoutMs,
      );
    } catch (err) {
      await store.close();
      throw new StoreUnavailableError(
        `Redis at ${safeUrl(opts.url)} is unreachable: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    return store;
  }

  /** Starts without Redis: calls fail with `StoreUnavailableError` until it answers. */
  static startDegraded(opts: RedisStoreOptions): RedisStore {
    const store = new RedisStore(opts);
    store.#redis.connect().catch(() => {});
    store.#sub.connect().catch(() => {});
    return store;
  }

  health(): StoreHealth {
    return { ...this.#health };
  }

  async admitSession(req: AdmitRequest): Promise<AdmitResult> {
    const reply = await this.#script(
      'admitSession',
      this.#keys.breaker(req.tenant),
      this.#keys.breakerBuckets(req.tenant),
      this.#keys.tenantLeases(req.tenant),
      this.#keys.fleetLeases,
      this.#keys.breakersNotClosed,
      JSON.stringify(req.breaker),
      ...leaseArgs(req),
    );
    const r = scriptReply.parse(reply);
    if (r[0] === 1) return { ok: true, probe: r[1] === 1 };
    if (r[1] === 'breaker_open')
      return { ok: false, reason: 'breaker_open', retryInMs: Number(r[2]) };
    return leaseRefusal(r);
  }

  async acquireLease(req: AcquireRequest): Promise<AcquireResult> {
    const reply = await this.#script(
      'acquireLease',
      this.#keys.tenantLeases(req.tenant),
      this.#keys.fleetLeases,
      ...leaseArgs(req),
    );
    const r = scriptReply.parse(reply);
    return r[0] === 1 ? { ok: true } : leaseRefusal(r);
  }

  async releaseLease(lease: LeaseKey): Promise<void> {
    await this.#call(() =>
      this.#redis
        .multi()
        .zrem(this.#keys.tenantLeases(lease.tenant), lease.leaseId)
        .zrem(this.#keys.fleetLeases, `${lease.tenant}\n${lease.leaseId}`)
        .exec(),
    );
  }

  async renewLeases(leases: readonly LeaseKey[], ttlMs: number): Promise<RenewResult> {
    const reply = await this.#script(
      'renewLeases',
      this.#keys.fleetLeases,
      this.#keys.epoch,
      Math.ceil(ttlMs),
      this.#epoch,
      randomUUID(),
      this.#keys.tenantLeasePrefix,
      ...leases.flatMap((l) => [l.tenant, l.leaseId]),
    );
    const r = scriptReply.parse(reply);
    const epoch = String(r[2]);
    const dataLost = this.#epoch !== '' && epoch !== this.#epoch;
    this.#epoch = epoch;
    const lost: LeaseKey[] = [];
    for (let i = 3; i + 1 < r.length; i += 2)
      lost.push({ tenant: String(r[i]), leaseId: String(r[i + 1]) });
    return { renewed: Number(r[0]), reasserted: Number(r[1]), dataLost, lost };
  }

  async leaseCounts(): Promise<Map<string, number>> {
    const r = scriptReply.parse(await this.#script('leaseCounts', this.#keys.fleetLeases));
    const out = new Map<string, number>();
    for (let i = 0; i + 1 < r.length; i += 2) out.set(String(r[i]), Number(r[i + 1]));
    return out;
  }

  async breakerAdmit(tenant: string, settings: BreakerSettings): Promise<BreakerAdmit> {
    const r = await this.#breaker(tenant, settings, 'admit');
    return r.ok ? { ok: true, probe: r.probe } : { ok: false, retryInMs: r.retryInMs };
  }

  async breakerRecord(
    tenant: string,
    outcome: 'success' | 'failed',
    probe: boolean,
    settings: BreakerSettings,
  ): Promise<BreakerTransition | undefined> {
    return (await this.#breaker(tenant, settings, 'record', outcome, probe ? '1' : '0')).transition;
  }

  async breakerCancelProbe(tenant: string): Promise<void> {
    // The settings do not matter to a cancel; the script needs some to parse.
    await this.#breaker(tenant, CANCEL_SETTINGS, 'cancel');
  }

  async breakerTrip(
    tenant: string,
    forMs: number,
    by: AuditActor,
    settings: BreakerSettings,
  ): Promise<BreakerTransition | undefined> {
    const t = (await this.#breaker(tenant, settings, 'trip', Math.ceil(forMs))).transition;
    await this.#audit(by, 'trip', tenant, `for ${forMs} ms`);
    return t;
  }

  async breakerReset(
    tenant: string,
    by: AuditActor,
    settings: BreakerSettings,
  ): Promise<BreakerTransition | undefined> {
    const t = (await this.#breaker(tenant, settings, 'reset')).transition;
    await this.#audit(by, 'reset', tenant, '');
    return t;
  }

  async breakerView(tenant: string, settings: BreakerSettings): Promise<BreakerView> {
    const v = (await this.#breaker(tenant, settings, 'view')).view;
    return {
      state: v.state,
      ...(v.state === 'open' ? { openUntil: v.openUntil } : {}),
      probesInFlight: v.probesInFlight,
      ...(v.lastTransitionAt >= 0 ? { lastTransitionAt: v.lastTransitionAt } : {}),
      ...(v.manual ? { manual: true } : {}),
      windowFailures: v.windowFailures,
      windowSamples: v.windowSamples,
    };
  }

  async breakerStates(): Promise<BreakerRecord[]> {
    const r = scriptReply.parse(
      await this.#script('breakerStates', this.#keys.breakersNotClosed, this.#keys.breakerPrefix),
    );
    const out: BreakerRecord[] = [];
    for (let i = 0; i + 4 < r.length; i += 5)
      out.push({
        tenant: String(r[i]),
        state: r[i + 1] === 'half_open' ? 'half_open' : 'open',
        remainingMs: Number(r[i + 2]),
        openForMs: Number(r[i + 3]),
        manual: r[i + 4] === 1,
      });
    return out;
  }

  async restoreBreakers(records: readonly BreakerRecord[]): Promise<number> {
    if (records.length === 0) return 0;
    const reply = await this.#script(
      'restoreBreakers',
      this.#keys.breakersNotClosed,
      this.#keys.breakerPrefix,
      ...records.flatMap((b) => [
        b.tenant,
        b.state === 'open' ? Math.max(0, Math.round(b.remainingMs)) : 0,
        Math.round(b.openForMs),
        b.manual ? 1 : 0,
      ]),
    );
    return Number(reply);
  }

  async setCapOverride(tenant: string, cap: number | null, by: AuditActor): Promise<void> {
    await this.#call(() =>
      cap === null
        ? this.#redis.hdel(this.#keys.capOverrides, tenant)
        : this.#redis.hset(this.#keys.capOverrides, tenant, String(cap)),
    );
    await this.#audit(by, 'cap', tenant, cap === null ? 'cleared' : String(cap));
  }

  async capOverrides(): Promise<Map<string, number>> {
    const all = await this.#call(() => this.#redis.hgetall(this.#keys.capOverrides));
    const out = new Map<string, number>();
    for (const [t, v] of Object.entries(all)) {
      const n = Number(v);
      if (Number.isInteger(n) && n >= 0) out.set(t, n);
    }
    return out;
  }

  async restoreCapOverrides(overrides: ReadonlyMap<string, number>): Promise<number> {
    if (overrides.size === 0) return 0;
    const replies = await this.#call(() => {
      const tx = this.#redis.multi();
      for (const [tenant, cap] of overrides)
        tx.hsetnx(this.#keys.capOverrides, tenant, String(cap));
      return tx.exec();
    });
    return (replies ?? []).filter(([err, written]) => err === null && written === 1).length;
  }

  async publishInvalidation(tenant: string | null, by: AuditActor): Promise<void> {
    await this.#call(() => this.#redis.publish(this.#keys.invalidation, tenant ?? '*'));
    await this.#audit(by, 'reload', tenant, '');
  }

  onInvalidation(listener: (tenant: string | null) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async auditLog(limit: number): Promise<AuditRecord[]> {
    const raw = await this.#call(() =>
      this.#redis.lrange(this.#keys.audit, 0, Math.max(0, limit - 1)),
    );
    return raw.flatMap((line) => {
      const r = storedAudit.safeParse(safeJson(line));
      return r.success ? [r.data] : [];
    });
  }

  async publishHeartbeat(hb: Heartbeat, ttlMs: number): Promise<void> {
    const at = await this.#now();
    await this.#call(() =>
      this.#redis.hset(this.#keys.heartbeats, hb.worker, JSON.stringify({ hb, at, ttlMs })),
    );
  }

  async heartbeats(): Promise<HeartbeatView[]> {
    const [all, now] = await Promise.all([
      this.#call(() => this.#redis.hgetall(this.#keys.heartbeats)),
      this.#now(),
    ]);
    const out: HeartbeatView[] = [];
    const gone: string[] = [];
    for (const [worker, raw] of Object.entries(all)) {
      const r = storedHeartbeat.safeParse(safeJson(raw));
      if (!r.success || now - r.data.at > HEARTBEAT_RETENTION_MS) {
        gone.push(worker);
        continue;
      }
      const ageMs = Math.max(0, now - r.data.at);
      out.push({ ...r.data.hb, at: r.data.at, ageMs, stale: ageMs > r.data.ttlMs });
    }
    if (gone.length > 0) await this.#call(() => this.#redis.hdel(this.#keys.heartbeats, ...gone));
    return out.sort((a, b) => a.worker.localeCompare(b.worker));
  }

  async removeHeartbeat(worker: string): Promise<void> {
    await this.#call(() => this.#redis.hdel(this.#keys.heartbeats, worker));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#listeners.clear();
    this.removeAllListeners();
    this.#redis.disconnect();
    this.#sub.disconnect();
  }

  async #onReady(): Promise<void> {
    try {
      // The epoch marks one lifetime of Redis's data; a worker that finds another one re-asserts.
      await this.#redis.set(this.#keys.epoch, randomUUID(), 'NX');
      const epoch = await this.#redis.get(this.#keys.epoch);
      if (!this.#epoch && epoch) this.#epoch = epoch;
      this.#ok();
    } catch (err) {
      this.#degraded(err instanceof Error ? err.message : String(err));
    }
  }

  async #breaker(
    tenant: string,
    settings: BreakerSettings,
    op: string,
    ...args: (string | number)[]
  ): Promise<
    Omit<z.infer<typeof breakerReply>, 'transition'> & { transition?: BreakerTransition }
  > {
    const reply = await this.#script(
      'breakerTransition',
      this.#keys.breaker(tenant),
      this.#keys.breakerBuckets(tenant),
      this.#keys.breakersNotClosed,
      op,
      JSON.stringify(settings),
      ...args,
    );
    const r = breakerReply.parse(JSON.parse(String(reply)));
    const { transition, ...rest } = r;
    return transition ? { ...rest, transition } : rest;
  }

  async #audit(
    by: AuditActor,
    action: AuditRecord['action'],
    tenant: string | null,
    detail: string,
  ): Promise<void> {
    const at = await this.#now();
    const record: AuditRecord = { ...by, at, action, tenant, detail };
    await this.#call(() =>
      this.#redis
        .multi()
        .lpush(this.#keys.audit, JSON.stringify(record))
        .ltrim(this.#keys.audit, 0, MAX_AUDIT_RECORDS - 1)
        .exec(),
    );
  }

  async #now(): Promise<number> {
    return Number(await this.#script('storeTime'));
  }

  #script(name: ScriptName, ...args: (string | number)[]): Promise<unknown> {
    const call = (this.#redis as unknown as Record<ScriptName, ScriptCall>)[name];
    return this.#call(() => call.apply(this.#redis, args));
  }

  /** Every call: bounded by the store timeout, and what it says about Redis's health is kept. */
  async #call<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#closed) throw new StoreUnavailableError('the store is closed');
    try {
      const result = await withTimeout(fn(), this.#timeoutMs);
      this.#ok();
      return result;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (err instanceof z.ZodError || /ERR|WRONGTYPE|NOSCRIPT/.test(message)) throw err;
      this.#degraded(message);
      throw new StoreUnavailableError(`Redis did not answer: ${message}`);
    }
  }

  #ok(): void {
    if (this.#health.state === 'ok') return;
    this.#health = { state: 'ok', since: Date.now() };
    this.emit('health', this.health());
  }

  #degraded(reason: string): void {
    if (this.#closed || this.#health.state === 'degraded') return;
    this.#health = { state: 'degraded', since: Date.now(), reason };
    this.emit('health', this.health());
  }
}

const CANCEL_SETTINGS: BreakerSettings = {
  enabled: true,
  failureRatio: 1,
  minSamples: 1,
  windowMs: 1_000,
  cooldownMs: 1_000,
  halfOpenProbes: 1,
};

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return undefined;
  }
}

/** The URL without credentials, for messages and logs. */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString().replace(/\/$/, '');
  } catch {
    return 'the configured URL';
  }
}

/** The URL's password (or ACL user's), so it can be masked wherever text leaves the process. */
export function urlPassword(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    return decodeURIComponent(new URL(url).password) || undefined;
  } catch {
    return undefined;
  }
}
