import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LocalDispatcher } from '../../src/dispatcher/local-dispatcher.js';
import { SessionRegistry } from '../../src/introspection/registry.js';
import { SessionHost } from '../../src/session/session-host.js';
import { WorkerHost } from '../../src/worker/worker-host.js';
import tenantDriven from '../fixtures/agents/tenant-driven-agent.js';
import { detachRunnerErrorHandlers, memoryLogger } from '../session/support.js';
import { admissionRig } from '../support/admission-rig.js';

const KEY = { apiKey: 'devkey', apiSecret: 'secret' };
const closers: (() => Promise<unknown>)[] = [];
let restore: () => void;

beforeAll(() => {
  // Flaky sessions raise unhandled rejections on purpose; only the worker's handler may see them.
  restore = detachRunnerErrorHandlers();
});
afterAll(() => restore());
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

describe('circuit breaker through the worker', () => {
  it('opens for a failing tenant while a healthy tenant keeps succeeding, and the process lives', async () => {
    const log = memoryLogger();
    const { admission } = admissionRig({
      maxConcurrentSessions: 50,
      // The fourth failure of four opens a tenant's breaker.
      breaker: { minSamples: 4, failureRatio: 0.5 },
      configs: {
        acme: {},
        flaky: { settings: { failWith: 'entry' } },
        shaky: { settings: { failWith: 'rejection' } },
      },
    });
    const dispatcher = await LocalDispatcher.start({ port: 0, ...KEY });
    closers.push(() => dispatcher.close());
    const sessions = new SessionHost({
      agents: { agent: tenantDriven },
      registry: new SessionRegistry(),
      logger: log.logger,
    });
    const worker = new WorkerHost({
      url: dispatcher.url,
      ...KEY,
      agentNames: ['agent'],
      admission,
      sessions,
      logger: log.logger,
      version: 'test',
    });
    await worker.start();
    closers.push(() => worker.stop());
    const pid = process.pid;

    const run = async (tenant: string) => {
      const r = await dispatcher.dispatch({
        agentName: 'agent',
        metadata: JSON.stringify({ tenant }),
      });
      if (r.status !== 'assigned')
        return r.status === 'rejected' ? `rejected:${r.reason}` : r.status;
      const job = await dispatcher.waitForJob(
        r.jobId,
        (j) => j.state === 'success' || j.state === 'failed',
      );
      return job.state;
    };

    const flaky: string[] = [];
    const shaky: string[] = [];
    const acme: string[] = [];
    for (let i = 0; i < 6; i++) {
      flaky.push(await run('flaky'));
      shaky.push(await run('shaky'));
      acme.push(await run('acme'));
    }
    // Four failures, then the breaker turns the tenant away, whichever way its sessions fail.
    const opened = [
      'failed',
      'failed',
      'failed',
      'failed',
      'rejected:breaker_open',
      'rejected:breaker_open',
    ];
    expect(flaky).toEqual(opened);
    expect(shaky).toEqual(opened);
    expect(acme).toEqual(Array.from({ length: 6 }, () => 'success'));
    expect(process.pid).toBe(pid);
    expect(admission.inUse()).toBe(0);
    const shakyFail = dispatcher
      .jobs()
      .find((j) => j.state === 'failed' && j.error.startsWith('unhandled_rejection'));
    expect(shakyFail?.error).toBe('unhandled_rejection: Error: provider stream died');
  });
});
