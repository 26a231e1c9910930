// Starts a worker under test in its own process, as production runs it: its memory and CPU are
// read from /proc apart from the harness, and its event loop is not shared with the dispatcher.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { LocalDispatcher } from '../src/dispatcher/local-dispatcher.js';
import { IpcClient } from '../src/ipc/ipc-client.js';
import { listWorkers } from '../src/ipc/socket-path.js';
import { SnapshotV1 } from '../src/introspection/snapshot-schema.js';
import { processTree } from './density/process-stats.js';
import { readServerLog, type LivekitServerInfo } from '../test/support/livekit/livekit-server.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export type WorkerKind = 'openrtc' | 'stock';

/** Where the worker registers: the local dispatcher, or a real LiveKit server. */
export interface AgentServerTarget {
  url: string;
  /** Resolves once a worker for `agentName` registers; called just before the worker starts. */
  registered(agentName: string): Promise<void>;
}

export function dispatcherTarget(dispatcher: LocalDispatcher): AgentServerTarget {
  return {
    url: dispatcher.url,
    registered: (agentName) =>
      new Promise<void>((resolve) => {
        const onWorker = (w: { agentName: string }) => {
          if (w.agentName !== agentName) return;
          dispatcher.off('worker_registered', onWorker);
          resolve();
        };
        dispatcher.on('worker_registered', onWorker);
      }),
  };
}

export function livekitTarget(server: LivekitServerInfo): AgentServerTarget {
  return {
    url: server.url,
    async registered(agentName) {
      // The server logs each registration; only those after this point count.
      const from = readServerLog(server).length;
      const line = new RegExp(`worker registered.*"agentName": "${agentName}"`);
      while (!line.test(readServerLog(server).slice(from))) await sleep(100);
    },
  };
}

export interface WorkerLaunch {
  kind: WorkerKind;
  target: AgentServerTarget;
  credentials: { apiKey: string; apiSecret: string };
  /** The name the worker registers under; the launch waits for it. */
  agentName: string;
  /** openrtc: the config file. stock: the script that runs `AgentServer`. */
  entry: string;
  env?: NodeJS.ProcessEnv;
  /** A module preloaded with `--import` that answers `loop-probe:reset` / `loop-probe:read`. */
  loopProbe?: string;
  /** openrtc: the worker's log level (default warn). */
  logLevel?: string;
  /** Each line the worker writes to stdout (its JSON log); without it stdout is discarded. */
  onLogLine?: (line: string) => void;
}

export interface LoopProbeReading {
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  samples: number;
}

export interface LaunchedWorker {
  kind: WorkerKind;
  pid: number;
  /** From spawning the process to the dispatcher seeing it register. */
  registeredMs: number;
  /** The environment the worker runs with: a CLI given it finds this worker's control socket. */
  env: NodeJS.ProcessEnv;
  /** The worker's own snapshot over its control socket (openrtc only). */
  snapshot(): Promise<SnapshotV1 | undefined>;
  /** Restarts the loop probe's histogram (no-op without a probe). */
  resetLoopProbe(): void;
  /** Event-loop delay since the last reset, from the loop probe. */
  readLoopProbe(): Promise<LoopProbeReading | undefined>;
  stop(): Promise<void>;
}

export async function launchWorker(launch: WorkerLaunch): Promise<LaunchedWorker> {
  const { kind, target, credentials } = launch;
  const runtimeDir = mkdtempSync(path.join(os.tmpdir(), 'openrtc-bench-rt-'));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    LIVEKIT_URL: target.url,
    LIVEKIT_API_KEY: credentials.apiKey,
    LIVEKIT_API_SECRET: credentials.apiSecret,
    OPENRTC_RUNTIME_DIR: runtimeDir,
    ...launch.env,
  };
  const args =
    kind === 'openrtc'
      ? [
          path.join(REPO, 'bin/openrtc.js'),
          'start',
          '--config',
          launch.entry,
          '--log-level',
          launch.logLevel ?? 'warn',
          '--log-format',
          'json',
        ]
      : [launch.entry];
  // For profiling the worker alone, e.g. BENCH_WORKER_NODE_ARGS="--cpu-prof --cpu-prof-dir=prof".
  const nodeArgs = process.env.BENCH_WORKER_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  if (launch.loopProbe) nodeArgs.push('--import', pathToFileURL(launch.loopProbe).href);
  const spawnedAt = performance.now();
  const child = spawn(process.execPath, [...nodeArgs, ...args], {
    cwd: REPO,
    env,
    stdio: ['ignore', launch.onLogLine ? 'pipe' : 'ignore', 'pipe', 'ipc'],
  });
  if (launch.onLogLine) {
    const onLine = launch.onLogLine;
    let partial = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) if (line) onLine(line);
    });
  }
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4_000)));

  const registered = target.registered(launch.agentName);
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code) =>
      reject(new Error(`${kind} worker exited with ${code} before registering:\n${stderr}`)),
    ),
  );
  const timeout = sleep(60_000, undefined, { ref: false }).then(() =>
    Promise.reject(new Error(`${kind} worker did not register within 60 s:\n${stderr}`)),
  );
  await Promise.race([registered, exited, timeout]);
  const registeredMs = performance.now() - spawnedAt;
  const pid = child.pid!;

  let client: IpcClient | undefined;
  return {
    kind,
    pid,
    registeredMs,
    env,
    async snapshot() {
      if (kind !== 'openrtc') return undefined;
      // The worker closes a connection left idle (a soak samples every 30 s): connect again then.
      for (let attempt = 0; ; attempt++) {
        if (!client) {
          const socket = (await listWorkers(env)).find((w) => w.pid === pid);
          if (!socket) throw new Error(`worker ${pid} serves no control socket`);
          client = await IpcClient.connect(socket.socketPath);
        }
        try {
          return SnapshotV1.parse(await client.request('snapshot'));
        } catch (err) {
          client.close();
          client = undefined;
          if (attempt > 0) throw err;
        }
      }
    },
    resetLoopProbe() {
      if (launch.loopProbe && child.connected) child.send('loop-probe:reset');
    },
    async readLoopProbe() {
      if (!launch.loopProbe || !child.connected) return undefined;
      const reading = new Promise<LoopProbeReading>((resolve) => {
        const onMessage = (msg: unknown) => {
          if (typeof msg !== 'object' || msg === null || !('loopProbe' in msg)) return;
          child.off('message', onMessage);
          resolve((msg as { loopProbe: LoopProbeReading }).loopProbe);
        };
        child.on('message', onMessage);
      });
      child.send('loop-probe:read');
      return reading;
    },
    async stop() {
      client?.close();
      const tree = processTree(pid);
      await stopChild(child);
      // Job processes orphaned by a worker that did not wait for them must not skew the next run.
      for (const orphan of tree.slice(1)) {
        try {
          process.kill(orphan, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      rmSync(runtimeDir, { recursive: true, force: true });
    },
  };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const stopped = await Promise.race([
    exited.then(() => true),
    sleep(60_000, undefined, { ref: false }).then(() => false),
  ]);
  if (!stopped) {
    child.kill('SIGKILL');
    await exited;
  }
}
