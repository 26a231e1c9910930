import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, startDevWorker } from '../support/dev-worker.js';
import { npxOpenrtcShim } from './npx-openrtc.js';
import { runbookSteps } from './runbook-blocks.js';

const RUNBOOKS = [
  'tenant-incident.md',
  'onboarding-a-tenant.md',
  'debugging-density.md',
  'deploy-and-drain.md',
  'slow-turns.md',
];

describe('runbooks run against a live worker', () => {
  const npx = npxOpenrtcShim();
  afterAll(() => npx.remove());

  it('every runbook has shell steps to run', () => {
    for (const name of RUNBOOKS) {
      expect(
        runbookSteps(readFileSync(path.join(REPO_ROOT, 'runbooks', name), 'utf8')).length,
        name,
      ).toBeGreaterThan(0);
    }
  });

  for (const name of RUNBOOKS) {
    it(`${name}: every step exits as documented and prints what it says`, async () => {
      const steps = runbookSteps(readFileSync(path.join(REPO_ROOT, 'runbooks', name), 'utf8'));
      const worker = await startDevWorker();
      try {
        for (const step of steps) {
          const result = spawnSync('bash', ['-e', '-o', 'pipefail', '-c', step.script], {
            cwd: REPO_ROOT,
            env: { ...worker.env, PATH: `${npx.pathEntry}:${worker.env.PATH ?? ''}` },
            encoding: 'utf8',
            timeout: 60_000,
          });
          const output = `${result.stdout}${result.stderr}`;
          const where = `${name}:${step.line}\n$ ${step.script}\n${output}`;
          expect(result.status, where).toBe(step.expectExit);
          for (const text of step.expectOutput) expect(output, where).toContain(text);
        }
      } finally {
        await worker.stop();
      }
    }, 180_000);
  }
});
