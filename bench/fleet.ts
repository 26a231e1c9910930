// `npm run bench -- fleet`: admission with the memory store against the Redis store (a real
// redis-server on a free port), side by side in one run: in-process and over the wire; the cost
// of renewing 1,000 live leases; and density, one worker process against two sharing Redis.
// BENCH_FLEET_N sets the decisions per burst (default 1,000), BENCH_FLEET_ROUNDS the in-process
// bursts (5), BENCH_FLEET_WIRE_BURSTS the bursts over the wire (3), BENCH_FLEET_DENSITY_N the
// density sizes (50,100,150,200,250,300); BENCH_HOLD_MS and BENCH_ARRIVALS_PER_S as for density.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { Admission } from '../src/admission/admission.js';
import { systemClock } from '../src/clock/clock.js';
import { FleetAdmission } from '../src/admission/fleet-admission.js';
import type { FleetStore } from '../src/store/fleet-store.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { RedisStore } from '../src/store/redis-store.js';
import { TenantConfigResolver } from '../src/tenancy/config-resolver.js';
import { startRedisServer } from '../test/support/redis/redis-server.js';
import { buildAgent } from './density/build-agent.js';
import { densitySettings } from './density/density.js';
import { benchFleetDensity, type FleetDensityResult } from './density/fleet-density.js';
import { benchFleetOverWire, type FleetWireRow } from './fleet-wire.js';
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
  /** Decisions one after another: one decision's own cost, with no queue in front of it. */
  single: FleetBenchRow[];
  wire: { cap: number; rows: FleetWireRow[] };
  renewal: RenewalCost;
  density: FleetDensityResult;
}

export interface RenewalCost {
  leases: number;
  rounds: number;
  p50Ms: number;
  p99Ms: number;
  /** This process's CPU per renewal call (building the call, reading the answer). */
  clientCpuMsPerRound: number;
  /** Redis's own CPU per renewal call (the script), from its INFO. */
  redisCpuMsPerRound: number;
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

/** One decision for the `i`-th of 50 tenants, its slot given back at once; its latency. */
async function timedDecision(admission: Admission, i: number): Promise<number> {
  const t0 = performance.now();
  const d = await admission.decide({
    jobId: randomUUID(),
    agentName: 'bench',
    metadata: JSON.stringify({ tenant: `t${i % 50}` }),
  });
  const ms = performance.now() - t0;
  if (d.accept) d.reservation.release({ kind: 'cancelled', reason: 'bench' });
  return ms;
}

/** `n` decisions started at once; each decision's own latency. */
function burst(admission: Admission, n: number): Promise<number[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => timedDecision(admission, i)));
}

/** `n` decisions one after another. */
async function oneAtATime(admission: Admission, n: number): Promise<number[]> {
  const latencies: number[] = [];
  for (let i = 0; i < n; i++) latencies.push(await timedDecision(admission, i));
  return latencies;
}

/** In-process admission on both stores, bursts and one at a time, alternating. */
export async function benchFleetInProcess(
  redisUrl: string,
  n: number,
  rounds: number,
): Promise<Pick<FleetBench, 'burst' | 'single'>> {
  const memory = admissionOn(new MemoryStore(systemClock));
  const redisStore = await RedisStore.connect({ url: redisUrl, keyPrefix: 'bench:' });
  try {
    const onRedis = admissionOn(redisStore);
    const bursts: Record<'memory' | 'redis', number[]> = { memory: [], redis: [] };
    const singles: Record<'memory' | 'redis', number[]> = { memory: [], redis: [] };
    // Warm both, then alternate so the machine's noise falls on both alike.
    await burst(memory.admission, 100);
    await burst(onRedis.admission, 100);
    for (let r = 0; r < rounds; r++) {
      bursts.memory.push(...(await burst(memory.admission, n)));
      bursts.redis.push(...(await burst(onRedis.admission, n)));
      singles.memory.push(...(await oneAtATime(memory.admission, n)));
      singles.redis.push(...(await oneAtATime(onRedis.admission, n)));
    }
    const row = (
      all: Record<'memory' | 'redis', number[]>,
      store: 'memory' | 'redis',
      fleet: FleetAdmission,
    ): FleetBenchRow => ({
      store,
      decisions: all[store].length,
      p50Ms: percentile(all[store], 50),
      p99Ms: percentile(all[store], 99),
      maxMs: Math.max(...all[store]),
      fellBack: fleet.counters.fallbackDecisions,
    });
    return {
      burst: [row(bursts, 'memory', memory.fleet), row(bursts, 'redis', onRedis.fleet)],
      single: [row(singles, 'memory', memory.fleet), row(singles, 'redis', onRedis.fleet)],
    };
  } finally {
    await redisStore.close();
  }
}

export async function benchFleet(): Promise<FleetBench> {
  const n = Number(process.env.BENCH_FLEET_N ?? 1_000);
  const rounds = Number(process.env.BENCH_FLEET_ROUNDS ?? 5);
  const redis = await startRedisServer();
  try {
    const inProcess = await benchFleetInProcess(redis.url, n, rounds);
    const renewal = await renewalCost(redis.url);

    const cap = 20;
    const wire = await benchFleetOverWire(redis.url, {
      requests: n,
      bursts: Number(process.env.BENCH_FLEET_WIRE_BURSTS ?? 3),
      cap,
    });
    const sizes = (process.env.BENCH_FLEET_DENSITY_N ?? '50,100,150,200,250,300')
      .split(',')
      .map(Number);
    const density = await benchFleetDensity(buildAgent(), redis.url, sizes, densitySettings());
    return {
      ...inProcess,
      wire: { cap, rows: wire },
      renewal,
      density,
    };
  } finally {
    await redis.stop();
  }
}

/** 1,000 live leases renewed in one call, as each worker does every renewal interval. */
async function renewalCost(url: string): Promise<RenewalCost> {
  // A timeout no busy machine reaches: this measures the call, it does not test the fallback.
  const store = await RedisStore.connect({ url, keyPrefix: 'bench-renew:', timeoutMs: 10_000 });
  try {
    return await renewalRounds(store, url);
  } finally {
    await store.close();
  }
}

async function renewalRounds(store: RedisStore, url: string): Promise<RenewalCost> {
  const leases = Array.from({ length: 1_000 }, (_, i) => ({
    tenant: `t${i % 50}`,
    leaseId: `renew-${i}`,
  }));
  for (const l of leases)
    await store.acquireLease({ ...l, tenantCap: null, fleetCap: null, ttlMs: 60_000 });
  const rounds = 20;
  const times: number[] = [];
  const redisCpuBefore = await redisCpuMs(url);
  const cpuBefore = process.cpuUsage();
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now();
    await store.renewLeases(leases, 60_000);
    times.push(performance.now() - t0);
  }
  const cpu = process.cpuUsage(cpuBefore);
  const redisCpu = (await redisCpuMs(url)) - redisCpuBefore;
  return {
    leases: leases.length,
    rounds,
    p50Ms: median(times),
    p99Ms: percentile(times, 99),
    clientCpuMsPerRound: (cpu.user + cpu.system) / 1000 / rounds,
    redisCpuMsPerRound: redisCpu / rounds,
  };
}

/** Redis's CPU so far (user + system, ms), from `INFO cpu`. */
async function redisCpuMs(url: string): Promise<number> {
  const client = new Redis(url, { lazyConnect: true });
  try {
    await client.connect();
    const info = await client.info('cpu');
    const field = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? 0);
    return (field('used_cpu_sys') + field('used_cpu_user')) * 1000;
  } finally {
    client.disconnect();
  }
}
