import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXIT_GRACE_MS } from '../../src/runtime/exit-after-stop.js';
import { REPO_ROOT, startDevWorker, type DevWorker } from '../support/dev-worker.js';
import { runCli } from '../support/run-cli.js';

const LEAKY_CONFIG = path.join(REPO_ROOT, 'test/fixtures/leaky.config.ts');
/** The machine is shared: a loaded box may be this much late on top of the documented grace. */
const SCHEDULING_SLACK_MS = 2_500;

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  at: number;
}

function exitOf(child: ChildProcess): Promise<Exit> {
  return new Promise((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() })),
  );
}

type LogLine = Record<string, unknown> & { msg?: string; time?: number };

function parsed(worker: DevWorker): LogLine[] {
  return worker.logs.flatMap((l) => {
    try {
      return [JSON.parse(l) as LogLine];
    } catch {
      return [];
    }
  });
}

/** Starts the leaky worker and one leaky call on it, and waits until the call left its mess behind. */
async function workerWithLeakyCall(
  metadata: Record<string, unknown>,
): Promise<{ worker: DevWorker; exit: Promise<Exit> }> {
  const worker = await startDevWorker(['--config', LEAKY_CONFIG]);
  const exit = exitOf(worker.child);
  const dispatched = await runCli(
    ['dispatch', '--agent', 'leaky', '--tenant', 'acme', '--metadata', JSON.stringify(metadata)],
    worker.env,
  );
  expect(dispatched.code, `${dispatched.stdout}${dispatched.stderr}`).toBe(0);
  await worker.waitForLog(
    (l) => l.msg === 'left a timer and a socket open',
    20_000,
    'the agent leaving a timer and a socket open',
  );
  return { worker, exit };
}

function expectExitedWithinGrace(worker: DevWorker, exit: Exit): void {
  const lines = parsed(worker);
  const stopped = lines.find((l) => l.msg === 'worker stopped');
  expect(stopped, worker.logs.join('\n')).toBeDefined();
  expect(exit.at - Number(stopped!.time)).toBeLessThan(EXIT_GRACE_MS + SCHEDULING_SLACK_MS);
  const leftovers = lines.find((l) => l.msg?.startsWith('still open after the worker stopped'));
  expect(leftovers, worker.logs.join('\n')).toBeDefined();
  const open = leftovers!.open as Record<string, number>;
  expect(open.Timeout).toBeGreaterThanOrEqual(1);
  expect(open.TCPSocketWrap).toBeGreaterThanOrEqual(1);
  // Closing the LiveKit connection on purpose is not losing it.
  expect(lines.filter((l) => l.msg === 'lost the LiveKit connection')).toEqual([]);
}

describe('the worker process exits once it has stopped, whatever agent code left open', () => {
  it('openrtc drain: every session ended by itself, so the worker exits 0 within the grace', async () => {
    const { worker, exit } = await workerWithLeakyCall({});
    try {
      await worker.waitForLog(
        (l) => typeof l.msg === 'string' && l.msg.startsWith('session ended'),
        20_000,
        'the call ending',
      );
      const drained = await runCli(['drain', '--timeout', '5'], worker.env);
      expect(drained.code, drained.stderr).toBe(0);
      expect(drained.stdout).toContain('worker drained and exited');
      const result = await exit;
      // The CLI says "exited" only once the process is gone.
      expect(worker.child.exitCode).toBe(0);
      expect(result).toMatchObject({ code: 0, signal: null });
      expectExitedWithinGrace(worker, result);
      expect(parsed(worker).find((l) => l.msg === 'worker stopped')).toMatchObject({
        clean: true,
        forced_sessions: 0,
      });
    } finally {
      await worker.stop();
    }
  }, 90_000);

  it('SIGTERM: the drain deadline closes the live call, and the worker exits 1 within the grace', async () => {
    const { worker, exit } = await workerWithLeakyCall({ hold: true });
    try {
      const signalledAt = Date.now();
      worker.child.kill('SIGTERM');
      const result = await exit;
      expect(result).toMatchObject({ code: 1, signal: null });
      expectExitedWithinGrace(worker, result);
      expect(parsed(worker).find((l) => l.msg === 'worker stopped')).toMatchObject({
        clean: false,
        forced_sessions: 1,
      });
      // drainTimeoutMs is 2 s in the fixture config; the call closes promptly once asked.
      expect(result.at - signalledAt).toBeLessThan(2_000 + EXIT_GRACE_MS + 5_000);
    } finally {
      await worker.stop();
    }
  }, 90_000);
});
