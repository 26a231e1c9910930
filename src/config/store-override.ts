import { redisStore, type OpenrtcConfig } from './schema.js';

/**
 * `openrtc start|dev --redis URL`: this run uses the Redis store at URL, whatever the config says.
 * A config with the memory store gets the Redis store's defaults; one with a Redis store keeps its
 * settings (key prefix, timeouts, policies) and takes the URL.
 */
export function useRedisStore(config: OpenrtcConfig, url: string): void {
  const store = config.tenants.store;
  config.tenants.store =
    store === 'memory'
      ? redisStore.parse({ redis: { url } })
      : { ...store, redis: { ...store.redis, url } };
}
