import path from 'node:path';
import type { Command } from 'commander';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { buildProgram, main } from '../../src/cli/main.js';
import { IpcServer } from '../../src/ipc/ipc-server.js';
import { silentLogger, tempRuntimeDir } from '../ipc/helpers.js';

/** Runs the CLI in this process and captures what it prints. */
async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  vi.spyOn(process.stdout, 'write').mockImplementation(
    (chunk: string | Uint8Array) => ((stdout += String(chunk)), true),
  );
  vi.spyOn(process.stderr, 'write').mockImplementation(
    (chunk: string | Uint8Array) => ((stderr += String(chunk)), true),
  );
  try {
    const code = await main(['node', 'openrtc', ...args]);
    return { code, stdout, stderr };
  } finally {
    vi.restoreAllMocks();
  }
}

function commandPaths(cmd: Command, prefix: string[] = []): string[][] {
  return cmd.commands.flatMap((c) => {
    const path = [...prefix, c.name()];
    return [path, ...commandPaths(c, path)];
  });
}

describe('openrtc CLI', () => {
  afterEach(() => vi.restoreAllMocks());

  it('tenant reload with neither a tenant nor --all is a usage error, and changes nothing', async () => {
    // No worker is reachable here: a usage error must be found before any call to one.
    const r = await run(['tenant', 'reload', '--socket', '/nonexistent/openrtc-test.sock']);
    expect(r).toEqual({
      code: 2,
      stdout: '',
      stderr: 'openrtc: give a tenant, or --all for every tenant\n',
    });
  });

  it('tenant reload with both a tenant and --all is a usage error', async () => {
    const r = await run([
      'tenant',
      'reload',
      'acme',
      '--all',
      '--socket',
      '/nonexistent/openrtc-test.sock',
    ]);
    expect(r).toEqual({
      code: 2,
      stdout: '',
      stderr: 'openrtc: give a tenant or --all, not both\n',
    });
  });

  it('the --help of every command ends with examples to copy', async () => {
    const paths = commandPaths(buildProgram(() => undefined));
    expect(paths.map((p) => p.join(' '))).toEqual(
      expect.arrayContaining([
        'start',
        'dev',
        'dispatch',
        'top',
        'tenant',
        'tenant list',
        'tenant reload',
        'drain',
        'config reload',
      ]),
    );
    for (const path of [[], ...paths]) {
      const r = await run([...path, '--help']);
      expect(r.code, path.join(' ')).toBe(0);
      const examples = r.stdout.split('\nExamples:\n')[1];
      expect(examples, `openrtc ${path.join(' ')} --help`).toBeDefined();
      const lines = examples!.trimEnd().split('\n');
      expect(lines.length).toBeGreaterThanOrEqual(1);
      expect(lines.length).toBeLessThanOrEqual(2);
      for (const line of lines) expect(line).toMatch(/^ {2}\$ \S/);
      // Each example runs the command it documents.
      if (path.length > 0)
        expect(
          lines.some((l) => l.includes(`openrtc ${path.join(' ')}`) || l.includes('kill -HUP')),
        ).toBe(true);
    }
  });

  it('dispatch --help says when it exits 1', async () => {
    const r = await run(['dispatch', '--help']);
    expect(r.stdout).toContain('Exit status: 0 when every job was accepted; 1 when any was not');
  });

  it('names $OPENRTC_RUNTIME_DIR where the worker is looked for', async () => {
    expect((await run(['--help'])).stdout).toContain('$OPENRTC_RUNTIME_DIR');
    expect((await run(['tenant', 'list', '--help'])).stdout).toContain('$OPENRTC_RUNTIME_DIR');
  });

  it('dispatch with several dev workers and no --url names each one, and exits 2', async () => {
    const rt = tempRuntimeDir();
    const servers: IpcServer[] = [];
    const saved = { dir: process.env.OPENRTC_RUNTIME_DIR, url: process.env.LIVEKIT_URL };
    try {
      for (const [name, pid, port] of [
        ['alpha', 11, 7991],
        ['beta', 12, 7992],
      ] as const) {
        const info = { name, pid, version: 'test', localDispatcherUrl: `ws://127.0.0.1:${port}` };
        servers.push(
          await IpcServer.listen({
            socketPath: path.join(rt.dir, `${name}-${pid}.sock`),
            handlers: { 'worker.info': () => info },
            logger: silentLogger,
          }),
        );
      }
      process.env.OPENRTC_RUNTIME_DIR = rt.dir;
      delete process.env.LIVEKIT_URL;
      const r = await run(['dispatch', '--agent', 'demo', '--tenant', 'acme']);
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(
        'openrtc: several dev workers serve a local dispatcher; pick one with --url or --socket:\n' +
          '  alpha (pid 11): --url ws://127.0.0.1:7991\n  beta (pid 12): --url ws://127.0.0.1:7992\n',
      );
    } finally {
      for (const [key, value] of [
        ['OPENRTC_RUNTIME_DIR', saved.dir],
        ['LIVEKIT_URL', saved.url],
      ] as const) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
      for (const server of servers) await server.close();
      rt.remove();
    }
  });
});
