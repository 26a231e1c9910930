import { execFileSync, spawnSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPENRTC_BIN, REPO_ROOT, startDevWorker, type DevWorker } from '../support/dev-worker.js';
import { runCli } from '../support/run-cli.js';

const hasTmux = spawnSync('tmux', ['-V']).status === 0;
if (!hasTmux) console.warn('tmux not installed: skipping the live-terminal smoke test of openrtc top');

/** The live TUI in a real terminal: tmux gives it a pty of a known size, we read the screen. */
describe.skipIf(!hasTmux)('openrtc top in a real terminal (tmux)', () => {
  const session = `openrtc-top-${process.pid}`;
  let worker: DevWorker;

  beforeAll(async () => {
    worker = await startDevWorker();
    await runCli(['dispatch', '--agent', 'demo', '--tenant', 'acme', '--count', '3', '--duration', '30'], worker.env);
    await runCli(['dispatch', '--agent', 'demo', '--tenant', 'globex', '--count', '2', '--duration', '30'], worker.env);
  }, 90_000);

  afterAll(async () => {
    spawnSync('tmux', ['kill-session', '-t', session]);
    await worker?.stop();
  });

  const screen = () => execFileSync('tmux', ['capture-pane', '-p', '-t', session], { encoding: 'utf8' });

  async function waitForScreen(predicate: (s: string) => boolean, what: string): Promise<string> {
    const deadline = Date.now() + 20_000;
    let last = '';
    while (Date.now() < deadline) {
      last = screen();
      if (predicate(last)) return last;
      await sleep(200);
    }
    throw new Error(`${what} never appeared on screen:\n${last}`);
  }

  it('shows only the chosen tenant live at 80x24, and quits on q', async () => {
    // Ink renders only a final frame when it believes it runs in CI; a person's terminal is not CI.
    const envArgs = Object.entries({ OPENRTC_RUNTIME_DIR: worker.runtimeDir, TERM: 'xterm-256color', CI: '0' }).flatMap(([k, v]) => ['-e', `${k}=${v}`]);
    execFileSync('tmux', [
      'new-session', '-d', '-s', session, '-x', '80', '-y', '24', ...envArgs, '-c', REPO_ROOT,
      `${process.execPath} ${OPENRTC_BIN} top --tenant acme --refresh-rate 4; echo TOP_EXITED=$?; sleep 30`,
    ]);
    const first = await waitForScreen((s) => s.includes('acme') && /\bactive\b/.test(s), 'acme sessions');
    const lines = first.split('\n');
    expect(lines.length).toBeLessThanOrEqual(25);
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(80);
    const sessionRows = lines.filter((l) => /\bdemo\b/.test(l) && /\bacme\b/.test(l));
    expect(sessionRows.length).toBe(3);
    expect(first).not.toMatch(/\bglobex\b/);

    execFileSync('tmux', ['send-keys', '-t', session, 'q']);
    await waitForScreen((s) => s.includes('TOP_EXITED=0'), 'a clean exit after q');
  }, 60_000);
});
