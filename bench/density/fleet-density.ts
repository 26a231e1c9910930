// Fleet density: the density benchmark's talking VAD sessions on one openrtc worker process,
// against the same calls spread by one dispatcher over two worker processes that share their caps
// through Redis. Each size runs both ways back to back, so a noisy neighbour hits both alike.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { LocalDispatcher } from '../../src/dispatcher/local-dispatcher.js';
import type { DispatchOutcome } from '../../src/dispatcher/types.js';
import { dispatcherTarget, launchWorker, type LaunchedWorker } from '../launch-worker.js';
import type { BuiltAgent } from './build-agent.js';
import {
  AGENT_NAME,
  CONFIG,
  MIB,
  holdAndMeasure,
  readReport,
  sampleMemory,
  waitForReports,
  type DensityOptions,
  type MemorySampler,
} from './density-run.js';
import { readTree } from './process-stats.js';

const LOOP_P99_LIMIT_MS = 50;
const CREDENTIALS = { apiKey: 'bench', apiSecret: 'bench-secret-long-enough-0000000' };

export interface FleetDensityRun {
  workers: 1 | 2;
  store: 'memory' | 'redis';
  /** Calls offered. */
  sessions: number;
  /** Calls each worker took, by the dispatcher's assignments. */
  acceptedByWorker: number[];
  started: number;
  /** What became of every offered call that was not assigned (rejection reason, no_worker). */
  notAssigned: Record<string, number>;
  /** Each worker's event-loop delay p99 over the hold, from the loop probe. */
  loopP99MsByWorker: number[];
  /** Each worker's CPU over the hold, % of one core. */
  cpuPctByWorker: number[];
  /** Peak RSS of all the workers' trees together. */
  peakRssMiB: number;
  /** Every call started and every worker's loop p99 stayed under 50 ms. */
  held: boolean;
}

export interface FleetDensityResult {
  sizes: number[];
  holdMs: number;
  arrivalsPerS: number;
  runs: FleetDensityRun[];
  /** Highest N held, for one worker and for two. */
  highestN: { workers: 1 | 2; n: number | undefined }[];
}

/**
 * Each size with one worker (memory store, as one process runs) and with two sharing Redis. A
 * series stops at the first size it does not hold: larger ones would only saturate further.
 */
export async function benchFleetDensity(
  built: BuiltAgent,
  redisUrl: string,
  sizes: number[],
  opts: DensityOptions,
): Promise<FleetDensityResult> {
  const runs: FleetDensityRun[] = [];
  const stopped = new Set<1 | 2>();
  for (const n of sizes) {
    for (const workers of [1, 2] as const) {
      if (stopped.has(workers)) continue;
      const run = await runFleetDensity(workers, n, built, opts, redisUrl);
      runs.push(run);
      if (!run.held) stopped.add(workers);
    }
  }
  const highestN = ([1, 2] as const).map((workers) => {
    const held = runs.filter((r) => r.workers === workers && r.held).map((r) => r.sessions);
    return { workers, n: held.length > 0 ? Math.max(...held) : undefined };
  });
  return { sizes, holdMs: opts.holdMs, arrivalsPerS: opts.arrivalsPerS, runs, highestN };
}

async function runFleetDensity(
  workers: 1 | 2,
  sessions: number,
  built: BuiltAgent,
  opts: DensityOptions,
  redisUrl: string,
): Promise<FleetDensityRun> {
  const store = workers === 1 ? 'memory' : 'redis';
  const dir = mkdtempSync(path.join(os.tmpdir(), 'openrtc-bench-fleet-density-'));
  const reportFile = path.join(dir, 'report.jsonl');
  writeFileSync(reportFile, '');
  const dispatcher = await LocalDispatcher.start({ port: 0, ...CREDENTIALS });
  const storeEnv =
    store === 'redis'
      ? {
          BENCH_STORE: 'redis',
          BENCH_STORE_PREFIX: `bench-density-${randomUUID().slice(0, 8)}:`,
          OPENRTC_REDIS_URL: redisUrl,
        }
      : {};
  const launched: LaunchedWorker[] = [];
  let memory: MemorySampler[] = [];
  try {
    for (let i = 0; i < workers; i++)
      launched.push(
        await launchWorker({
          kind: 'openrtc',
          target: dispatcherTarget(dispatcher),
          credentials: CREDENTIALS,
          agentName: AGENT_NAME,
          entry: CONFIG,
          env: { BENCH_AGENT_MODULE: built.agentPath, BENCH_OVERLOAD: 'off', ...storeEnv },
          loopProbe: built.loopProbePath,
        }),
      );
    await sleep(2_000);
    memory = launched.map((w) =>
      sampleMemory('openrtc', w.pid, readTree(w.pid), opts.memoryCeilingBytes),
    );

    const outcomes: Promise<DispatchOutcome>[] = [];
    const t0 = Date.now();
    for (let i = 0; i < sessions; i++) {
      const due = t0 + (i * 1000) / opts.arrivalsPerS;
      if (due > Date.now()) await sleep(due - Date.now());
      const metadata = JSON.stringify({ tenant: `tenant-${i % opts.tenants}`, report: reportFile });
      outcomes.push(
        dispatcher.dispatch({ agentName: AGENT_NAME, metadata, roomName: `fleet-density-${i}` }),
      );
    }
    const settled = await Promise.all(outcomes);
    const assigned = settled.flatMap((o) => (o.status === 'assigned' ? [o] : []));
    const notAssigned: Record<string, number> = {};
    for (const o of settled) {
      if (o.status === 'assigned') continue;
      const key = o.status === 'rejected' ? (o.reason ?? 'rejected') : o.status;
      notAssigned[key] = (notAssigned[key] ?? 0) + 1;
    }
    await waitForReports(reportFile, 'started', assigned.length, 30_000);
    const held = await Promise.all(
      launched.map((w, i) => holdAndMeasure(w, opts.holdMs, memory[i]!)),
    );

    for (const o of assigned) dispatcher.terminate(o.jobId);
    const started = readReport(reportFile).filter((l) => l.event === 'started').length;
    await waitForReports(reportFile, 'ended', started, 20_000);

    const workerIds = [...dispatcher.workers()].map((w) => w.workerId);
    const acceptedByWorker = workerIds.map(
      (id) => assigned.filter((o) => o.workerId === id).length,
    );
    const loopP99MsByWorker = held.map((h) => h.loop?.p99Ms ?? Number.NaN);
    return {
      workers,
      store,
      sessions,
      acceptedByWorker,
      started,
      notAssigned,
      loopP99MsByWorker,
      cpuPctByWorker: held.map((h) => (h.cpuSeconds / h.heldS) * 100),
      peakRssMiB: memory.reduce((sum, m) => sum + m.peakRssBytes, 0) / MIB,
      held:
        started === sessions &&
        memory.every((m) => !m.stoppedBy) &&
        loopP99MsByWorker.every((p) => p < LOOP_P99_LIMIT_MS),
    };
  } finally {
    for (const m of memory) m.stop();
    for (const w of launched) await w.stop();
    await dispatcher.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
