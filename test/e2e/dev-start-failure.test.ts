import { spawn } from 'node:child_process';
import { chmodSync } from 'node:fs';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { freePort, OPENRTC_BIN, REPO_ROOT } from '../support/dev-worker.js';
import { scratchDir } from '../support/scratch-dir.js';

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(false)));
    s.once('error', () => resolve(true));
  });
}

describe('openrtc dev when start-up fails after the local dispatcher is up', () => {
  it('closes the dispatcher port and exits 1 with one line saying why', async () => {
    const dir = scratchDir('ortc-devfail-');
    // A socket directory others can enter: the control socket refuses it, after the dispatcher started.
    chmodSync(dir, 0o755);
    const port = await freePort();
    const env: NodeJS.ProcessEnv = { ...process.env, OPENRTC_RUNTIME_DIR: dir };
    delete env.LIVEKIT_URL;
    const child = spawn(
      process.execPath,
      [OPENRTC_BIN, 'dev', '--port', String(port), '--log-format', 'json'],
      { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    let stdout = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.stdout.on('data', (d) => (stdout += d));
    const exited = new Promise<number | null>((resolve) =>
      child.once('exit', (code) => resolve(code)),
    );
    const timer = setTimeout(() => child.kill('SIGKILL'), 45_000);
    const code = await exited;
    clearTimeout(timer);
    expect(stdout).toContain('serving a local dispatcher');
    expect(code).toBe(1);
    expect(stderr.trim()).toBe(
      `openrtc: worker failed to start: socket directory ${dir} has mode 755; expected 700 (chmod 700 ${dir})`,
    );
    expect(await portFree(port)).toBe(true);
  }, 60_000);
});
