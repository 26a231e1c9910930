import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Admission } from '../../src/admission/admission.js';
import type { AdmissionDecision } from '../../src/admission/types.js';
import { LocalDispatcher } from '../../src/dispatcher/local-dispatcher.js';
import { SessionRegistry } from '../../src/introspection/registry.js';
import { SessionHost } from '../../src/session/session-host.js';
import { WorkerHost } from '../../src/worker/worker-host.js';
import healthy from '../fixtures/agents/healthy-agent.js';
import { memoryLogger } from '../session/support.js';
import { admissionRig } from '../support/admission-rig.js';
import { until } from '../support/conditions.js';

const KEY = { apiKey: 'devkey', apiSecret: 'secret' };
const closers: (() => Promise<unknown>)[] = [];

afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

async function rig(admission: Admission, answerTimeoutMs = 2500) {
  const log = memoryLogger();
  const dispatcher = await LocalDispatcher.start({ port: 0, ...KEY });
  closers.push(() => dispatcher.close());
  const sessions = new SessionHost({
    agents: { healthy },
    registry: new SessionRegistry(),
    logger: log.logger,
  });
  const worker = new WorkerHost({
    url: dispatcher.url,
    ...KEY,
    agentNames: ['healthy'],
    admission,
    sessions,
    logger: log.logger,
    version: 'test',
    answerTimeoutMs,
  });
  await worker.start();
  closers.push(() => worker.stop());
  return { dispatcher, log };
}

describe('availability answers', () => {
  it('rejects with a reason when admission throws, and says nothing secret', async () => {
    const { admission, rejections } = admissionRig({ maxConcurrentSessions: 5 });
    vi.spyOn(admission, 'decide').mockRejectedValue(new Error('db password=hunter2 refused'));
    const { dispatcher } = await rig(admission);
    const r = await dispatcher.dispatch({ agentName: 'healthy', metadata: '{"tenant":"acme"}' });
    expect(r).toMatchObject({
      status: 'rejected',
      reason: 'internal_error',
      message: 'admission failed',
    });
    // Answered by the worker host, and still counted by admission like every other reason.
    expect(rejections).toEqual([
      { jobId: r.jobId, reason: 'internal_error', message: 'admission failed' },
    ]);
    expect(admission.rejectedWithoutTenant().internal_error).toBe(1);
  });

  it('answers in time when admission is slow, and gives back a slot accepted too late', async () => {
    const { admission, outcomes, rejections } = admissionRig({ maxConcurrentSessions: 5 });
    // Admission decides only once the worker host has given up waiting for it.
    let decideLate!: () => void;
    const late = new Promise<void>((resolve) => (decideLate = resolve));
    let lateDecision: Promise<AdmissionDecision> | undefined;
    const decide = admission.decide.bind(admission);
    vi.spyOn(admission, 'decide').mockImplementation((req) => {
      lateDecision = late.then(() => decide(req));
      return lateDecision;
    });
    const { dispatcher } = await rig(admission, 100);
    const r = await dispatcher.dispatch({ agentName: 'healthy', metadata: '{"tenant":"acme"}' });
    expect(r).toMatchObject({
      status: 'rejected',
      reason: 'internal_error',
      message: 'admission did not answer within 100 ms',
    });
    expect(rejections).toEqual([
      {
        jobId: r.jobId,
        reason: 'internal_error',
        message: 'admission did not answer within 100 ms',
      },
    ]);
    decideLate();
    expect(await lateDecision).toMatchObject({ accept: true, tenant: 'acme' });
    await until('the late slot to be given back', () => outcomes.length > 0);
    expect(outcomes).toEqual([
      { jobId: r.jobId, tenant: 'acme', outcome: { kind: 'cancelled', reason: 'answer_timeout' } },
    ]);
    expect(admission.inUse()).toBe(0);
  });
});
