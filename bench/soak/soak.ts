// The soak: one worker on a real LiveKit server taking calls for a long time, rooms churning at a
// steady rate, some calls ending badly, and everything a leak would grow sampled as it goes. Then
// the same churn (same seed) against stock agents-js, whose parent process should stay flat.
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AgentDispatchClient, RoomServiceClient } from 'livekit-server-sdk';
import { leastSquares } from '../../src/introspection/trend.js';
import { findServerBinary, INSTALL_COMMAND } from '../../scripts/livekit-server.js';
import {
  readServerLog,
  startLivekitServer,
  type LivekitServer,
} from '../../test/support/livekit/livekit-server.js';
import { startCallers, type CallerProcess } from '../../test/support/media/callers.js';
import { buildAgent } from '../density/build-agent.js';
import { AGENT_NAME, readReport } from '../density/density-run.js';
import { launchRoomWorker } from '../density/room-density-run.js';
import { processTree, pssBytes, rssBytes } from '../density/process-stats.js';
import type { LaunchedWorker, WorkerKind } from '../launch-worker.js';

export interface SoakSettings {
  minutes: number;
  /** Calls up at once in steady state; arrivals are paced to hold it. */
  concurrency: number;
  talkS: [number, number];
  sampleS: number;
  seed: number;
  /** Share of calls ending each abnormal way. */
  abnormal: { vanish: number; deleteRoom: number; badToken: number };
  /** The workers soaked, one after the other, each on its own fresh server. */
  kinds: WorkerKind[];
}

export function soakSettings(args: string[]): SoakSettings {
  const flag = (name: string) => {
    const at = args.indexOf(`--${name}`);
    return at >= 0 ? args[at + 1] : undefined;
  };
  const num = (name: string, fallback: number) => {
    const raw = flag(name);
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isFinite(n) || n <= 0)
      throw new Error(`--${name} must be a positive number, got "${raw}"`);
    return n;
  };
  return {
    minutes: num('minutes', 30),
    concurrency: Math.round(num('concurrency', 30)),
    talkS: [20, 60],
    sampleS: num('sample-s', 30),
    seed: Math.round(num('seed', 17)),
    abnormal: { vanish: 0.1, deleteRoom: 0.1, badToken: 0.1 },
    kinds: soakKinds(flag('only'), args.includes('--no-stock')),
  };
}

function soakKinds(only: string | undefined, noStock: boolean): WorkerKind[] {
  if (only === undefined) return noStock ? ['openrtc'] : ['openrtc', 'stock'];
  if (only !== 'openrtc' && only !== 'stock')
    throw new Error(`--only must be "openrtc" or "stock", got "${only}"`);
  return [only];
}

/** The soak's flags that take a value, for the bench runner to keep apart from section names. */
export const SOAK_FLAGS = ['--minutes', '--concurrency', '--sample-s', '--seed', '--only'];

/** mulberry32: the same seed gives both workers the same calls. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Ending = 'hang_up' | 'vanish' | 'delete_room';

interface PlannedCall {
  room: string;
  at: number;
  talkMs: number;
  ending: Ending;
  badToken: boolean;
}

function plan(s: SoakSettings): PlannedCall[] {
  const rnd = random(s.seed);
  const meanTalkS = (s.talkS[0] + s.talkS[1]) / 2;
  const perS = s.concurrency / meanTalkS;
  const calls: PlannedCall[] = [];
  const runMs = s.minutes * 60_000;
  for (let i = 0; ; i++) {
    const at = (i * 1000) / perS;
    if (at >= runMs) break;
    const talkMs = (s.talkS[0] + rnd() * (s.talkS[1] - s.talkS[0])) * 1000;
    const r = rnd();
    const { vanish, deleteRoom, badToken } = s.abnormal;
    const ending: Ending =
      r < vanish ? 'vanish' : r < vanish + deleteRoom ? 'delete_room' : 'hang_up';
    calls.push({ room: `soak-${i}`, at, talkMs, ending, badToken: rnd() < badToken });
  }
  return calls;
}

/** One reading of the worker; `undefined` where that kind of worker cannot say. */
export interface SoakSample {
  atS: number;
  sessionsServed: number;
  live: number;
  rssMiB: number;
  pssMiB: number;
  fds: number;
  heapUsedMiB?: number;
  heapTotalMiB?: number;
  externalMiB?: number;
  arrayBuffersMiB?: number;
  nativeMiB?: number;
  handles?: number;
  timers?: number;
  ffiListeners?: number;
  /** Sum of every per-job and per-session map the worker reports. */
  trackedEntries?: number;
  /** Child processes (stock's job processes; our inference process). */
  children: number;
  childrenRssMiB: number;
  childrenPssMiB: number;
}

const MiB = 2 ** 20;

function openFds(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return 0;
  }
}

