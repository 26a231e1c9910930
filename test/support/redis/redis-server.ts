// Starts a real `redis-server` (the Debian package) for a test file: a free port on 127.0.0.1, a
// temp dir, no persistence (so a restart loses the data, as a real outage without AOF would).
// It can be stopped (SIGSTOP), resumed, killed and started again on the same port.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const REDIS_INSTALL_COMMAND = 'apt-get install redis-server';

/** The `redis-server` binary on PATH (or `REDIS_SERVER_BIN`), else undefined. */
export function findRedisServer(): string | undefined {
  if (process.env.REDIS_SERVER_BIN) return process.env.REDIS_SERVER_BIN;
  try {
    return (
      execFileSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).trim() ||
      undefined
    );
  } catch {
    return undefined;
  }
}

/**
 * Whether this file's Redis tests run. Without a binary they skip with one printed line; in CI
 * (CI=true) a missing binary fails the file instead, so they can never be skipped there.
 */
export function redisAvailable(): boolean {
  if (findRedisServer()) return true;
  if (process.env.CI === 'true')
    throw new Error(
      `redis-server not found: the Redis tests must run in CI; run \`${REDIS_INSTALL_COMMAND}\``,
    );
  console.log(`Redis tests skipped: no redis-server; run \`${REDIS_INSTALL_COMMAND}\``);
  return false;
}

export interface RedisServer {
  readonly url: string;
  readonly port: number;
  /** SIGSTOP: the process is alive and its socket open, but nothing answers. */
  pause(): void;
  resume(): void;
  /** Kills it and starts a fresh one on the same port: every key is gone. */
  restart(): Promise<void>;
  kill(): Promise<void>;
  /** Starts it again after `kill()`. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    sock.setTimeout(500);
    sock.once('connect', () => sock.write('PING\r\n'));
    sock.once('data', (d) => {
      sock.destroy();
      resolve(d.toString().startsWith('+PONG'));
    });
    sock.once('error', () => resolve(false));
    sock.once('timeout', () => {
      sock.destroy();
      resolve(false);
    });
  });
}

export async function startRedisServer(): Promise<RedisServer> {
  const binary = findRedisServer();
  if (!binary) throw new Error(`no redis-server; run \`${REDIS_INSTALL_COMMAND}\``);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'openrtc-redis-'));
  const port = await freePort();
  let child: ChildProcess | undefined;

  const launch = async () => {
    const proc = spawn(
      binary,
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--dir',
        dir,
        '--save',
        '',
        '--appendonly',
        'no',
      ],
      { stdio: 'ignore' },
    );
    child = proc;
    const deadline = Date.now() + 10_000;
    while (!(await answersPing(port))) {
      if (proc.exitCode !== null) throw new Error(`redis-server exited with ${proc.exitCode}`);
      if (Date.now() > deadline) throw new Error(`redis-server did not answer on port ${port}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const kill = async () => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGCONT');
    proc.kill('SIGKILL');
    await exited;
  };
  await launch();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    pause: () => child?.kill('SIGSTOP'),
    resume: () => child?.kill('SIGCONT'),
    restart: async () => {
      await kill();
      await launch();
    },
    kill,
    start: launch,
    stop: async () => {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
