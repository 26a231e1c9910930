// One density run: a fresh worker, N calls arriving at a steady rate, a hold while all N talk,
// then hang-up. Everything the table reports for one row is measured here.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AttributionMode } from '../../src/config/schema.js';
import { LocalDispatcher } from '../../src/dispatcher/local-dispatcher.js';
import type { DispatchOutcome } from '../../src/dispatcher/types.js';
import { percentile } from '../stats.js';
import type { BuiltAgent } from './build-agent.js';
import {
  dispatcherTarget,
  launchWorker,
  type LaunchedWorker,
  type LoopProbeReading,
  type WorkerKind,
} from '../launch-worker.js';
import { findInTree, pssBytes, readTree, rssBytes, type TreeReading } from './process-stats.js';

export interface DensityOptions {
  /** Calls per second while ramping up. */
  arrivalsPerS: number;
  /** How long all N sessions talk while CPU and loop delay are measured. */
  holdMs: number;
  /** A run whose process tree passes this is stopped. */
  memoryCeilingBytes: number;
  /** Tenants the calls are spread over. */
  tenants: number;
  /** openrtc only: the attribution mode (default: the config default, sampled). */
  attribution?: AttributionMode;
  /** openrtc only: overload protection (default off: density measures what N sessions cost when forced on one worker). */
  protection?: 'on' | 'off';
  /** Turns are ended by the local turn detector in the inference process instead of the VAD alone. */
  turnDetector?: boolean;
}

export interface DensityRun {
  kind: WorkerKind;
  /** Calls offered. */
  sessions: number;
  /** Calls the worker accepted (the dispatcher assigned them). */
  accepted: number;
  /** What became of every offered call: assigned, or the rejection reason, or no_worker (the worker reported full). */
  outcomes: Record<string, number>;
  started: number;
  failures: number;
  processes: number;
  idleRssMiB: number;
  peakRssMiB: number;
  /** Shared pages counted once across the tree: the fairer total for many processes. */
  peakPssMiB: number;
  /**
   * The worker's inference process (the local turn detector's model), counted in the totals
   * above for both kinds: stock forks one per worker, and so does openrtc.
   */
  inferenceRssMiB: number;
  inferencePssMiB: number;
  rssPerSessionMiB: number;
  /** PSS growth per session: what each added call costs the machine. */
  pssPerSessionMiB: number;
  cpuPctOfCore: number;
  /** openrtc only: event-loop delay over the whole hold, from the probe loaded into the worker. */
  loop?: LoopProbeReading;
  startP50Ms: number;
  startP99Ms: number;
  /** Turns the VAD detected per session-minute: proof the audio went through the model. */
  speechTurnsPerSessionMin: number;
  repliesPerSessionMin: number;
  stoppedBy?: 'memory_ceiling';
  /** Room mode: the media side's own CPU over the hold, % of one core. */
  media?: { serverCpuPct: number; callersCpuPct: number; callerProcesses: number };
}

export const AGENT_NAME = 'vad-agent';
export const CONFIG = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  'openrtc.bench.config.ts',
);
const CREDENTIALS = { apiKey: 'bench', apiSecret: 'bench-secret-long-enough-0000000' };
export const MIB = 2 ** 20;
/** How each kind's inference process is recognised in the worker's process tree. */
const INFERENCE_PROCESS: Record<WorkerKind, string> = {
  openrtc: 'src/inference/process-main.js',
  stock: 'ipc/inference_proc_lazy_main',
};

export interface ReportLine {
  job: string;
  /** Room mode: the room the session ran in. */
  room?: string;
  event: 'started' | 'ended';
  at: number;
  speechTurns?: number;
  replies?: number;
}

export function readReport(file: string): ReportLine[] {
  const lines = readFileSync(file, 'utf8').split('\n');
  // The last piece is empty, or a line some session is still appending: read it next time.
  lines.pop();
  return lines.map((line) => JSON.parse(line) as ReportLine);
}