async function sample(
  worker: LaunchedWorker,
  startedAt: number,
  served: number,
  live: number,
): Promise<SoakSample> {
  const children = processTree(worker.pid).slice(1);
  const rss = rssBytes(worker.pid);
  const s: SoakSample = {
    atS: Math.round((Date.now() - startedAt) / 1000),
    sessionsServed: served,
    live,
    rssMiB: rss / MiB,
    pssMiB: pssBytes(worker.pid) / MiB,
    fds: openFds(worker.pid),
    children: children.length,
    childrenRssMiB: children.reduce((n, pid) => n + rssBytes(pid), 0) / MiB,
    childrenPssMiB: children.reduce((n, pid) => n + pssBytes(pid), 0) / MiB,
  };
  const f = (
    await worker.snapshot().catch((err: unknown) => {
      if (worker.kind === 'openrtc') console.error(`  snapshot failed: ${String(err)}`);
      return undefined;
    })
  )?.worker;
  const fp = f?.footprint;
  if (f && fp) {
    s.heapUsedMiB = f.heapUsedBytes / MiB;
    s.heapTotalMiB = fp.heapTotalBytes / MiB;
    s.externalMiB = fp.externalBytes / MiB;
    s.arrayBuffersMiB = fp.arrayBuffersBytes / MiB;
    s.nativeMiB = (rss - fp.heapTotalBytes - fp.externalBytes) / MiB;
    s.handles = Object.values(fp.handles).reduce((a, b) => a + b, 0);
    s.timers = fp.handles['Timeout'] ?? 0;
    s.ffiListeners = fp.ffiListeners;
    // Tenant rows are bounded by tenants, not calls; inUse is a count, not entries.
    s.trackedEntries = Object.entries(fp.tracked)
      .filter(([k]) => k !== 'admission.tenantRows' && k !== 'admission.inUse')
      .reduce((n, [, v]) => n + v, 0);
  }
  return s;
}

export interface SoakRun {
  kind: WorkerKind;
  calls: number;
  failedCalls: number;
  endings: Record<string, number>;
  sessionsStarted: number;
  sessionsEnded: number;
  /** Job requests the server could place with no worker: calls no agent answered. */
  notDispatched: number;
  /** The server's reason for each, counted (`no workers with sufficient capacity`: the load). */
  notDispatchedWhy: Record<string, number>;
  samples: SoakSample[];
  /** Per series: growth per 1,000 sessions after warm-up, with its 95 % interval. */
  growth: Record<string, { per1000: number; ci95: number; points: number }>;
}

/** Series reported, with their units. */
export const SERIES: Record<string, string> = {
  rssMiB: 'RSS (MiB)',
  pssMiB: 'PSS (MiB)',
  heapUsedMiB: 'heap used (MiB)',
  heapTotalMiB: 'heap total (MiB)',
  externalMiB: 'external (MiB)',
  arrayBuffersMiB: 'arrayBuffers (MiB)',
  nativeMiB: 'native (MiB)',
  fds: 'open fds',
  handles: 'active handles',
  timers: 'timers',
  ffiListeners: 'FFI listeners',
  trackedEntries: 'own map entries',
  children: 'child processes',
  childrenRssMiB: 'children RSS (MiB)',
  childrenPssMiB: 'children PSS (MiB)',
};

function growth(samples: SoakSample[]): SoakRun['growth'] {
  // Warm-up: the first fifth of the run (modules load, pools fill), at least the first sample.
  const warm = samples.slice(Math.max(1, Math.floor(samples.length / 5)));
  const out: SoakRun['growth'] = {};
  for (const key of Object.keys(SERIES)) {
    const points = warm.flatMap((s) => {
      const y = s[key as keyof SoakSample];
      return typeof y === 'number' ? [{ x: s.sessionsServed, y }] : [];
    });
    if (points.length === 0) continue;
    const t = leastSquares(points);
    out[key] = { per1000: t.slope * 1000, ci95: t.ci95 * 1000, points: t.points };
  }
  return out;
}

