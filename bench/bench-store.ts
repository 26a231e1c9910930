// The store a benchmark worker runs on, chosen by its harness: `BENCH_STORE=redis` puts its caps on
// the Redis at OPENRTC_REDIS_URL under `BENCH_STORE_PREFIX`, so several workers share them.
import type { OpenrtcConfigInput } from 'openrtc';

type StoreInput = NonNullable<NonNullable<OpenrtcConfigInput['tenants']>['store']>;

export function benchStore(env: NodeJS.ProcessEnv = process.env): StoreInput {
  if (env.BENCH_STORE !== 'redis') return 'memory';
  // 'reject': a decision the store did not answer in time is counted as `store_unavailable`,
  // not hidden among decisions made on local counts.
  return { redis: { keyPrefix: env.BENCH_STORE_PREFIX ?? 'bench:' }, onUnavailable: 'reject' };
}
