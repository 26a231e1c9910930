import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { OPENRTC_BIN, startDevWorker, type DevWorker } from '../support/dev-worker.js';
import { runCli } from '../support/run-cli.js';
import { hasTmux, TmuxPane } from '../support/tmux.js';

if (!hasTmux)
  console.warn(
    'tmux not installed: skipping the live-terminal tests of openrtc top (apt-get install tmux)',
  );

/** Any SGR sequence: colour, bold, dim, inverse. */
const STYLE = /\u001B\[[0-9;]*m/;
/** The escape that sets dim (SGR 2), alone or among other attributes. */
const DIM = /\u001B\[(?:[0-9;]*;)?2(?:;[0-9;]*)?m/;

const top = (args: string) => `${process.execPath} ${OPENRTC_BIN} top ${args}`;

/** A whole frame of the given height: the header on the first row, the keys on the last. */
function wholeFrame(screen: string, rows: number): boolean {
  const lines = screen.replace(/\n$/, '').split('\n');
  return (
    lines.length === rows && /^openrtc demo pid/.test(lines[0]!) && lines.at(-1)!.includes('? help')
  );
}

/** The live TUI in a real terminal: tmux gives it a pty of a known size, we read the screen. */
describe.skipIf(!hasTmux)('openrtc top in a real terminal (tmux)', () => {
  let worker: DevWorker;
  const panes: TmuxPane[] = [];
  let next = 0;
  const pane = (command: string, columns = 80, rows = 24, env: Record<string, string> = {}) => {
    const p = TmuxPane.start(`openrtc-top-${process.pid}-${next++}`, command, {
      columns,
      rows,
      env: { OPENRTC_RUNTIME_DIR: worker.runtimeDir, ...env },
    });
    panes.push(p);
    return p;
  };

  beforeAll(async () => {
    worker = await startDevWorker();
    // Long enough to outlast every test here; the worker's stop closes them.
    await runCli(
      ['dispatch', '--agent', 'demo', '--tenant', 'acme', '--count', '3', '--duration', '120'],
      worker.env,
    );
    await runCli(
      ['dispatch', '--agent', 'demo', '--tenant', 'globex', '--count', '2', '--duration', '120'],
      worker.env,
    );
    await runCli(['dispatch', '--agent', 'demo', '--tenant', 'bad tenant!'], worker.env);
  }, 90_000);

  afterEach(() => {
    for (const p of panes.splice(0)) p.kill();
  });

  afterAll(async () => {
    await worker?.stop();
  });

  it('draws on the alternate screen, shows only the chosen tenant at 80x24, and gives the shell its screen back on q', async () => {
    const p = pane(`echo SHELL_BEFORE_TOP; ${top('--tenant acme --refresh-rate 4')}`);
    const first = await p.waitFor(
      (s) => s.includes('acme') && /\brunning\b/.test(s),
      'acme sessions',
    );
    expect(p.alternateScreen).toBe(true);
    expect(first).not.toContain('SHELL_BEFORE_TOP');
    const lines = first.replace(/\n$/, '').split('\n');
    expect(lines).toHaveLength(24);
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(80);
    expect(lines[0]).toMatch(/^openrtc demo pid \d+/);
    expect(lines[2]).toMatch(/invalid tenant ids 1$/);
    expect(lines.at(-1)).toContain('? help');
    const sessionRows = lines.filter((l) => /\bdemo\b/.test(l) && /\bacme\b/.test(l));
    expect(sessionRows.length).toBe(3);
    // Whole session ids, ready to copy into a log search.
    for (const row of sessionRows) expect(row).toMatch(/^ses_[0-9a-f]{12} /);
    // Other tenants' rows and events, and the rejected malformed id, stay out of acme's view.
    expect(first).not.toMatch(/\bglobex\b/);
    expect(first).not.toContain('bad tenant');

    p.keys('?');
    const help = await p.waitFor(
      (s) => s.includes('keys (press ?, h or Esc to close)'),
      'the help overlay',
    );
    for (const key of ['q Ctrl+C', 'PgUp PgDn', 'Home End', '? h']) expect(help).toContain(key);
    p.keys('Escape');
    await p.waitFor((s) => !s.includes('keys (press') && /^ses_/m.test(s), 'the tables after Esc');

    p.keys('q');
    const after = await p.waitFor((s) => s.includes('EXITED=0'), 'a clean exit after q');
    expect(p.alternateScreen).toBe(false);
    expect(after).toContain('SHELL_BEFORE_TOP');
    expect(after).not.toContain('LIVE/CAP');
  }, 60_000);

  it('redraws fully on resize: 80x24, then 200x50 (the table grows), then 80x24 again, with no stale rows', async () => {
    const p = pane(top('--refresh-rate 4'));
    await p.waitFor((s) => /^ses_/m.test(s), 'sessions at 80x24');

    p.resize(200, 50);
    const big = await p.waitFor(
      (s) => /\bROOM\b.*\bJOB\b/.test(s) && wholeFrame(s, 50),
      'the 200x50 frame',
    );
    const bigLines = big.replace(/\n$/, '').split('\n');
    expect(bigLines.filter((l) => l.startsWith('openrtc demo pid'))).toHaveLength(1);
    expect(bigLines[0]).toMatch(/^openrtc demo pid/);
    expect(bigLines.at(-1)).toContain('? help');
    // The session table takes the rows the others leave: its paging line sits near the bottom.
    const paging = bigLines.findIndex((l) => /^sessions \d+-\d+ of \d+/.test(l));
    expect(paging).toBeGreaterThan(35);
    expect(bigLines.filter((l) => /^ses_[0-9a-f]{12} /.test(l))).toHaveLength(5);

    p.resize(80, 24);
    const small = await p.waitFor(
      (s) => !/\bROOM\b/.test(s) && wholeFrame(s, 24),
      'the 80x24 frame again',
    );
    const smallLines = small.replace(/\n$/, '').split('\n');
    expect(smallLines[0]).toMatch(/^openrtc demo pid/);
    expect(smallLines.filter((l) => l.startsWith('openrtc demo pid'))).toHaveLength(1);
    expect(smallLines.filter((l) => l.startsWith('SESSION'))).toHaveLength(1);
    expect(smallLines.at(-1)).toContain('? help');
    for (const line of smallLines) expect(line.length).toBeLessThanOrEqual(80);
    // What a stale row would be: a line of the 200-wide frame left behind.
    expect(small).not.toMatch(/AJ_\w+/);
  }, 60_000);

  it('draws live even when the shell it runs in has CI variables set', async () => {
    const p = pane(`CI=true CI_JOB_ID=1 ${top('--tenant acme')}`);
    const screen = await p.waitFor((s) => /^ses_/m.test(s), 'the live frame with CI set');
    expect(p.alternateScreen).toBe(true);
    expect(screen.split('\n')[0]).toMatch(/^openrtc demo pid \d+/);
  }, 60_000);

  it('NO_COLOR: not one escape code; without it, the frame is styled', async () => {
    const plain = pane(top(''), 80, 24, { NO_COLOR: '1' });
    const noColor = await plain.waitFor((s) => /^ses_/m.test(s), 'the frame under NO_COLOR', {
      escapes: true,
    });
    expect(noColor).not.toMatch(/\u001B/);

    const styled = pane(top(''));
    const withColor = await styled.waitFor(
      (s) => /^ses_/m.test(s.replace(/\u001B\[[0-9;]*m/g, '')),
      'the styled frame',
      { escapes: true },
    );
    expect(withColor).toMatch(STYLE);
  }, 60_000);
});

describe.skipIf(!hasTmux)('openrtc top when its worker goes away and another comes (tmux)', () => {
  const runtimeDir = mkdtempSync(path.join(os.tmpdir(), 'openrtc-rt-'));
  const workers: DevWorker[] = [];
  let p: TmuxPane | undefined;

  afterAll(async () => {
    p?.kill();
    for (const w of workers) await w.stop();
    rmSync(runtimeDir, { recursive: true, force: true });
  });

  it('says the worker exited over its dimmed last frame, then names the new pid when it reattaches', async () => {
    const first = await startDevWorker([], {}, { runtimeDir });
    workers.push(first);
    await runCli(
      ['dispatch', '--agent', 'demo', '--tenant', 'acme', '--count', '2', '--duration', '60'],
      first.env,
    );
    p = TmuxPane.start(`openrtc-top-${process.pid}-restart`, top('--refresh-rate 4'), {
      columns: 80,
      rows: 24,
      env: { OPENRTC_RUNTIME_DIR: runtimeDir },
    });
    await p.waitFor((s) => /^ses_/m.test(s), "the first worker's sessions");

    const drained = await runCli(['drain', '--timeout', '0'], first.env);
    expect(drained.code, drained.stderr).toBe(0);
    const gone = await p.waitFor(
      (s) => s.includes(`worker demo pid ${first.child.pid} exited`),
      'the worker-exited banner',
      { escapes: true },
    );
    const goneLines = gone.split('\n');
    // The old frame is still there, dimmed; the banner itself is not. (A drain with no timeout
    // may end the sessions before the worker's last frame: its tenant rows are there either way.)
    expect(goneLines.some((l) => DIM.test(l))).toBe(true);
    expect(gone.replace(/\u001B\[[0-9;]*m/g, '')).toMatch(/^acme /m);

    const second = await startDevWorker([], {}, { runtimeDir });
    workers.push(second);
    const back = await p.waitFor(
      (s) =>
        s.includes(`new worker: demo is now pid ${second.child.pid} (was pid ${first.child.pid})`),
      'the new-worker banner',
    );
    expect(back.split('\n')[0]).toContain(`pid ${second.child.pid}`);
  }, 120_000);
});
