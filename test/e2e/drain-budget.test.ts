import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startDevWorker, type DevWorker } from '../support/dev-worker.js';
import { runCli } from '../support/run-cli.js';
import { fixtureAgent } from '../support/runtime-rig.js';
import { scratchDir } from '../support/scratch-dir.js';

let worker: DevWorker | undefined;
afterEach(async () => {
  await worker?.stop();
  worker = undefined;
});

const DRAIN_MS = 3_000;
/** Closing the worker's sockets and connections once the budget is spent. */
const CLOSE_SLACK_MS = 3_000;

describe('draining a worker whose session never ends', () => {
  it('exits within drainTimeoutMs, the whole budget, shutdown grace included', async () => {
    const dir = scratchDir('ortc-drain-');
    const file = path.join(dir, 'openrtc.config.ts');
    writeFileSync(
      file,
      `export default { name: 'drain', agents: { hang: ${JSON.stringify(fixtureAgent('hang-agent'))} }, drainTimeoutMs: ${DRAIN_MS}, shutdownGraceMs: 1000 };\n`,
    );
    worker = await startDevWorker(['--config', file]);
    const w = worker;
    const dispatched = await runCli(['dispatch', '--agent', 'hang', '--tenant', 'acme'], w.env);
    expect(dispatched.stdout).toContain('1/1 accepted');

    const exited = new Promise<number | null>((resolve) =>
      w.child.once('exit', (code) => resolve(code)),
    );
    const started = performance.now();
    w.child.kill('SIGTERM');
    const code = await exited;
    const tookMs = performance.now() - started;
    // 1: the deadline, not the sessions themselves, ended the drain.
    expect(code).toBe(1);
    expect(tookMs).toBeLessThan(DRAIN_MS + CLOSE_SLACK_MS);
    const lines = w.logs.map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        return {};
      }
    });
    expect(lines.find((l) => l.msg === 'draining')).toMatchObject({
      timeout_ms: DRAIN_MS,
      grace_ms: 1000,
    });
    expect(lines.some((l) => l.msg === 'entry did not finish in time; session force-closed')).toBe(
      true,
    );
    expect(lines.some((l) => l.msg === 'worker stopped')).toBe(true);
  }, 90_000);
});
