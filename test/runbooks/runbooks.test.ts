import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, REPO_ROOT, startDevWorker, startWorkerProcess } from '../support/dev-worker.js';
import { redisAvailable, startRedisServer } from '../support/redis/redis-server.js';
import { npxOpenrtcShim } from './npx-openrtc.js';
import { runbookSteps, type RunbookStep } from './runbook-blocks.js';

const RUNBOOKS = [
  'tenant-incident.md',
  'onboarding-a-tenant.md',
  'debugging-density.md',
  'deploy-and-drain.md',
  'slow-turns.md',
  'fleet-incident.md',
];

const read = (name: string) =>
  runbookSteps(readFileSync(path.join(REPO_ROOT, 'runbooks', name), 'utf8'));

// In CI a missing redis-server fails here, so the fleet blocks can never be skipped there.
const redis = RUNBOOKS.some((name) => read(name).some((s) => s.fleet)) && redisAvailable();

/** What the steps of one runbook run against: its environment, and how it ends. */
interface Target {
  env: NodeJS.ProcessEnv;
  stop(): Promise<void>;
}

/** One worker, as `npx openrtc dev` starts it. */
async function oneWorker(): Promise<Target> {
  return startDevWorker();
}

/**
 * A fleet of two workers on one local dispatcher and a fresh Redis, as `npx openrtc dev
 * --workers 2 --redis URL` starts it; the steps find Redis through OPENRTC_REDIS_URL.
 */
async function twoWorkerFleet(): Promise<Target> {
  const server = await startRedisServer();
  const port = await freePort();
  const fleet = await startWorkerProcess({
    args: [
      'dev',
      '--workers',
      '2',
      '--redis',
      server.url,
      '--port',
      String(port),
      '--log-format',
      'json',
    ],
    port,
    readyTimeoutMs: 180_000,
    cliEnv: {
      OPENRTC_REDIS_URL: server.url,
      LIVEKIT_URL: `http://127.0.0.1:${port}`,
      LIVEKIT_API_KEY: 'devkey',
      LIVEKIT_API_SECRET: 'secret',
    },
  });
  await fleet.waitForLog(
    (() => {
      let ready = 0;
      return (r) =>
        typeof r.msg === 'string' &&
        r.msg.startsWith('openrtc worker') &&
        r.msg.endsWith(' ready') &&
        ++ready === 2;
    })(),
    180_000,
    'that both workers were ready',
  );
  return {
    env: fleet.env,
    stop: async () => {
      await fleet.stop();
      await server.stop();
    },
  };
}

function run(name: string, step: RunbookStep, target: Target, npxPath: string): void {
  const result = spawnSync('bash', ['-e', '-o', 'pipefail', '-c', step.script], {
    cwd: REPO_ROOT,
    env: { ...target.env, PATH: `${npxPath}:${target.env.PATH ?? ''}` },
    encoding: 'utf8',
    timeout: 60_000,
  });
  const output = `${result.stdout}${result.stderr}`;
  const where = `${name}:${step.line}${step.fleet ? ' (fleet)' : ''}\n$ ${step.script}\n${output}`;
  expect(result.status, where).toBe(step.expectExit);
  for (const text of step.expectOutput) expect(output, where).toContain(text);
}

describe('runbooks run against a live worker, and their fleet blocks against a 2-worker fleet', () => {
  const npx = npxOpenrtcShim();
  afterAll(() => npx.remove());

  it('every runbook has shell steps to run', () => {
    for (const name of RUNBOOKS) expect(read(name).length, name).toBeGreaterThan(0);
    expect(read('fleet-incident.md').every((s) => s.fleet)).toBe(true);
  });

  for (const name of RUNBOOKS) {
    const steps = read(name);
    const plain = steps.filter((s) => !s.fleet);
    const fleet = steps.filter((s) => s.fleet);
    if (plain.length > 0)
      it(`${name}: every step exits as documented and prints what it says`, async () => {
        const target = await oneWorker();
        try {
          for (const step of plain) run(name, step, target, npx.pathEntry);
        } finally {
          await target.stop();
        }
      }, 180_000);
    if (fleet.length > 0)
      it.skipIf(!redis)(
        `${name}: every fleet step, on two workers sharing one Redis`,
        async () => {
          const target = await twoWorkerFleet();
          try {
            for (const step of fleet) run(name, step, target, npx.pathEntry);
          } finally {
            await target.stop();
          }
        },
        240_000,
      );
  }
});
