import { loadConfig, type LoadedConfig } from '../config/load-config.js';
import { useRedisStore } from '../config/store-override.js';
import type { OpenrtcConfig } from '../config/schema.js';
import type { LoadSettings } from '../load/load-model.js';
import type { RecycleLimits } from '../recycle/recycle-policy.js';
import { knownSecrets } from '../secrets/known-secrets.js';
import { REDIS_URL_ENV } from '../store/redis-keys.js';
import { urlPassword } from '../store/redis-store.js';
import { rememberTenantSecrets } from '../tenancy/redact.js';

/**
 * What each part reads of the config. Start-up and a config reload both go through these, so a
 * reloaded setting reaches a part exactly as it did at start.
 */

/** The slice of the config that admission reads. */
export function admissionOptions(config: OpenrtcConfig) {
  return {
    maxConcurrentSessions: config.maxConcurrentSessions,
    tenants: {
      metadataKey: config.tenants.metadataKey,
      defaultTenant: config.tenants.defaultTenant,
      requireConfig: config.tenants.requireConfig,
      maxSessions: config.tenants.maxSessions,
      maxIdleTenantRows: config.tenants.maxIdleTenantRows,
      ...(config.tenants.phoneNumbers !== undefined
        ? { phoneNumbers: config.tenants.phoneNumbers }
        : {}),
    },
    breaker: config.circuitBreaker,
    assignmentTimeoutMs: config.assignmentTimeoutMs,
    overload: { ...config.overload, enabled: config.overload.enabled === true },
  };
}

export function recycleLimits(config: OpenrtcConfig): RecycleLimits {
  const { maxSessions, maxRssMiB, maxNativeGrowthMiB, maxUptime } = config.recycle;
  return { maxSessions, maxRssMiB, maxNativeGrowthMiB, maxUptimeMs: maxUptime };
}

export function loadSettings(config: OpenrtcConfig): LoadSettings {
  return {
    threshold: config.load.threshold,
    loopDelayFullMs: config.load.loopDelayFullMs,
    protect: config.overload.enabled === true,
  };
}

/** Tenants the config names: they get a metrics label of their own before any traffic. */
export function configuredTenants(config: OpenrtcConfig): string[] {
  const t = config.tenants;
  const names = new Set<string>([
    t.defaultTenant,
    ...Object.keys(t.maxSessions).filter((k) => k !== '*'),
  ]);
  if (typeof t.config === 'object') for (const k of Object.keys(t.config)) names.add(k);
  if (t.phoneNumbers && typeof t.phoneNumbers === 'object')
    for (const v of Object.values(t.phoneNumbers)) names.add(v);
  return [...names];
}

/**
 * Reads the config file as the worker runs it, at start and at each reload: the command's
 * defaults applied (`--redis URL` among them) and the secrets it holds known to the masking.
 */
export async function loadWorkerConfig(
  file: string | undefined,
  cwd: string | undefined,
  dev: boolean,
  redisUrl?: string,
): Promise<LoadedConfig> {
  const loaded = withCommandDefaults(await loadConfig(file, cwd), dev, redisUrl);
  rememberConfigSecrets(loaded.config);
  return loaded;
}

/** What a config file itself holds of secrets: LiveKit credentials and a record of tenant configs. */
function rememberConfigSecrets(config: OpenrtcConfig): void {
  for (const value of [config.livekit.apiKey, config.livekit.apiSecret])
    if (value) knownSecrets.addSecret(value);
  const store = config.tenants.store;
  const redisPassword =
    store === 'memory' ? undefined : urlPassword(store.redis.url ?? process.env[REDIS_URL_ENV]);
  if (redisPassword) knownSecrets.addSecret(redisPassword);
  if (typeof config.tenants.config === 'object')
    for (const tenant of Object.values(config.tenants.config)) rememberTenantSecrets(tenant);
}

/** Settings whose default depends on the command: `start` protects against overload, `dev` does not. */
function withCommandDefaults(
  loaded: LoadedConfig,
  dev: boolean,
  redisUrl: string | undefined,
): LoadedConfig {
  loaded.config.overload.enabled ??= !dev;
  if (redisUrl !== undefined) useRedisStore(loaded.config, redisUrl);
  return loaded;
}
