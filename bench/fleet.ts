// `npm run bench -- fleet`: admission with the memory store against the Redis store (a real
// redis-server on a free port), side by side in one run, and the cost of renewing 1,000 leases.
// BENCH_FLEET_N sets the decisions per burst (default 1,000), BENCH_FLEET_ROUNDS the bursts (5).
import { randomUUID } from 'node:crypto';
import { Admission } from '../src/admission/admission.js';
import { systemClock } from '../src/clock/clock.js';
import { FleetAdmission } from '../src/admission/fleet-admission.js';
import type { FleetStore } from '../src/store/fleet-store.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { RedisStore } from '../src/store/redis-store.js';
import { TenantConfigResolver } from '../src/tenancy/config-resolver.js';
import { startRedisServer } from '../test/support/redis/redis-server.js';
import { median, percentile } from './stats.js';

export interface FleetBenchRow {
  store: 'memory' | 'redis';
  decisions: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  fellBack: number;
}

export interface FleetBench {
  burst: FleetBenchRow[];
  renewal: { leases: number; p50Ms: number; p99Ms: number };
}

const BREAKER = {
  enabled: true,
  failureRatio: 0.5,
  minSamples: 5,
  windowMs: 60_000,
  cooldownMs: 30_000,
  halfOpenProbes: 1,
};

function admissionOn(store: FleetStore): { admission: Admission; fleet: FleetAdmission } {
  const fleet = new FleetAdmission({
    store,
    workerId: `bench-${randomUUID().slice(0, 6)}`,
    clock: systemClock,
    leaseTtlMs: 60_000,
    renewIntervalMs: 20_000,
    storeTimeoutMs: 250,
    fleetCap: null,
    onUnavailable: 'local',
  });
  const admission = new Admission({
    clock: systemClock,
    resolver: new TenantConfigResolver({
      source: {},
      clock: systemClock,
      ttlMs: 60_000,
      missTtlMs: 60_000,
      loadTimeoutMs: 1_000,
    }),
    maxConcurrentSessions: null,
    tenants: {
      metadataKey: 'tenant',
      defaultTenant: 'default',
      requireConfig: false,
      maxSessions: {},
    },
    breaker: BREAKER,
    assignmentTimeoutMs: 60_000,
    fleet,
  });
  return { admission, fleet };
}

/** `n` decisions started at once over 50 tenants; each decision's own latency. */
async function burst(admission: Admission, n: number): Promise<number[]> {
  const latencies: number[] = [];
  await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const t0 = performance.now();
      const d = await admission.decide({
        jobId: randomUUID(),
        agentName: 'bench',
        metadata: JSON.stringify({ tenant: `t${i % 50}` }),
      });
      latencies.push(performance.now() - t0);
      if (d.accept) d.reservation.release({ kind: 'cancelled', reason: 'bench' });
    }),
  );
  return latencies;
}

export async function benchFleet(): Promise<FleetBench> {
  const n = Number(process.env.BENCH_FLEET_N ?? 1_000);
  const rounds = Number(process.env.BENCH_FLEET_ROUNDS ?? 5);
  const redis = await startRedisServer();
  try {
    const memory = admissionOn(new MemoryStore(systemClock));
    const redisStore = await RedisStore.connect({ url: redis.url, keyPrefix: 'bench:' });
    const onRedis = admissionOn(redisStore);
    const all: Record<'memory' | 'redis', number[]> = { memory: [], redis: [] };
    // Warm both, then alternate bursts so the machine's noise falls on both alike.
    await burst(memory.admission, 100);
    await burst(onRedis.admission, 100);
    for (let r = 0; r < rounds; r++) {
      all.memory.push(...(await burst(memory.admission, n)));
      all.redis.push(...(await burst(onRedis.admission, n)));
    }
    const row = (store: 'memory' | 'redis', fleet: FleetAdmission): FleetBenchRow => ({
      store,
      decisions: all[store].length,
      p50Ms: percentile(all[store], 50),
      p99Ms: percentile(all[store], 99),
      maxMs: Math.max(...all[store]),
      fellBack: fleet.counters.fallbackDecisions,
    });

    // Renewal: 1,000 live leases renewed in one call, as each worker does every interval.
    const leases = Array.from({ length: 1_000 }, (_, i) => ({
      tenant: `t${i % 50}`,
      leaseId: `renew-${i}`,
    }));
    for (const l of leases)
      await redisStore.acquireLease({ ...l, tenantCap: null, fleetCap: null, ttlMs: 60_000 });
    const renewals: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t0 = performance.now();
      await redisStore.renewLeases(leases, 60_000);
      renewals.push(performance.now() - t0);
    }
    await redisStore.close();
    return {
      burst: [row('memory', memory.fleet), row('redis', onRedis.fleet)],
      renewal: { leases: leases.length, p50Ms: median(renewals), p99Ms: percentile(renewals, 99) },
    };
  } finally {
    await redis.stop();
  }
}
