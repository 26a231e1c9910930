/** Every key and channel the Redis store uses, under one prefix, so fleets can share a Redis. */
export function redisKeys(prefix: string) {
  return {
    tenantLeases: (tenant: string) => `${prefix}leases:t:${tenant}`,
    tenantLeasePrefix: `${prefix}leases:t:`,
    fleetLeases: `${prefix}leases:all`,
    epoch: `${prefix}epoch`,
    breaker: (tenant: string) => `${prefix}breaker:${tenant}`,
    breakerBuckets: (tenant: string) => `${prefix}breaker:${tenant}:buckets`,
    breakerPrefix: `${prefix}breaker:`,
    /** The state keys of every breaker that is not closed, so they can be listed without a scan. */
    breakersNotClosed: `${prefix}breakers:not-closed`,
    capOverrides: `${prefix}caps`,
    audit: `${prefix}audit`,
    heartbeats: `${prefix}workers`,
    invalidation: `${prefix}invalidate`,
  };
}

export type RedisKeys = ReturnType<typeof redisKeys>;

export const DEFAULT_KEY_PREFIX = 'openrtc:';

/** Sets the fleet's Redis URL when the config does not (workers), and for `--fleet` (the CLI). */
export const REDIS_URL_ENV = 'OPENRTC_REDIS_URL';
