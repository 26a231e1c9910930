import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const OPENRTC_BIN = path.join(REPO_ROOT, 'bin/openrtc.js');

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * A real `openrtc` worker (`dev` or `start`) in a child process, with its own socket directory,
 * and the environment a CLI needs to reach it.
 */
export interface DevWorker {
  child: ChildProcess;
  /** The local dispatcher's port (`openrtc dev` only). */
  port: number;
  runtimeDir: string;
  /** Environment for CLI commands aimed at this worker. */
  env: NodeJS.ProcessEnv;
  logs: string[];
  /** The JSON log lines so far, parsed. */
  logRecords(): Record<string, unknown>[];
  /** Resolves with the first log record (from the start) that matches; rejects after `timeoutMs`. */
  waitForLog(
    match: (line: Record<string, unknown>) => boolean,
    timeoutMs?: number,
    what?: string,
  ): Promise<Record<string, unknown>>;
  /** Resolves with the exit code once the process has exited. */
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

export interface WorkerProcessOptions {
  /** Arguments after `openrtc`, e.g. `['start', '--config', file, '--log-format', 'json']`. */
  args: string[];
  /** Added to the environment; `LIVEKIT_*` are taken from here only. */
  env?: NodeJS.ProcessEnv;
  /** Environment for CLI commands aimed at this worker (beside its socket directory). */
  cliEnv?: NodeJS.ProcessEnv;
  port?: number;
  /** Node flags for the worker alone, e.g. `--cpu-prof`. */
  nodeArgs?: string[];
  /** Share a socket directory with other workers (it is then left in place on stop). */
  runtimeDir?: string;
  /** The launcher to run (default: this checkout's `bin/openrtc.js`), e.g. an installed package's. */
  bin?: string;
  /** Working directory (default: the repository). */
  cwd?: string;
  /** How long to wait for the ready line (default 60 s); a supervisor starts its workers after itself. */
  readyTimeoutMs?: number;
}

function parseRecords(lines: readonly string[]): Record<string, unknown>[] {
  return lines.flatMap((l) => {
    try {
      const v: unknown = JSON.parse(l);
      return typeof v === 'object' && v !== null ? [v as Record<string, unknown>] : [];
    } catch {
      return [];
    }
  });
}

/** A check for the first item matching `match`, which looks at each item once however often it runs. */
function firstNew<T>(items: readonly T[], match: (item: T) => boolean): () => T | undefined {
  let next = 0;
  return () => {
    for (; next < items.length; next++) if (match(items[next]!)) return items[next];
    return undefined;
  };
}

export async function startWorkerProcess(opts: WorkerProcessOptions): Promise<DevWorker> {
  const ownsRuntimeDir = opts.runtimeDir === undefined;
  const runtimeDir = opts.runtimeDir ?? mkdtempSync(path.join(os.tmpdir(), 'openrtc-rt-'));
  const baseEnv: NodeJS.ProcessEnv = { ...process.env, OPENRTC_RUNTIME_DIR: runtimeDir };
  delete baseEnv.LIVEKIT_URL;
  delete baseEnv.LIVEKIT_API_KEY;
  delete baseEnv.LIVEKIT_API_SECRET;
  Object.assign(baseEnv, opts.env);
  const bin = opts.bin ?? OPENRTC_BIN;
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), bin, ...opts.args], {
    cwd: opts.cwd ?? REPO_ROOT,
    env: baseEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  const logs: string[] = [];
  const records: Record<string, unknown>[] = [];
  // Waits are woken by each new line and by the exit, not by a poll.
  const onLines = new Set<() => void>();
  const wake = () => {
    for (const fn of onLines) fn();
  };
  let buffered = '';
  const onData = (chunk: Buffer) => {
    buffered += chunk.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    if (lines.length === 0) return;
    logs.push(...lines);
    records.push(...parseRecords(lines));
    wake();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  // After 'close', not 'exit': by then the last lines of output have arrived too.
  let outputEnded = false;
  child.once('close', () => {
    outputEnded = true;
    wake();
  });

  /**
   * Resolves with `check()`'s first value, re-checked on each line; rejects on exit or timeout,
   * with the last `tail` lines of output.
   */
  const whenLogged = <T>(check: () => T | undefined, timeoutMs: number, what: string, tail = 20) =>
    new Promise<T>((resolve, reject) => {
      const lastLines = () => logs.slice(-tail).join('\n');
      const finish = (err: Error | undefined, value?: T) => {
        onLines.delete(test);
        clearTimeout(timer);
        if (err) reject(err);
        else resolve(value as T);
      };
      const test = () => {
        const value = check();
        if (value !== undefined) return finish(undefined, value);
        if (outputEnded)
          finish(
            new Error(
              `${what}, and the worker exited (${child.exitCode ?? child.signalCode}):\n${lastLines()}`,
            ),
          );
      };
      const timer = setTimeout(
        () => finish(new Error(`${what} within ${timeoutMs} ms; last lines:\n${lastLines()}`)),
        timeoutMs,
      );
      onLines.add(test);
      test();
    });

  try {
    await whenLogged(
      firstNew(logs, (l) => l.includes('openrtc worker') && l.includes('ready')),
      opts.readyTimeoutMs ?? 60_000,
      `openrtc ${opts.args[0]} never logged that it was ready`,
      // A start-up failure is told by all of its output.
      Infinity,
    );
  } catch (err) {
    // A worker that never came up must not outlive the test that started it.
    child.kill('SIGKILL');
    if (ownsRuntimeDir) rmSync(runtimeDir, { recursive: true, force: true });
    throw err;
  }

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    OPENRTC_RUNTIME_DIR: runtimeDir,
    ...opts.cliEnv,
  };
  return {
    child,
    port: opts.port ?? 0,
    runtimeDir,
    env,
    logs,
    exited,
    logRecords: () => [...records],
    waitForLog: (match, timeoutMs = 30_000, what = 'a matching log line') =>
      whenLogged(firstNew(records, match), timeoutMs, `the worker never logged ${what}`),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(timer);
      }
      if (ownsRuntimeDir) rmSync(runtimeDir, { recursive: true, force: true });
    },
  };
}

export interface DevWorkerOptions {
  /** Share a socket directory with other workers (it is then left in place on stop). */
  runtimeDir?: string;
}

export async function startDevWorker(
  args: string[] = [],
  extraEnv: NodeJS.ProcessEnv = {},
  opts: DevWorkerOptions = {},
): Promise<DevWorker> {
  const port = await freePort();
  return startWorkerProcess({
    // JSON first, so a test's own --log-format comes later and wins.
    args: ['dev', '--port', String(port), '--log-format', 'json', ...args],
    env: extraEnv,
    port,
    cliEnv: {
      LIVEKIT_URL: `http://127.0.0.1:${port}`,
      LIVEKIT_API_KEY: 'devkey',
      LIVEKIT_API_SECRET: 'secret',
    },
    ...(opts.runtimeDir !== undefined ? { runtimeDir: opts.runtimeDir } : {}),
  });
}
