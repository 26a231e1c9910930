import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
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
 * A real `openrtc dev` worker in a child process, with its own socket directory and dispatcher
 * port, and the environment a CLI needs to reach it.
 */
export interface DevWorker {
  child: ChildProcess;
  port: number;
  runtimeDir: string;
  /** Environment for CLI commands aimed at this worker. */
  env: NodeJS.ProcessEnv;
  logs: string[];
  stop(): Promise<void>;
}

export interface DevWorkerOptions {
  /** Share a socket directory with other workers (it is then left in place on stop). */
  runtimeDir?: string;
}

export async function startDevWorker(args: string[] = [], extraEnv: NodeJS.ProcessEnv = {}, opts: DevWorkerOptions = {}): Promise<DevWorker> {
  const port = await freePort();
  const ownsRuntimeDir = opts.runtimeDir === undefined;
  const runtimeDir = opts.runtimeDir ?? mkdtempSync(path.join(os.tmpdir(), 'openrtc-rt-'));
  const baseEnv: NodeJS.ProcessEnv = { ...process.env, OPENRTC_RUNTIME_DIR: runtimeDir, ...extraEnv };
  delete baseEnv.LIVEKIT_URL;
  delete baseEnv.LIVEKIT_API_KEY;
  delete baseEnv.LIVEKIT_API_SECRET;
  const child = spawn(process.execPath, [OPENRTC_BIN, 'dev', '--port', String(port), '--log-format', 'json', ...args], {
    cwd: REPO_ROOT,
    env: baseEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  let buffered = '';
  const onData = (chunk: Buffer) => {
    buffered += chunk.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    logs.push(...lines);
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);

  const deadline = Date.now() + 60_000;
  while (!logs.some((l) => l.includes('openrtc worker') && l.includes('ready'))) {
    if (child.exitCode !== null) throw new Error(`openrtc dev exited with ${child.exitCode}:\n${logs.join('\n')}`);
    if (Date.now() > deadline) {
      // A worker that never came up must not outlive the test that started it.
      child.kill('SIGKILL');
      if (ownsRuntimeDir) rmSync(runtimeDir, { recursive: true, force: true });
      throw new Error(`openrtc dev did not become ready:\n${logs.join('\n')}`);
    }
    await sleep(100);
  }

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    OPENRTC_RUNTIME_DIR: runtimeDir,
    LIVEKIT_URL: `http://127.0.0.1:${port}`,
    LIVEKIT_API_KEY: 'devkey',
    LIVEKIT_API_SECRET: 'secret',
  };
  return {
    child,
    port,
    runtimeDir,
    env,
    logs,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const exited = new Promise((r) => child.once('exit', r));
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(timer);
      }
      if (ownsRuntimeDir) rmSync(runtimeDir, { recursive: true, force: true });
    },
  };
}
