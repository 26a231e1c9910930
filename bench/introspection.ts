import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { Admission } from '../src/admission/admission.js';
import { systemClock } from '../src/clock/clock.js';
import { SessionAttribution } from '../src/introspection/attribution.js';
import { LoopMonitor } from '../src/introspection/loop-monitor.js';
import { RecentEvents } from '../src/introspection/recent-events.js';
import { SessionRegistry } from '../src/introspection/registry.js';
import { buildSnapshot } from '../src/introspection/snapshot.js';
import type { LoopStats } from '../src/introspection/snapshot-schema.js';
import { IpcClient } from '../src/ipc/ipc-client.js';
import { IpcServer } from '../src/ipc/ipc-server.js';
import { sessionScope } from '../src/scope/session-scope.js';
import { TenantConfigResolver } from '../src/tenancy/config-resolver.js';
import { median, percentile } from './stats.js';
import { startSubscriberClients } from './subscriber-process.js';

const breaker = {
  enabled: true,
  failureRatio: 0.5,
  minSamples: 5,
  windowMs: 60_000,
  cooldownMs: 30_000,
  halfOpenProbes: 1,
};

function admission(): Admission {
  const resolver = new TenantConfigResolver({
    source: {},
    clock: systemClock,
    ttlMs: 60_000,
    missTtlMs: 60_000,
    loadTimeoutMs: 1_000,
  });
  return new Admission({
    clock: systemClock,
    resolver,
    maxConcurrentSessions: null,
    tenants: {
      metadataKey: 'tenant',
      defaultTenant: 'default',
      requireConfig: false,
      maxSessions: { '*': 1_000_000 },
    },
    breaker,
    assignmentTimeoutMs: 60_000,
  });
}

/** In-process admission: the full decide() path (parse, cached config, breaker, caps, reserve). */
export async function benchAdmission(n = 20_000) {
  const a = admission();
  const latencies: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const s = performance.now();
    const d = await a.decide({
      jobId: `J${i}`,
      agentName: 'demo',
      metadata: `{"tenant":"t${i % 50}"}`,
    });
    latencies.push((performance.now() - s) * 1000);
    if (d.accept) d.reservation.release({ kind: 'cancelled', reason: 'bench' });
  }
  const seconds = (performance.now() - t0) / 1000;
  return {
    decisionsPerSecond: Math.round(n / seconds),
    p50Us: median(latencies),
    p99Us: percentile(latencies, 99),
  };
}

function fillRegistry(registry: SessionRegistry, n: number) {
  for (let i = 0; i < n; i++) {
    registry.add({
      sessionId: `ses_${i}`,
      jobId: `AJ_${i}`,
      room: `room-${i}`,
      agent: 'demo',
      tenant: `t${i % 20}`,
      startedAt: Date.now() - i * 10,
      status: 'running',
    });
  }
}

function snapshotSources(registry: SessionRegistry, adm: Admission, loop: LoopMonitor) {
  return {
    worker: { name: 'bench', version: '0', startedAt: Date.now() },
    now: () => Date.now(),
    registry,
    admission: adm,
    loop,
    attribution: new SessionAttribution({}),
    events: new RecentEvents(200),
    memory: () => ({ rss: process.memoryUsage.rss(), heapUsed: process.memoryUsage().heapUsed }),
  };
}

/** Snapshot build time and socket round trip with many sessions. */
export async function benchSnapshot(sessions = 1_000, rounds = 200) {
  const registry = new SessionRegistry();
  fillRegistry(registry, sessions);
  const adm = admission();
  for (let i = 0; i < 20; i++)
    await adm.decide({ jobId: `J${i}`, agentName: 'demo', metadata: `{"tenant":"t${i}"}` });
  const sources = snapshotSources(registry, adm, new LoopMonitor());
  const build: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const s = performance.now();
    buildSnapshot(sources);
    build.push(performance.now() - s);
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'openrtc-bench-'));
  const server = await IpcServer.listen({
    socketPath: path.join(dir, 'bench-1.sock'),
    handlers: { snapshot: () => buildSnapshot(sources) },
    logger: pino({ level: 'silent' }),
  });
  const client = await IpcClient.connect(path.join(dir, 'bench-1.sock'));
  const rtt: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const s = performance.now();
    await client.request('snapshot');
    rtt.push(performance.now() - s);
  }
  client.close();
  await server.close();
  rmSync(dir, { recursive: true, force: true });
  return {
    sessions,
    buildP50Ms: median(build),
    buildP99Ms: percentile(build, 99),
    rttP50Ms: median(rtt),
    rttP99Ms: percentile(rtt, 99),
  };
}

/**
 * CPU cost of per-session attribution: 200 simulated sessions each running a small callback
 * every 20 ms (the cadence of audio frames) for a fixed time, with the hook on and off,
 * alternated several times so both see the same machine noise.
 */
