import { spawn } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { IpcClient } from '../../src/ipc/ipc-client.js';
import { IpcServer } from '../../src/ipc/ipc-server.js';
import {
  cleanStaleSockets,
  ensureRuntimeDir,
  listWorkers,
  pidAlive,
  runtimeDir,
  workerSocketPath,
} from '../../src/ipc/socket-path.js';
import { silentLogger } from './helpers.js';

/** Leaves a socket file behind, as a worker killed with SIGKILL does. Returns its path. */
async function deadSocket(dir: string, name: string, pidInName?: number): Promise<string> {
  const script = `
    const net = require('net'), path = require('path');
    const p = path.join(process.argv[1], process.argv[2] + '-' + (process.argv[3] || process.pid) + '.sock');
    net.createServer().listen(p, () => console.log(p));
    setInterval(() => {}, 1000);`;
  const child = spawn(
    process.execPath,
    ['-e', script, dir, name, pidInName ? String(pidInName) : ''],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const socketPath = await new Promise<string>((resolve) =>
    child.stdout.once('data', (d: Buffer) => resolve(d.toString().trim())),
  );
  child.kill('SIGKILL');
  await new Promise((resolve) => child.once('exit', resolve));
  return socketPath;
}

describe('socket directory and discovery', () => {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const c of cleanups.reverse()) await c();
    cleanups.length = 0;
  });

  function tmp(): string {
    const base = mkdtempSync(path.join(os.tmpdir(), 'ortc-sp-'));
    cleanups.push(() => rmSync(base, { recursive: true, force: true }));
    return base;
  }

  async function serve(socketPath: string) {
    const server = await IpcServer.listen({
      socketPath,
      handlers: { snapshot: () => ({ pid: socketPath }) },
      logger: silentLogger,
    });
    cleanups.push(() => server.close());
    return server;
  }

  it('picks the runtime directory from OPENRTC_RUNTIME_DIR, then XDG_RUNTIME_DIR, then tmpdir', () => {
    expect(runtimeDir({ OPENRTC_RUNTIME_DIR: '/a/b', XDG_RUNTIME_DIR: '/run/user/1' })).toBe(
      '/a/b',
    );
    expect(runtimeDir({ XDG_RUNTIME_DIR: '/run/user/1' })).toBe('/run/user/1/openrtc');
    expect(runtimeDir({})).toBe(path.join(os.tmpdir(), `openrtc-${process.getuid!()}`));
  });

  it('creates the directory 0700 and names the socket after the worker and pid', async () => {
    const dir = path.join(tmp(), 'rt');
    const p = await workerSocketPath('agency eu/1', { OPENRTC_RUNTIME_DIR: dir });
    expect(p).toBe(path.join(dir, `agency_eu_1-${process.pid}.sock`));
    expect(lstatSync(dir).mode & 0o777).toBe(0o700);
  });

  it('refuses a symlinked directory and a directory others can enter', async () => {
    const base = tmp();
    const real = path.join(base, 'real');
    mkdirSync(real, { mode: 0o700 });
    const link = path.join(base, 'link');
    symlinkSync(real, link);
    await expect(ensureRuntimeDir(link)).rejects.toThrow(
      `socket directory ${link} is a symlink; refusing to use it`,
    );
    await expect(
      IpcServer.listen({
        socketPath: path.join(link, 'w-1.sock'),
        handlers: {},
        logger: silentLogger,
      }),
    ).rejects.toThrow(/is a symlink/);
    expect(existsSync(path.join(real, 'w-1.sock'))).toBe(false);
    chmodSync(real, 0o755);
    await expect(ensureRuntimeDir(real)).rejects.toThrow(
      `socket directory ${real} has mode 755; expected 700 (chmod 700 ${real})`,
    );
    await expect(listWorkers({ OPENRTC_RUNTIME_DIR: real })).rejects.toThrow(/has mode 755/);
  });

  it('lets two workers share a directory, each on its own socket, and lists both', async () => {
    const dir = tmp();
    const env = { OPENRTC_RUNTIME_DIR: dir };
    const a = await serve(await workerSocketPath('alpha', env, 1001));
    const b = await serve(await workerSocketPath('beta', env, 1002));
    expect(await listWorkers(env)).toEqual([
      { name: 'alpha', pid: 1001, socketPath: a.socketPath },
      { name: 'beta', pid: 1002, socketPath: b.socketPath },
    ]);
    const c = await IpcClient.connect(a.socketPath);
    cleanups.push(() => c.close());
    expect(await c.request('snapshot')).toEqual({ pid: a.socketPath });
  });

  it('never takes over a live socket at the same path', async () => {
    const dir = tmp();
    const p = path.join(dir, 'alpha-7.sock');
    await serve(p);
    await expect(
      IpcServer.listen({ socketPath: p, handlers: {}, logger: silentLogger }),
    ).rejects.toThrow(`another worker is already listening on ${p}`);
    const c = await IpcClient.connect(p);
    cleanups.push(() => c.close());
    expect(await c.request('snapshot')).toEqual({ pid: p });
  });

  it('removes a dead worker socket on start, but keeps one whose pid is alive and ignores symlinks', async () => {
    const dir = tmp();
    const stale = await deadSocket(dir, 'old');
    const pidAliveButRefused = await deadSocket(dir, 'init', 1);
    const target = path.join(tmp(), 'precious');
    writeFileSync(target, 'keep me');
    symlinkSync(target, path.join(dir, 'trap-99999999.sock'));
    expect(lstatSync(stale).isSocket()).toBe(true);
    expect(await listWorkers({ OPENRTC_RUNTIME_DIR: dir })).toEqual([]);

    await serve(path.join(dir, `new-${process.pid}.sock`));
    expect(existsSync(stale)).toBe(false);
    expect(lstatSync(pidAliveButRefused).isSocket()).toBe(true);
    expect(lstatSync(path.join(dir, 'trap-99999999.sock')).isSymbolicLink()).toBe(true);
    expect(existsSync(target)).toBe(true);
    expect(await cleanStaleSockets(dir)).toEqual([]);
  });

  it('reuses its own exact path when the previous socket there is dead', async () => {
    const dir = tmp();
    const stale = await deadSocket(dir, 'again', process.pid);
    const server = await serve(stale);
    expect(server.socketPath).toBe(stale);
    expect(await listWorkers({ OPENRTC_RUNTIME_DIR: dir })).toEqual([
      { name: 'again', pid: process.pid, socketPath: stale },
    ]);
  });

  it('lists nothing when the runtime directory does not exist', async () => {
    expect(await listWorkers({ OPENRTC_RUNTIME_DIR: path.join(tmp(), 'missing') })).toEqual([]);
  });
});

describe('pidAlive', () => {
  it('says a process that exited but is not yet reaped (a zombie) is not alive', async () => {
    const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
    expect(pidAlive(child.pid!)).toBe(true);
    // Block this loop so the exit cannot be reaped yet: the child lingers as a zombie.
    const until = Date.now() + 5_000;
    let sawDead = false;
    while (Date.now() < until && !(sawDead = !pidAlive(child.pid!)))
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    expect(sawDead).toBe(true);
    await new Promise((resolve) => child.once('exit', resolve));
  });
});
