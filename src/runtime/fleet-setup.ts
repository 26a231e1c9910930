import { randomUUID } from 'node:crypto';
import os from 'node:os';
import type { Logger } from 'pino';
import { systemClock } from '../clock/clock.js';
import { FleetAdmission, type FleetEvents } from '../admission/fleet-admission.js';
import type { OpenrtcConfig } from '../config/schema.js';
import { RedisStore, safeUrl } from '../store/redis-store.js';
import { REDIS_URL_ENV } from '../store/redis-keys.js';
import { StoreUnavailableError } from '../store/store-errors.js';
import type { StoreHealth } from '../store/store-health.js';
import type { Heartbeat } from '../store/fleet-store.js';

export { REDIS_URL_ENV };

/** A worker's id in the fleet: unique across restarts and hosts. */
export function fleetWorkerId(name: string): string {
  return `${name}-${os.hostname()}-${process.pid}-${randomUUID().slice(0, 6)}`;
}

/** Fleet mode is on: there is nothing to open for `memory`. Throws a clear error otherwise. */
export async function openFleet(
  config: OpenrtcConfig,
  workerId: string,
  logger: Logger,
  hooks: Pick<FleetEvents, 'onCapOverrides'> = {},
): Promise<{ fleet: FleetAdmission; store: RedisStore } | undefined> {
  const settings = config.tenants.store;
  if (settings === 'memory') return undefined;
  const url = settings.redis.url ?? process.env[REDIS_URL_ENV];
  if (!url)
    throw new StoreUnavailableError(
      `tenants.store.redis.url is not set and neither is ${REDIS_URL_ENV}`,
    );
  const opts = { url, keyPrefix: settings.redis.keyPrefix, timeoutMs: settings.timeoutMs };
  let store: RedisStore;
  try {
    store = await RedisStore.connect(opts);
  } catch (err) {
    if (settings.onUnavailableAtStart !== 'degraded') throw err;
    logger.warn(
      { store: 'degraded', policy: settings.onUnavailable },
      `${err instanceof Error ? err.message : String(err)}; starting degraded (store.onUnavailableAtStart is 'degraded', store.onUnavailable is '${settings.onUnavailable}')`,
    );
    store = RedisStore.startDegraded(opts);
  }
  store.on('health', (h: StoreHealth) => {
    if (h.state === 'ok')
      logger.info({ store: 'ok' }, `fleet store ok: Redis at ${safeUrl(url)} answers again`);
    else
      logger.warn(
        { store: 'degraded', policy: settings.onUnavailable },
        `fleet store degraded: ${h.reason ?? 'Redis does not answer'}; decisions fall back to '${settings.onUnavailable}'`,
      );
  });
  // One line per second at most: a stalled Redis under a burst would otherwise write one per call.
  let lastFallbackLog = 0;
  const fleet = new FleetAdmission({
    store,
    workerId,
    clock: systemClock,
    leaseTtlMs: settings.leaseTtlMs,
    renewIntervalMs: settings.renewIntervalMs,
    storeTimeoutMs: settings.timeoutMs,
    fleetCap: config.fleet.maxConcurrentSessions,
    onUnavailable: settings.onUnavailable,
    events: {
      ...hooks,
      onLeaseLost: (l) =>
        logger.warn(
          { tenant: l.tenant, lease: l.leaseId },
          'lease lost: it expired before this worker renewed it (a stalled loop or a partition); its slot may be held by another worker now',
        ),
      onReasserted: (e) =>
        logger.info({ count: e.count }, `re-asserted ${e.count} live leases in the fleet store`),
      onStateRestored: (e) =>
        logger.warn(
          e,
          `the fleet store lost its data: wrote back ${e.overrides} tenant cap overrides and ${e.breakers} breakers`,
        ),
      onBreakerTransition: (e) =>
        logger.warn(
          { tenant: e.tenant, from: e.from, to: e.to, failures: e.failures, samples: e.samples },
          `fleet circuit breaker ${e.from} -> ${e.to}: ${e.reason}`,
        ),
      onFallback: (e) => {
        const now = Date.now();
        if (now - lastFallbackLog < 1_000) return;
        lastFallbackLog = now;
        logger.warn(
          { store: 'degraded', policy: e.policy, tenant: e.tenant },
          `fleet store did not decide in time (${e.message}): deciding with store.onUnavailable '${e.policy}'`,
        );
      },
      onRenewFailed: (e) =>
        logger.warn({ store: 'degraded' }, `lease renewal failed: ${e.message}`),
    },
  });
  logger.info(
    { store: 'redis', url: safeUrl(url), worker_id: workerId },
    `fleet mode: caps, breakers and live controls shared through Redis at ${safeUrl(url)}`,
  );
  return { fleet, store };
}

/** What `/worker`, `/metrics`, the snapshot and `top` say about the fleet store. */
export type StoreState = { kind: 'memory' | 'redis' } & StoreHealth & {
    policy?: 'local' | 'reject';
  };

export function storeState(fleet: FleetAdmission | undefined, startedAt: number): StoreState {
  if (!fleet) return { kind: 'memory', state: 'ok', since: startedAt };
  return { kind: 'redis', ...fleet.store.health(), policy: fleet.policy };
}

/** The part of admission that fleet caps steer. */
interface CapTarget {
  tenantStat(tenant: string): { cap: number | null } | undefined;
  setTenantCap(tenant: string, cap: number | null): void;
}

/**
 * Caps the fleet set by hand, applied to this worker's admission; the ones the fleet cleared are
 * cleared here too. Only caps the fleet set are cleared: a local one stays.
 */
export class FleetCaps {
  readonly #applied = new Set<string>();

  apply(admission: CapTarget, caps: Map<string, number>): void {
    for (const [tenant, cap] of caps) {
      if (admission.tenantStat(tenant)?.cap !== cap) admission.setTenantCap(tenant, cap);
      this.#applied.add(tenant);
    }
    for (const tenant of [...this.#applied]) {
      if (caps.has(tenant)) continue;
      admission.setTenantCap(tenant, null);
      this.#applied.delete(tenant);
    }
  }
}

/** A small heartbeat in the store for `tenant list --fleet`, with a TTL of three renewals. */
export class FleetHeartbeat {
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly fleet: FleetAdmission,
    private readonly workerId: string,
    private readonly renewIntervalMs: number,
    private readonly read: () => Omit<Heartbeat, 'worker'>,
  ) {}

  start(): void {
    const beat = () =>
      void this.fleet.store
        .publishHeartbeat({ worker: this.workerId, ...this.read() }, this.renewIntervalMs * 3)
        .catch(() => {});
    beat();
    this.#timer = setInterval(beat, this.renewIntervalMs);
    this.#timer.unref();
  }

  /** Stops beating and takes this worker out of the fleet view at once, not after the TTL. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.fleet.store.removeHeartbeat(this.workerId).catch(() => {});
  }
}
