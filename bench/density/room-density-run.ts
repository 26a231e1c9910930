// One real-room density run: a fresh LiveKit server, a fresh worker registered with it, N rooms
// dispatched through the server's API at a steady rate, each with one caller (in a few caller
// processes, each with its own rtc-node) speaking the synthetic speech loop, a hold while all N
// talk, then hang-up. The same agent and the same server serve ours and stock.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AgentDispatchClient } from 'livekit-server-sdk';
import { startLivekitServer } from '../../test/support/livekit/livekit-server.js';
import { startCallers, type CallerProcess } from '../../test/support/media/callers.js';
import type { LivekitServerInfo } from '../../test/support/livekit/livekit-server.js';
import {
  launchWorker,
  livekitTarget,
  type LaunchedWorker,
  type WorkerKind,
  type WorkerLaunch,
} from '../launch-worker.js';
import type { BuiltAgent } from './build-agent.js';
import {
  AGENT_NAME,
  CONFIG,
  densityRow,
  holdAndMeasure,
  readReport,
  sampleMemory,
  waitForReports,
  type DensityOptions,
  type DensityRun,
} from './density-run.js';
import { cpuSeconds, readTree } from './process-stats.js';

/** Rooms per caller process; a run uses at most four such processes. */
const ROOMS_PER_CALLER_PROCESS = 10;
const MAX_CALLER_PROCESSES = 4;

/** Our worker or stock's, registered with `server`, running the room agent. */
export function launchRoomWorker(
  kind: WorkerKind,
  server: LivekitServerInfo,
  built: BuiltAgent,
  extra: Pick<WorkerLaunch, 'env' | 'loopProbe'> = {},
): Promise<LaunchedWorker> {
  return launchWorker({
    kind,
    target: livekitTarget(server),
    credentials: { apiKey: server.apiKey, apiSecret: server.apiSecret },
    agentName: AGENT_NAME,
    entry: kind === 'openrtc' ? CONFIG : built.stockWorkerPath,
    ...extra,
    env: { BENCH_AGENT_MODULE: built.roomAgentPath, ...extra.env },
  });
}

export async function runRoomDensity(
  kind: WorkerKind,
  sessions: number,
  built: BuiltAgent,
  opts: DensityOptions,
  serverBinary: string,
): Promise<DensityRun> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'openrtc-bench-rooms-'));
  const reportFile = path.join(dir, 'report.jsonl');
  writeFileSync(reportFile, '');
  // The server muxes every peer connection over a few UDP ports.
  const server = await startLivekitServer({ binary: serverBinary, udpPorts: 4 });
  const callers: CallerProcess[] = [];
  let worker: Awaited<ReturnType<typeof launchWorker>> | undefined;
  try {
    worker = await launchRoomWorker(kind, server, built, {
      env: {
        ...(opts.attribution ? { BENCH_ATTRIBUTION: opts.attribution } : {}),
        BENCH_OVERLOAD: opts.protection ?? 'off',
      },
      ...(kind === 'openrtc' ? { loopProbe: built.loopProbePath } : {}),
    });
    await sleep(2_000);
    const idle = readTree(worker.pid);
    const memory = sampleMemory(kind, worker.pid, idle, opts.memoryCeilingBytes);

    const api = new AgentDispatchClient(server.httpUrl, server.apiKey, server.apiSecret);
    const rooms = Array.from({ length: sessions }, (_, i) => `density-room-${i}`);
    const dispatchedAt = new Map<string, number>();
    const t0 = Date.now();
    for (const [i, room] of rooms.entries()) {
      if (memory.stoppedBy) break;
      const due = t0 + (i * 1000) / opts.arrivalsPerS;
      if (due > Date.now()) await sleep(due - Date.now());
      dispatchedAt.set(room, Date.now());
      await api.createDispatch(room, AGENT_NAME, {
        metadata: JSON.stringify({ tenant: `tenant-${i % opts.tenants}`, report: reportFile }),
      });
    }
    // Each caller talks from the moment it joins; callers join as their processes come up.
    const processes = Math.min(
      MAX_CALLER_PROCESSES,
      Math.ceil(rooms.length / ROOMS_PER_CALLER_PROCESS),
    );
    const groups = Array.from({ length: processes }, (_, p) =>
      rooms.filter((_, i) => i % processes === p),
    );
    callers.push(
      ...(await Promise.all(
        groups.map((group) =>
          startCallers(
            server,
            group.map((room) => ({ room })),
          ),
        ),
      )),
    );

    await waitForReports(
      reportFile,
      'started',
      rooms.length,
      60_000,
      () => memory.stoppedBy !== undefined,
    );

    const media = () => ({
      server: server.pid ? cpuSeconds(server.pid) : 0,
      callers: callers.reduce((s, c) => s + (c.child.pid ? cpuSeconds(c.child.pid) : 0), 0),
    });
    const mediaFrom = media();
    const held = await holdAndMeasure(worker, opts.holdMs, memory);
    const mediaTo = media();

    // Hanging up ends each session (agents-js closes a session whose caller left).
    await Promise.all(callers.splice(0).map((c) => c.hangUp()));
    await waitForReports(
      reportFile,
      'ended',
      readReport(reportFile).filter((l) => l.event === 'started').length,
      30_000,
    );

    const lines = readReport(reportFile);
    // LiveKit keeps no per-job answer: a room whose session never came up was never assigned.
    const up = lines.filter((l) => l.event === 'started').length;
    const outcomes = {
      assigned: up,
      ...(rooms.length > up ? { unassigned: rooms.length - up } : {}),
    };
    const row = densityRow(
      kind,
      sessions,
      lines,
      (l) => (l.room ? dispatchedAt.get(l.room) : undefined),
      { idle, memory, ...held, accepted: up, outcomes },
    );
    const { heldS } = held;
    return {
      ...row,
      media: {
        serverCpuPct: ((mediaTo.server - mediaFrom.server) / heldS) * 100,
        callersCpuPct: ((mediaTo.callers - mediaFrom.callers) / heldS) * 100,
        callerProcesses: processes,
      },
    };
  } finally {
    await Promise.all(callers.map((c) => c.hangUp()));
    await worker?.stop();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
