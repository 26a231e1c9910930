import { spawn } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, OPENRTC_BIN, REPO_ROOT } from '../support/dev-worker.js';
import { until } from '../support/conditions.js';
import { runCli } from '../support/run-cli.js';

const NOBODY = 65534;
const isRoot = process.getuid?.() === 0;
if (!isRoot)
  console.log(
    'runtime-dir: skipped: making a folder owned by another user needs root (CI runs as root)',
  );

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A machine of its own: TMPDIR and HOME in a scratch folder, no XDG_RUNTIME_DIR, no OPENRTC_RUNTIME_DIR. */
function machine() {
  const base = mkdtempSync(path.join(os.tmpdir(), 'ortc-rd-'));
  cleanups.push(() => rmSync(base, { recursive: true, force: true }));
  const tmp = path.join(base, 'tmp');
  const home = path.join(base, 'home');
  mkdirSync(tmp, { mode: 0o1777 });
  chmodSync(tmp, 0o1777);
  mkdirSync(home, { mode: 0o700 });
  const env: NodeJS.ProcessEnv = { ...process.env, TMPDIR: tmp, HOME: home };
  for (const k of [
    'OPENRTC_RUNTIME_DIR',
    'XDG_RUNTIME_DIR',
    'LIVEKIT_URL',
    'LIVEKIT_API_KEY',
    'LIVEKIT_API_SECRET',
  ])
    delete env[k];
  /** What another local user can do: make the predictable folder first. */
  const squat = (dir: string) => {
    mkdirSync(dir, { mode: 0o700 });
    chownSync(dir, NOBODY, NOBODY);
  };
  return { tmp, home, env, squat };
}

async function runDev(env: NodeJS.ProcessEnv) {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [OPENRTC_BIN, 'dev', '--port', String(port), '--log-format', 'json'],
    { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const out = { stdout: '', stderr: '', code: undefined as number | null | undefined };
  child.stdout.on('data', (d) => (out.stdout += d));
  child.stderr.on('data', (d) => (out.stderr += d));
  child.once('exit', (code) => (out.code = code));
  cleanups.push(async () => {
    if (out.code !== undefined) return;
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
  });
  return { child, out };
}

describe.runIf(isRoot)(
  'the control socket folder when another user made the predictable one',
  () => {
    it('falls back to a private folder in the home directory, and the CLI finds the worker there', async () => {
      const m = machine();
      const squatted = path.join(m.tmp, `openrtc-${process.getuid!()}`);
      m.squat(squatted);
      const { out } = await runDev(m.env);
      const readyLine = () =>
        out.stdout.split('\n').find((l) => l.includes('openrtc worker') && l.includes('ready'));
      await until(
        'the worker to be ready, or to exit',
        () => readyLine() ?? out.code !== undefined,
        60_000,
      );
      expect(out.code, out.stderr).toBeUndefined();
      const fallback = path.join(m.home, '.openrtc', 'run');
      expect(out.stdout).toContain(
        `socket directory ${squatted} is owned by uid ${NOBODY}, not by us (uid 0); using ${fallback} instead`,
      );
      const ready = JSON.parse(readyLine()!) as { socket: string };
      expect(path.dirname(ready.socket)).toBe(fallback);
      const list = await runCli(['tenant', 'list'], m.env);
      expect(list.code, list.stderr).toBe(0);
    }, 90_000);

    it('exits 1 saying what to do when no private folder can be had', async () => {
      const m = machine();
      m.squat(path.join(m.tmp, `openrtc-${process.getuid!()}`));
      m.squat(path.join(m.home, '.openrtc'));
      const { out } = await runDev(m.env);
      await until('the worker to exit', () => out.code !== undefined, 60_000);
      expect(out.code).toBe(1);
      expect(out.stderr).toMatch(
        /^openrtc: worker failed to start: no private folder for the control socket: .*set OPENRTC_RUNTIME_DIR to a folder only you can use \(mode 700\)/,
      );
    }, 90_000);
  },
);
