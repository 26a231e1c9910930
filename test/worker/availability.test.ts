import { afterEach, describe, expect, it } from 'vitest';
import type { AdmissionDecision, JobRequestInfo } from '../../src/admission/types.js';
import { LocalDispatcher } from '../../src/dispatcher/local-dispatcher.js';
import { SessionRegistry } from '../../src/introspection/registry.js';
import { SessionHost } from '../../src/session/session-host.js';
import { WorkerHost } from '../../src/worker/worker-host.js';
import healthy from '../fixtures/agents/healthy-agent.js';
import { memoryLogger } from '../session/support.js';
import { TestAdmission } from './test-admission.js';

const KEY = { apiKey: 'devkey', apiSecret: 'secret' };
const closers: (() => Promise<unknown>)[] = [];

afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

/** An admission whose decide() is replaced per test. */
class ScriptedAdmission extends TestAdmission {
  script: ((req: JobRequestInfo) => Promise<AdmissionDecision>) | undefined;
  override decide(req: JobRequestInfo): Promise<AdmissionDecision> {
    return this.script ? this.script(req) : super.decide(req);
  }
}

async function rig(admission: TestAdmission, answerTimeoutMs = 2500) {
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
    const admission = new ScriptedAdmission({ maxConcurrentSessions: 5 });
    admission.script = () => Promise.reject(new Error('db password=hunter2 refused'));
    const { dispatcher } = await rig(admission);
    const r = await dispatcher.dispatch({ agentName: 'healthy', metadata: '{"tenant":"acme"}' });
    expect(r).toMatchObject({
      status: 'rejected',
      reason: 'internal_error',
      message: 'admission failed',
    });
    // Answered by the worker host, and still counted by admission like every other reason.
    expect(admission.hostRejections).toEqual([
      { jobId: r.jobId, reason: 'internal_error', message: 'admission failed' },
    ]);
  });

  it('answers in time when admission is slow, and gives back a slot accepted too late', async () => {
    const admission = new ScriptedAdmission({ maxConcurrentSessions: 5 });
    let lateDecision: Promise<AdmissionDecision> | undefined;
    admission.script = (req) => {
      lateDecision = new Promise<void>((r) => setTimeout(r, 300)).then(() =>
        TestAdmission.prototype.decide.call(admission, req),
      );
      return lateDecision;
    };
    const { dispatcher } = await rig(admission, 100);
    const r = await dispatcher.dispatch({ agentName: 'healthy', metadata: '{"tenant":"acme"}' });
    expect(r).toMatchObject({
      status: 'rejected',
      reason: 'internal_error',
      message: 'admission did not answer within 100 ms',
    });
    expect(admission.hostRejections).toEqual([
      {
        jobId: r.jobId,
        reason: 'internal_error',
        message: 'admission did not answer within 100 ms',
      },
    ]);
    await lateDecision;
    await new Promise((res) => setImmediate(res));
    expect(admission.outcomes).toEqual([
      { jobId: r.jobId, tenant: 'acme', outcome: { kind: 'cancelled', reason: 'answer_timeout' } },
    ]);
    expect(admission.inUse()).toBe(0);
  });
});