async function soakOne(
  kind: WorkerKind,
  s: SoakSettings,
  serverBinary: string,
  log: (line: string) => void,
): Promise<SoakRun> {
  const built = buildAgent();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'openrtc-soak-'));
  const reportFile = path.join(dir, 'report.jsonl');
  writeFileSync(reportFile, '');
  const server: LivekitServer = await startLivekitServer({ binary: serverBinary, udpPorts: 4 });
  const live = new Set<CallerProcess>();
  let worker: LaunchedWorker | undefined;
  try {
    worker = await launchRoomWorker(kind, server, built, { env: { BENCH_OVERLOAD: 'off' } });
    const dispatch = new AgentDispatchClient(server.httpUrl, server.apiKey, server.apiSecret);
    const rooms = new RoomServiceClient(server.httpUrl, server.apiKey, server.apiSecret);
    const calls = plan(s);
    const startedAt = Date.now();
    // Sessions served are the agent's own reports of a session that ended, not calls placed: a
    // call no agent answered (LiveKit found no worker, a job process that failed) is no session.
    const sessionsServed = () => readReport(reportFile).filter((l) => l.event === 'ended').length;
    let failed = 0;
    let inCall = 0;
    const endings: Record<string, number> = Object.create(null) as Record<string, number>;

    const runCall = async (c: PlannedCall) => {
      inCall += 1;
      let caller: CallerProcess | undefined;
      try {
        await dispatch.createDispatch(c.room, AGENT_NAME, {
          metadata: JSON.stringify({
            tenant: `tenant-${Number(c.room.split('-')[1]) % 10}`,
            report: reportFile,
            badToken: c.badToken,
          }),
        });
        caller = await startCallers(server, [{ room: c.room }]);
        live.add(caller);
        await sleep(c.talkMs);
        if (c.ending === 'vanish') {
          // Gone without leaving: the server notices when the connection times out.
          caller.child.kill('SIGKILL');
        } else if (c.ending === 'delete_room') {
          await rooms.deleteRoom(c.room);
          await caller.hangUp();
        } else {
          await caller.hangUp();
        }
        endings[c.ending] = (endings[c.ending] ?? 0) + 1;
        if (c.badToken) endings.bad_token = (endings.bad_token ?? 0) + 1;
      } catch (err) {
        failed += 1;
        log(
          `  call ${c.room} failed: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`,
        );
        await caller?.hangUp().catch(() => undefined);
      } finally {
        if (caller) live.delete(caller);
        inCall -= 1;
      }
    };

    const samples: SoakSample[] = [await sample(worker, startedAt, 0, 0)];
    const w = worker;
    const sampler = setInterval(() => {
      void sample(w, startedAt, sessionsServed(), inCall).then((x) => {
        samples.push(x);
        log(
          `  ${kind} ${x.atS}s: ${x.sessionsServed} served, ${x.live} live, RSS ${x.rssMiB.toFixed(0)} MiB` +
            (x.heapUsedMiB !== undefined ? `, heap ${x.heapUsedMiB.toFixed(0)} MiB` : '') +
            `, ${x.children} children`,
        );
      });
    }, s.sampleS * 1000);
    const running: Promise<void>[] = [];
    for (const c of calls) {
      const wait = startedAt + c.at - Date.now();
      if (wait > 0) await sleep(wait);
      running.push(runCall(c));
    }
    await Promise.all(running);
    clearInterval(sampler);
    // Let the last sessions end (a vanished caller's takes the server's timeout), then read once more.
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const lines = readReport(reportFile);
      const started = lines.filter((l) => l.event === 'started').length;
      if (lines.filter((l) => l.event === 'ended').length >= started) break;
      await sleep(1_000);
    }
    samples.push(await sample(worker, startedAt, sessionsServed(), 0));
    const lines = readReport(reportFile);
    const notDispatchedWhy = Object.create(null) as Record<string, number>;
    for (const m of readServerLog(server).matchAll(
      /failed to send job request\t\{"error": "([^"]*)"/g,
    ))
      notDispatchedWhy[m[1]!] = (notDispatchedWhy[m[1]!] ?? 0) + 1;
    const notDispatched = Object.values(notDispatchedWhy).reduce((a, b) => a + b, 0);
    return {
      kind,
      calls: calls.length,
      failedCalls: failed,
      endings: { ...endings },
      sessionsStarted: lines.filter((l) => l.event === 'started').length,
      sessionsEnded: lines.filter((l) => l.event === 'ended').length,
      notDispatched,
      notDispatchedWhy: { ...notDispatchedWhy },
      samples,
      growth: growth(samples),
    };
  } finally {
    await Promise.all([...live].map((c) => c.hangUp().catch(() => undefined)));
    await worker?.stop();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface SoakResult {
  settings: SoakSettings;
  runs: SoakRun[];
}

export async function benchSoak(
  s: SoakSettings,
  log = console.log,
): Promise<SoakResult | { skipped: string }> {
  const binary = findServerBinary();
  if (!binary) {
    const why = `no livekit-server binary: ${INSTALL_COMMAND}`;
    log(why);
    return { skipped: why };
  }
  const runs: SoakRun[] = [];
  for (const kind of s.kinds) {
    const run = await soakOne(kind, s, binary.path, log);
    // A worker that answered only some calls ran a lighter churn: its figures do not compare.
    if (run.sessionsStarted < run.calls)
      log(
        `  ${kind}: only ${run.sessionsStarted} of ${run.calls} calls started a session (${run.failedCalls} calls failed; job requests LiveKit placed with no worker: ${JSON.stringify(run.notDispatchedWhy)})`,
      );
    runs.push(run);
  }
  return { settings: s, runs };
}
