import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { IpcServer } from '../../src/ipc/ipc-server.js';
import { SnapshotV1 } from '../../src/introspection/snapshot-schema.js';
import { runTop } from '../../src/top/run-top.js';
import { ipcSnapshotSource, type ConnectionState } from '../../src/top/snapshot-source.js';
import { silentLogger, tempRuntimeDir } from '../ipc/helpers.js';
import { until } from '../support/conditions.js';
import { snapshot } from './fixtures.js';

function capture() {
  const out = { text: '', write: (s: string) => ((out.text += s), true) };
  return out;
}

describe('runTop', () => {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const c of cleanups.reverse()) await c();
    cleanups.length = 0;
  });

  function runtime() {
    const rt = tempRuntimeDir();
    cleanups.push(rt.remove);
    return rt.dir;
  }

  async function worker(dir: string, name: string, pid: number, snap = snapshot()) {
    const server = await IpcServer.listen({
      socketPath: path.join(dir, `${name}-${pid}.sock`),
      handlers: { snapshot: () => snap },
      logger: silentLogger,
    });
    cleanups.push(() => server.close());
    return server;
  }

  async function top(args: Partial<Parameters<typeof runTop>[0]>, env: NodeJS.ProcessEnv) {
    const stdout = capture();
    const stderr = capture();
    const code = await runTop({
      refreshRate: 1,
      ...args,
      env,
      stdout: stdout as unknown as NodeJS.WriteStream,
      stderr: stderr as unknown as NodeJS.WriteStream,
    });
    return { code, stdout: stdout.text, stderr: stderr.text };
  }

  it('with no worker running prints a one-line hint and exits 1', async () => {
    const r = await top({ once: true }, { OPENRTC_RUNTIME_DIR: runtime() });
    expect(r).toEqual({
      code: 1,
      stdout: '',
      stderr: 'openrtc: no openrtc worker is running (start one with: npx openrtc dev)\n',
    });
  });

  it('--json prints the raw snapshot of the only worker', async () => {
    const dir = runtime();
    await worker(dir, 'agency-eu-1', 4242);
    const r = await top({ json: true }, { OPENRTC_RUNTIME_DIR: dir });
    expect(r.code).toBe(0);
    expect(SnapshotV1.parse(JSON.parse(r.stdout))).toEqual(snapshot());
  });

  it('--once --tenant prints one plain frame of that tenant', async () => {
    const dir = runtime();
    await worker(dir, 'agency-eu-1', 4242);
    const r = await top({ once: true, tenant: 'acme', sort: 'cpu' }, { OPENRTC_RUNTIME_DIR: dir });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).not.toContain('globex');
    expect(
      r.stdout
        .split('\n')
        .filter((l) => l.startsWith('SA_'))
        .map((l) => l.split(' ')[0]),
    ).toEqual(['SA_beta', 'SA_alpha']);
  });

  it('into a pipe (no terminal), the live view prints one plain frame without escape codes and exits', async () => {
    const dir = runtime();
    await worker(dir, 'agency-eu-1', 4242);
    const r = await top({ tenant: 'acme' }, { OPENRTC_RUNTIME_DIR: dir });
    expect(r.code).toBe(0);
    expect(r.stdout).not.toMatch(/\u001B/);
    expect(r.stdout).toContain('openrtc agency-eu-1 pid 4242');
    expect(r.stdout).toContain('tenant acme');
    expect(r.stdout).not.toContain('globex');
  });

  it('with several workers lists them and asks for --socket; --socket picks one', async () => {
    const dir = runtime();
    const a = await worker(dir, 'alpha', 11);
    await worker(dir, 'beta', 12);
    const r = await top({ once: true }, { OPENRTC_RUNTIME_DIR: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `openrtc: several openrtc workers are running; pick one with --socket:\n  alpha (pid 11): --socket ${a.socketPath}\n  beta (pid 12): --socket ${path.join(dir, 'beta-12.sock')}\n`,
    );
    const picked = await top({ json: true, socket: a.socketPath }, { OPENRTC_RUNTIME_DIR: dir });
    expect(picked.code).toBe(0);
  });

  it('refuses an out-of-range refresh rate with exit 2', async () => {
    const r = await top({ refreshRate: 20 }, { OPENRTC_RUNTIME_DIR: runtime() });
    expect(r).toEqual({
      code: 2,
      stdout: '',
      stderr: 'openrtc: --refresh-rate: expected a number from 0.5 to 10, got 20\n',
    });
  });

  it('reports an unreachable --socket in one line', async () => {
    const dir = runtime();
    const r = await top(
      { once: true, socketPath: path.join(dir, 'gone-1.sock') },
      { OPENRTC_RUNTIME_DIR: dir },
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `openrtc: cannot reach the worker: cannot connect to ${path.join(dir, 'gone-1.sock')}: no such socket\n`,
    );
  });
});

describe('ipcSnapshotSource', () => {
  it('goes disconnected when the worker leaves and reconnects to its successor', async () => {
    const rt = tempRuntimeDir();
    const servers: IpcServer[] = [];
    let stop: (() => void) | undefined;
    try {
      const first = await IpcServer.listen({
        socketPath: path.join(rt.dir, 'w-1.sock'),
        handlers: { snapshot: () => snapshot() },
        logger: silentLogger,
      });
      servers.push(first);
      let current = first.socketPath;
      const states: ConnectionState['status'][] = [];
      const pids: number[] = [];
      const gone = new Set<number>();
      const exited: boolean[] = [];
      stop = ipcSnapshotSource({
        intervalMs: 100,
        retryMs: 50,
        resolveSocket: async () => current,
        isAlive: (pid) => !gone.has(pid),
      }).subscribe(
        (s) => pids.push(s.worker.pid),
        (s) => {
          states.push(s.status);
          if (s.status === 'disconnected') exited.push(s.workerGone);
        },
      );
      await until('connected', () => states.includes('connected'));
      await first.close();
      await until('disconnected', () => states.at(-1) === 'disconnected');
      // The socket went first; the process is still there, so it is a lost connection for now.
      expect(exited[0]).toBe(false);
      gone.add(4242);
      await until('the worker reported gone', () => exited.at(-1) === true);
      const next = snapshot();
      next.worker.pid = 777;
      const second = await IpcServer.listen({
        socketPath: path.join(rt.dir, 'w-2.sock'),
        handlers: { snapshot: () => next },
        logger: silentLogger,
      });
      servers.push(second);
      current = second.socketPath;
      await until(
        'connected to the new worker',
        () => pids.includes(777) && states.at(-1) === 'connected',
      );
      expect(states[0]).toBe('connecting');
      expect(pids[0]).toBe(4242);
    } finally {
      stop?.();
      for (const s of servers) await s.close();
      rt.remove();
    }
  });
});
