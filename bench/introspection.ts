import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { Admission } from '../src/admission/admission.js';
import { systemClock } from '../src/admission/clock.js';
import { SessionAttribution } from '../src/introspection/attribution.js';
import { LoopMonitor } from '../src/introspection/loop-monitor.js';
import { RecentEvents } from '../src/introspection/recent-events.js';
import { SessionRegistry } from '../src/introspection/registry.js';
import { buildSnapshot } from '../src/introspection/snapshot.js';
import { IpcClient } from '../src/ipc/ipc-client.js';
import { IpcServer } from '../src/ipc/ipc-server.js';
import { sessionScope } from '../src/logging/scope.js';
import { TenantConfigResolver } from '../src/tenancy/config-resolver.js';
import { median, percentile } from './stats.js';

const breaker = { enabled: true, failureRatio: 0.5, minSamples: 5, windowMs: 60_000, cooldownMs: 30_000, halfOpenProbes: 1 };

function admission(): Admission {
  const resolver = new TenantConfigResolver({ source: {}, clock: systemClock, ttlMs: 60_000, missTtlMs: 60_000, loadTimeoutMs: 1_000 });
  return new Admission({
    clock: systemClock,
    resolver,
    maxConcurrentSessions: null,
    tenants: { metadataKey: 'tenant', defaultTenant: 'default', requireConfig: false, maxSessions: { '*': 1_000_000 } },
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
    const d = await a.decide({ jobId: `J${i}`, agentName: 'demo', metadata: `{"tenant":"t${i % 50}"}` });
    latencies.push((performance.now() - s) * 1000);
    if (d.accept) d.reservation.release({ kind: 'cancelled', reason: 'bench' });
  }
  const seconds = (performance.now() - t0) / 1000;
  return { decisionsPerSecond: Math.round(n / seconds), p50Us: median(latencies), p99Us: percentile(latencies, 99) };
}

function fillRegistry(registry: SessionRegistry, n: number) {
  for (let i = 0; i < n; i++) {
    registry.add({ sessionId: `ses_${i}`, jobId: `AJ_${i}`, room: `room-${i}`, agent: 'demo', tenant: `t${i % 20}`, startedAt: Date.now() - i * 10, state: 'active' });
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
  for (let i = 0; i < 20; i++) await adm.decide({ jobId: `J${i}`, agentName: 'demo', metadata: `{"tenant":"t${i}"}` });
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
  return { sessions, buildP50Ms: median(build), buildP99Ms: percentile(build, 99), rttP50Ms: median(rtt), rttP99Ms: percentile(rtt, 99) };
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
        sessionScope.run({ tenant: `t${i % 20}`, sessionId: `ses_${i}`, jobId: `J${i}`, agent: 'demo', config: undefined }, () => {
          timers.push(
            setInterval(() => {
              // Stand-in for per-frame work: a little arithmetic and a resolved promise hop.
              let x = 0;
              for (let k = 0; k < 200; k++) x += k * i;
              void Promise.resolve(x);
            }, 20),
          );
        });
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
  return { sessions, cpuOffPct: off, cpuOnPct: on, overheadPctOfCore: on - off, ratio: on / off, heapDeltaOnMiB: median(heap.on), heapDeltaOffMiB: median(heap.off) };
}

/**
 * Event-loop delay of a worker with 1,000 sessions in its registry while 0 and then 50 clients
 * subscribe at 10 Hz, each measured for the same time in the same process.
 */
export async function benchSubscribers(clients = 50, hz = 10, measureMs = 3_000) {
  const registry = new SessionRegistry();
  fillRegistry(registry, 1_000);
  const adm = admission();
  const loop = new LoopMonitor({ intervalMs: measureMs });
  const sources = snapshotSources(registry, adm, loop);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'openrtc-bench-'));
  const socketPath = path.join(dir, 'bench-2.sock');
  const server = await IpcServer.listen({ socketPath, handlers: { snapshot: () => buildSnapshot(sources) }, logger: pino({ level: 'silent' }), maxConnections: clients + 8 });
  const measure = async () => {
    loop.start();
    await new Promise((r) => setTimeout(r, measureMs));
    loop.roll();
    const s = loop.stats();
    loop.stop();
    return s;
  };
  const idle = await measure();
  const connected: IpcClient[] = [];
  let pushes = 0;
  for (let i = 0; i < clients; i++) {
    const c = await IpcClient.connect(socketPath);
    await c.subscribe(1000 / hz, () => (pushes += 1));
    connected.push(c);
  }
  const busy = await measure();
  for (const c of connected) c.close();
  await server.close();
  rmSync(dir, { recursive: true, force: true });
  return { clients, hz, idle, busy, pushesPerSecond: Math.round(pushes / (measureMs / 1000)) };
}