export async function benchAttributionOverhead(sessions = 200, runMs = 3_000, repeats = 3) {
  const attribution = new SessionAttribution({});
  const cpu: Record<'on' | 'off', number[]> = { on: [], off: [] };
  const heap: Record<'on' | 'off', number[]> = { on: [], off: [] };
  for (let r = 0; r < repeats; r++) {
    for (const mode of ['off', 'on'] as const) {
      if (mode === 'on') attribution.enable();
      else attribution.disable();
      const timers: NodeJS.Timeout[] = [];
      const start = process.cpuUsage();
      const heapBefore = process.memoryUsage().heapUsed;
      for (let i = 0; i < sessions; i++) {
        sessionScope.run(
          {
            tenant: `t${i % 20}`,
            sessionId: `ses_${i}`,
            jobId: `J${i}`,
            agent: 'demo',
            config: undefined,
          },
          () => {
            timers.push(
              setInterval(() => {
                // Stand-in for per-frame work: a little arithmetic and a resolved promise hop.
                let x = 0;
                for (let k = 0; k < 200; k++) x += k * i;
                void Promise.resolve(x);
              }, 20),
            );
          },
        );
      }
      await new Promise((r2) => setTimeout(r2, runMs));
      for (const t of timers) clearInterval(t);
      const used = process.cpuUsage(start);
      cpu[mode].push(((used.user + used.system) / 1000 / runMs) * 100);
      heap[mode].push((process.memoryUsage().heapUsed - heapBefore) / 2 ** 20);
    }
  }
  attribution.disable();
  const off = median(cpu.off);
  const on = median(cpu.on);
  return {
    sessions,
    cpuOffPct: off,
    cpuOnPct: on,
    overheadPctOfCore: on - off,
    ratio: on / off,
    heapDeltaOnMiB: median(heap.on),
    heapDeltaOffMiB: median(heap.off),
  };
}

/**
 * What the attribution hook adds to one promise reaction, the unit of work agents-js's audio
 * pipeline is made of: a chain of awaits inside a session scope, timed with the hook off, then on
 * (continuous), alternating. Multiply by the reactions a worker runs per second for its cost.
 */
export async function benchHookCost(awaits = 1_000_000, repeats = 5) {
  const chain = async () => {
    // eslint-disable-next-line @typescript-eslint/await-thenable -- one bare promise reaction is the unit timed
    for (let i = 0; i < awaits; i++) await null;
  };
  const timeChain = async () => {
    const start = performance.now();
    await sessionScope.run(
      { tenant: 'acme', sessionId: 'ses_bench', jobId: 'job', agent: 'bench', config: undefined },
      chain,
    );
    return ((performance.now() - start) * 1e6) / awaits;
  };
  const off: number[] = [];
  const on: number[] = [];
  await timeChain(); // warm-up
  for (let r = 0; r < repeats; r++) {
    off.push(await timeChain());
    const attribution = new SessionAttribution({ intervalMs: 60_000 });
    attribution.enable();
    on.push(await timeChain());
    attribution.disable();
  }
  const offNs = median(off);
  const onNs = median(on);
  return {
    awaits,
    repeats,
    offNsPerAwait: offNs,
    onNsPerAwait: onNs,
    hookNsPerAwait: onNs - offNs,
  };
}

/**
 * Event-loop delay of a worker with 1,000 sessions in its registry while 0, 1 and `clients`
 * clients subscribe at `hz`. The clients run in a process of their own, as `openrtc top` does, so
 * the measured loop carries only the worker's share of each push (build, encode, write). Each
 * case runs `repeats` times for `measureMs`, in rotating order so that all of them meet the same
 * machine noise; the figures are medians over the repeats.
 */
export async function benchSubscribers(clients = 50, hz = 10, measureMs = 3_000, repeats = 3) {
  const sessions = 1_000;
  const registry = new SessionRegistry();
  fillRegistry(registry, sessions);
  const adm = admission();
  // Rolled by hand at the end of each measurement; its own timer never gets to roll it.
  const loop = new LoopMonitor({ intervalMs: measureMs * 2 });
  const sources = snapshotSources(registry, adm, loop);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'openrtc-bench-'));
  const socketPath = path.join(dir, 'bench-2.sock');
  const server = await IpcServer.listen({
    socketPath,
    handlers: { snapshot: () => buildSnapshot(sources) },
    logger: pino({ level: 'silent' }),
    maxConnections: clients + 8,
  });
  const intervalMs = Math.round(1000 / hz);
  const counts = [0, 1, clients];
  const runs = counts.map(() => ({
    stats: [] as LoopStats[],
    pushesPerSecond: [] as number[],
    lost: 0,
  }));
  try {
    for (let r = 0; r < repeats; r++) {
      for (let k = 0; k < counts.length; k++) {
        const which = (k + r) % counts.length;
        const n = counts[which]!;
        const run = runs[which]!;
        const subscribers =
          n > 0 ? await startSubscriberClients(socketPath, n, intervalMs) : undefined;
        // Lets connection setup and the child's start-up settle before the measured window.
        await sleep(SETTLE_MS);
        subscribers?.count();
        loop.start();
        await sleep(measureMs);
        run.stats.push(loop.roll());
        loop.stop();
        const counted = await subscribers?.stop();
        if (counted) {
          run.pushesPerSecond.push(Math.round(counted.pushes / (counted.elapsedMs / 1000)));
          run.lost += counted.lost;
        }
      }
    }
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const [idle, one, busy] = runs.map((run) => medianStats(run.stats));
  return {
    clients,
    hz,
    sessions,
    measureMs,
    repeats,
    idle: idle!,
    one: one!,
    busy: busy!,
    onePushesPerSecond: median(runs[1]!.pushesPerSecond),
    pushesPerSecond: median(runs[2]!.pushesPerSecond),
    // Clients the worker dropped as too slow while measured: not 0 means the busy row served fewer.
    lostClients: runs[1]!.lost + runs[2]!.lost,
  };
}

const SETTLE_MS = 500;

function medianStats(stats: LoopStats[]): LoopStats {
  return {
    p50Ms: median(stats.map((s) => s.p50Ms)),
    p99Ms: median(stats.map((s) => s.p99Ms)),
    maxMs: median(stats.map((s) => s.maxMs)),
  };
}
