import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, OPENRTC_BIN, startDevWorker } from '../support/dev-worker.js';
import { hasTmux, TmuxPane } from '../support/tmux.js';

const ESC = /\u001B/;
const STYLE = /\u001B\[[0-9;]*m/;

describe('pretty logs colour only a terminal, and never under NO_COLOR', () => {
  it('piped, the pretty format writes no escape codes', async () => {
    const worker = await startDevWorker(['--log-format', 'pretty']);
    try {
      const ready = worker.logs.find((l) => l.includes('openrtc worker "demo" ready'));
      expect(ready, worker.logs.join('\n')).toBeDefined();
      expect(ready).toMatch(/INFO/);
      for (const line of worker.logs) expect(line).not.toMatch(ESC);
    } finally {
      await worker.stop();
    }
  }, 90_000);

  describe.skipIf(!hasTmux)('on a terminal (tmux)', () => {
    const cleanups: (() => void)[] = [];
    afterEach(() => {
      for (const c of cleanups.splice(0)) c();
    });

    async function devInTerminal(env: Record<string, string>): Promise<string> {
      const runtimeDir = mkdtempSync(path.join(os.tmpdir(), 'openrtc-rt-'));
      const pane = TmuxPane.start(
        `openrtc-logs-${process.pid}-${cleanups.length}`,
        `env -u LIVEKIT_URL ${process.execPath} ${OPENRTC_BIN} dev --port ${await freePort()}`,
        { columns: 200, rows: 50, env: { OPENRTC_RUNTIME_DIR: runtimeDir, ...env } },
      );
      cleanups.push(() => {
        pane.kill();
        rmSync(runtimeDir, { recursive: true, force: true });
      });
      const screen = await pane.waitFor(
        (s) => s.replace(/\u001B\[[0-9;]*m/g, '').includes('openrtc worker "demo" ready'),
        'the ready line',
        {
          escapes: true,
          timeoutMs: 60_000,
        },
      );
      pane.keys('C-c');
      await pane.waitFor((s) => s.includes('EXITED=0'), 'the worker exiting after Ctrl+C', {
        timeoutMs: 30_000,
      });
      return screen;
    }

    it('colours the pretty format on a terminal', async () => {
      expect(await devInTerminal({})).toMatch(STYLE);
    }, 90_000);

    it('NO_COLOR=1: no escape codes on a terminal either', async () => {
      expect(await devInTerminal({ NO_COLOR: '1' })).not.toMatch(ESC);
    }, 90_000);
  });
});