export async function runDensity(
  kind: WorkerKind,
  sessions: number,
  built: BuiltAgent,
  opts: DensityOptions,
): Promise<DensityRun> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'openrtc-bench-density-'));
  const reportFile = path.join(dir, 'report.jsonl');
  writeFileSync(reportFile, '');
  const dispatcher = await LocalDispatcher.start({ port: 0, ...CREDENTIALS });
  const worker = await launchWorker({
    kind,
    target: dispatcherTarget(dispatcher),
    credentials: CREDENTIALS,
    agentName: AGENT_NAME,
    entry: kind === 'openrtc' ? CONFIG : built.stockWorkerPath,
    env: {
      BENCH_AGENT_MODULE: built.agentPath,
      ...(opts.attribution ? { BENCH_ATTRIBUTION: opts.attribution } : {}),
      BENCH_OVERLOAD: opts.protection ?? 'off',
      ...(opts.turnDetector ? { BENCH_TURN_DETECTOR: '1' } : {}),
    },
    ...(kind === 'openrtc' ? { loopProbe: built.loopProbePath } : {}),
  });
  try {
    await sleep(2_000);
    const idle = readTree(worker.pid);

    const memory = sampleMemory(kind, worker.pid, idle, opts.memoryCeilingBytes);

    const dispatchedAt = new Map<string, number>();
    const outcomes: Promise<DispatchOutcome>[] = [];
    const t0 = Date.now();
    for (let i = 0; i < sessions && !memory.stoppedBy; i++) {
      const due = t0 + (i * 1000) / opts.arrivalsPerS;
      if (due > Date.now()) await sleep(due - Date.now());
      const sentAt = Date.now();
      const metadata = JSON.stringify({ tenant: `tenant-${i % opts.tenants}`, report: reportFile });
      outcomes.push(
        dispatcher
          .dispatch({ agentName: AGENT_NAME, metadata, roomName: `density-${i}` })
          .then((o) => {
            dispatchedAt.set(o.jobId, sentAt);
            return o;
          }),
      );
    }
    const settled = await Promise.all(outcomes);
    const assigned = settled.filter((o) => o.status === 'assigned').map((o) => o.jobId);
    const outcomeCounts: Record<string, number> = {};
    for (const o of settled) {
      const key = o.status === 'rejected' ? (o.reason ?? 'rejected') : o.status;
      outcomeCounts[key] = (outcomeCounts[key] ?? 0) + 1;
    }

    await waitForReports(
      reportFile,
      'started',
      assigned.length,
      30_000,
      () => memory.stoppedBy !== undefined,
    );
    const held = await holdAndMeasure(worker, opts.holdMs, memory);

    for (const jobId of assigned) dispatcher.terminate(jobId);
    await waitForReports(
      reportFile,
      'ended',
      readReport(reportFile).filter((l) => l.event === 'started').length,
      20_000,
    );

    return densityRow(kind, sessions, readReport(reportFile), (l) => dispatchedAt.get(l.job), {
      idle,
      memory,
      ...held,
      accepted: assigned.length,
      outcomes: outcomeCounts,
    });
  } finally {
    await worker.stop();
    await dispatcher.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Waits until `count` sessions have reported `event`, `timeoutMs` passes, or `stop()` says so. */
export async function waitForReports(
  file: string,
  event: ReportLine['event'],
  count: number,
  timeoutMs: number,
  stop: () => boolean = () => false,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (
    readReport(file).filter((l) => l.event === event).length < count &&
    Date.now() < until &&
    !stop()
  )
    await sleep(250);
}

export interface MemorySampler {
  peakRssBytes: number;
  peakPssBytes: number;
  /** The worker's inference process alone, within the totals. */
  inferenceRssBytes: number;
  inferencePssBytes: number;
  stoppedBy: DensityRun['stoppedBy'];
  stop(): void;
}

/** Peak RSS and PSS of the worker's whole tree, every 250 ms; flags a run past the ceiling. */
export function sampleMemory(
  kind: WorkerKind,
  pid: number,
  idle: TreeReading,
  ceilingBytes: number,
): MemorySampler {
  const sampler: MemorySampler = {
    peakRssBytes: idle.rssBytes,
    peakPssBytes: idle.pssBytes,
    inferenceRssBytes: 0,
    inferencePssBytes: 0,
    stoppedBy: undefined,
    stop: () => clearInterval(timer),
  };
  const timer = setInterval(() => {
    const now = readTree(pid);
    sampler.peakRssBytes = Math.max(sampler.peakRssBytes, now.rssBytes);
    sampler.peakPssBytes = Math.max(sampler.peakPssBytes, now.pssBytes);
    const inference = findInTree(pid, INFERENCE_PROCESS[kind]);
    if (inference !== undefined) {
      sampler.inferenceRssBytes = Math.max(sampler.inferenceRssBytes, rssBytes(inference));
      sampler.inferencePssBytes = Math.max(sampler.inferencePssBytes, pssBytes(inference));
    }
    if (now.rssBytes > ceilingBytes) sampler.stoppedBy = 'memory_ceiling';
  }, 250);
  return sampler;
}

export interface HoldReadings {
  /** CPU seconds the worker's tree used over the hold. */
  cpuSeconds: number;
  heldS: number;
  processes: number;
  loop?: LoopProbeReading;
}

/** The hold: every session talking for `holdMs`, the worker's CPU and loop delay measured over it. */
export async function holdAndMeasure(
  worker: LaunchedWorker,
  holdMs: number,
  memory: MemorySampler,
): Promise<HoldReadings> {
  const cpuFrom = readTree(worker.pid);
  const holdFrom = Date.now();
  worker.resetLoopProbe();
  while (Date.now() - holdFrom < holdMs && !memory.stoppedBy) await sleep(250);
  const loop = await worker.readLoopProbe();
  const cpuTo = readTree(worker.pid);
  const heldS = (Date.now() - holdFrom) / 1000;
  memory.stop();
  return {
    cpuSeconds: cpuTo.cpuSeconds - cpuFrom.cpuSeconds,
    heldS,
    processes: cpuTo.processes,
    ...(loop ? { loop } : {}),
  };
}

export interface RunReadings extends HoldReadings {
  idle: TreeReading;
  memory: MemorySampler;
  /** Calls the worker took. */
  accepted: number;
  /** What became of every offered call. */
  outcomes: Record<string, number>;
}

/** One table row from the sessions' own report lines and the harness's readings. */
export function densityRow(
  kind: WorkerKind,
  sessions: number,
  lines: ReportLine[],
  sentAt: (line: ReportLine) => number | undefined,
  r: RunReadings,
): DensityRun {
  const started = lines.filter((l) => l.event === 'started');
  const startedAt = new Map(started.map((l) => [l.job, l.at]));
  const latencies = started.flatMap((l) => {
    const sent = sentAt(l);
    return sent === undefined ? [] : [l.at - sent];
  });
  const ended = lines.filter((l) => l.event === 'ended');
  const talkMin = ended.reduce(
    (sum, l) => sum + Math.max(0, l.at - (startedAt.get(l.job) ?? l.at)) / 60_000,
    0,
  );
  const sum = (key: 'speechTurns' | 'replies') => ended.reduce((s, l) => s + (l[key] ?? 0), 0);
  const { idle, memory } = r;
  return {
    kind,
    sessions,
    accepted: r.accepted,
    outcomes: r.outcomes,
    started: started.length,
    failures: sessions - started.length,
    processes: r.processes,
    idleRssMiB: idle.rssBytes / MIB,
    peakRssMiB: memory.peakRssBytes / MIB,
    peakPssMiB: memory.peakPssBytes / MIB,
    inferenceRssMiB: memory.inferenceRssBytes / MIB,
    inferencePssMiB: memory.inferencePssBytes / MIB,
    rssPerSessionMiB: (memory.peakRssBytes - idle.rssBytes) / MIB / Math.max(1, started.length),
    pssPerSessionMiB: (memory.peakPssBytes - idle.pssBytes) / MIB / Math.max(1, started.length),
    cpuPctOfCore: (r.cpuSeconds / r.heldS) * 100,
    ...(r.loop ? { loop: r.loop } : {}),
    startP50Ms: percentile(latencies, 50),
    startP99Ms: percentile(latencies, 99),
    speechTurnsPerSessionMin: talkMin > 0 ? sum('speechTurns') / talkMin : 0,
    repliesPerSessionMin: talkMin > 0 ? sum('replies') / talkMin : 0,
    ...(memory.stoppedBy ? { stoppedBy: memory.stoppedBy } : {}),
  };
}
