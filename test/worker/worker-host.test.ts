import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { voice } from '@livekit/agents';
import type { Admission } from '../../src/admission/admission.js';
import { LocalDispatcher } from '../../src/dispatcher/local-dispatcher.js';
import { SessionRegistry } from '../../src/introspection/registry.js';
import { setProcessLogger } from '../../src/logging/process-logger.js';
import { SessionHost } from '../../src/session/session-host.js';
import type { SessionEndedEvent } from '../../src/session/types.js';
import { WorkerHost } from '../../src/worker/worker-host.js';
import entryThrows from '../fixtures/agents/entry-throws-agent.js';
import healthy from '../fixtures/agents/healthy-agent.js';
import longCall from '../fixtures/agents/long-call-agent.js';
import { memoryLogger, type MemoryLog } from '../session/support.js';
import { admissionRig, type AdmissionRig } from '../support/admission-rig.js';
import { until } from '../support/conditions.js';

const KEY = { apiKey: 'devkey', apiSecret: 'secret' };
const agents = { healthy, 'long-call': longCall, 'entry-throws': entryThrows };

interface Rig {
  dispatcher: LocalDispatcher;
  worker: WorkerHost;
  sessions: SessionHost;
  registry: SessionRegistry;
  admission: Admission;
  outcomes: AdmissionRig['outcomes'];
  log: MemoryLog;
  ended: SessionEndedEvent[];
}

let rig: Rig | undefined;
const extraDispatchers: LocalDispatcher[] = [];

async function startRig({ admission, outcomes }: AdmissionRig, port = 0): Promise<Rig> {
  const log = memoryLogger();
  setProcessLogger(log.logger);
  const dispatcher = await LocalDispatcher.start({ port, ...KEY });
  const registry = new SessionRegistry();
  const ended: SessionEndedEvent[] = [];
  const sessions = new SessionHost({
    agents,
    registry,
    logger: log.logger,
    shutdownGraceMs: 500,
    onSessionEnded: (e) => ended.push(e),
  });
  await sessions.prewarmAll();
  const worker = new WorkerHost({
    url: dispatcher.url,
    ...KEY,
    agentNames: Object.keys(agents),
    admission,
    sessions,
    logger: log.logger,
    version: 'test',
    loadIntervalMs: 200,
    random: () => 0,
  });
  await worker.start();
  rig = { dispatcher, worker, sessions, registry, admission, outcomes, log, ended };
  return rig;
}

afterEach(async () => {
  if (rig) {
    await rig.worker.stop();
    await rig.dispatcher.close();
  }
  for (const d of extraDispatchers.splice(0)) await d.close();
  rig = undefined;
});

const meta = (o: Record<string, unknown>) => JSON.stringify(o);

describe('WorkerHost against the local dispatcher', () => {
  it('routes tenants from metadata, reports job state, and tags session logs', async () => {
    const acmeLLM = new voice.testing.FakeLLM([{ input: 'hello', content: 'acme here' }]);
    const { dispatcher, log, admission, outcomes } = await startRig(
      admissionRig({ maxConcurrentSessions: 10, configs: { acme: { llm: acmeLLM } } }),
    );
    const [a, g] = await Promise.all([
      dispatcher.dispatch({ agentName: 'healthy', metadata: meta({ tenant: 'acme' }) }),
      dispatcher.dispatch({ agentName: 'healthy', metadata: meta({ tenant: 'globex' }) }),
    ]);
    expect(a.status).toBe('assigned');
    expect(g.status).toBe('assigned');
    if (a.status !== 'assigned' || g.status !== 'assigned') return;
    expect(a.participantAttributes.tenant).toBe('acme');
    expect(g.participantAttributes.tenant).toBe('globex');
    expect(a.participantIdentity).toBe(`agent-${a.jobId}`);
    await dispatcher.waitForJob(a.jobId, (j) => j.state === 'success');
    await dispatcher.waitForJob(g.jobId, (j) => j.state === 'success');

    const replies = log.lines().filter((l) => l.msg === 'agent replied');
    expect(replies.map((l) => [l.tenant, l.reply, l.agent]).sort()).toEqual([
      ['acme', 'acme here', 'healthy'],
      ['globex', 'default reply', 'healthy'],
    ]);
    expect(
      replies.every(
        (l) => typeof l.session_id === 'string' && (l.session_id as string).startsWith('ses_'),
      ),
    ).toBe(true);
    expect(outcomes.map((o) => o.outcome.kind)).toEqual(['success', 'success']);
    expect(admission.inUse()).toBe(0);
  });

  it('rejects a malformed tenant before accepting, with the reason code', async () => {
    const { dispatcher, admission, registry } = await startRig(
      admissionRig({ maxConcurrentSessions: 10 }),
    );
    const r = await dispatcher.dispatch({
      agentName: 'healthy',
      metadata: meta({ tenant: 'Bad Tenant!' }),
    });
    expect(r.status).toBe('rejected');
    if (r.status === 'assigned') return;
    expect(r.reason).toBe('invalid_tenant');
    expect(r.message).toBe(
      'metadata.tenant: expected a tenant id (1-128 letters, digits, "-" or "_"), got "Bad Tenant!"',
    );
    expect(admission.inUse()).toBe(0);
    expect(registry.size).toBe(0);
    expect(dispatcher.job(r.jobId)?.state).toBe('failed');
  });

  it('holds a per-tenant cap exactly under 200 concurrent dispatches', async () => {
    const { dispatcher, admission, registry } = await startRig(
      admissionRig({ maxConcurrentSessions: 500, tenantCaps: { acme: 7 } }),
    );
    const results = await Promise.all(
      Array.from({ length: 200 }, () =>
        dispatcher.dispatch({ agentName: 'long-call', metadata: meta({ tenant: 'acme' }) }),
      ),
    );
    const assigned = results.filter((r) => r.status === 'assigned');
    const rejected = results.filter((r) => r.status === 'rejected');
    expect(assigned).toHaveLength(7);
    expect(rejected).toHaveLength(193);
    expect(new Set(rejected.map((r) => (r.status === 'assigned' ? '' : r.reason)))).toEqual(
      new Set(['tenant_capacity']),
    );
    await Promise.all(
      assigned.map((r) => dispatcher.waitForJob(r.jobId, (j) => j.state === 'running')),
    );
    await until('all seven sessions in the registry', () => registry.size === 7);
    expect(admission.inUse()).toBe(7);
  });

  it('terminates a session on the server’s request and frees its slot', async () => {
    const { dispatcher, outcomes, registry, ended } = await startRig(
      admissionRig({ maxConcurrentSessions: 10 }),
    );
    const r = await dispatcher.dispatch({
      agentName: 'long-call',
      metadata: meta({ tenant: 'acme' }),
    });
    expect(r.status).toBe('assigned');
    await until('the session to be running', () =>
      registry.list().some((s) => s.jobId === r.jobId && s.status === 'running'),
    );
    expect(dispatcher.terminate(r.jobId)).toBe(true);
    await until('the session to end', () => ended.length === 1);
    expect(ended[0]).toMatchObject({
      jobId: r.jobId,
      tenant: 'acme',
      outcome: { kind: 'success', reason: 'terminated' },
    });
    expect(outcomes).toEqual([
      { jobId: r.jobId, tenant: 'acme', outcome: { kind: 'success', reason: 'terminated' } },
    ]);
    expect(registry.size).toBe(0);
  });

  it('reports a failed session to the server with its reason', async () => {
    const { dispatcher } = await startRig(admissionRig({ maxConcurrentSessions: 10 }));
    const r = await dispatcher.dispatch({
      agentName: 'entry-throws',
      metadata: meta({ tenant: 'flaky' }),
    });
    const job = await dispatcher.waitForJob(r.jobId, (j) => j.state === 'failed');
    expect(job.error).toBe('entry_error: Error: entry exploded');
  });

  it('drains: stops taking jobs, lets live sessions finish, then closes the rest', async () => {
    const { dispatcher, worker, admission, ended, log } = await startRig(
      admissionRig({ maxConcurrentSessions: 10 }),
    );
    const short = await dispatcher.dispatch({
      agentName: 'healthy',
      metadata: meta({ tenant: 'acme', hold_ms: 300 }),
    });
    const long = await dispatcher.dispatch({
      agentName: 'long-call',
      metadata: meta({ tenant: 'globex' }),
    });
    expect([short.status, long.status]).toEqual(['assigned', 'assigned']);
    const draining = worker.drain(1200);
    expect(admission.draining).toBe(true);
    await until('every registration to report full', () =>
      dispatcher.workers().every((w) => w.status === 'full'),
    );
    const refused = await dispatcher.dispatch({
      agentName: 'healthy',
      metadata: meta({ tenant: 'acme' }),
    });
    expect(refused.status).toBe('no_worker');
    expect(await draining).toEqual({ forcedSessions: 1 });
    const byJob = Object.fromEntries(ended.map((e) => [e.jobId, e.outcome]));
    expect(byJob[short.jobId]).toEqual({ kind: 'success', reason: 'session_closed' });
    expect(byJob[long.jobId]).toEqual({ kind: 'success', reason: 'drain_timeout' });
    expect(admission.inUse()).toBe(0);
    await until('every registration to be gone', () => dispatcher.workers().length === 0);
    // Closing the connection on purpose is not losing it.
    const messages = log.lines().map((l) => `${String(l.level)} ${String(l.msg)}`);
    expect(messages.filter((m) => m.includes('lost the LiveKit connection'))).toEqual([]);
    expect(messages).toContain('30 closed the LiveKit connection');
  });

  it('a drain with nothing left to close reports no forced sessions', async () => {
    const { dispatcher, worker } = await startRig(admissionRig({ maxConcurrentSessions: 10 }));
    const short = await dispatcher.dispatch({
      agentName: 'healthy',
      metadata: meta({ tenant: 'acme', hold_ms: 100 }),
    });
    expect(short.status).toBe('assigned');
    expect(await worker.drain(5_000)).toEqual({ forcedSessions: 0 });
  });

  it('reconnects after the dispatcher restarts without touching live sessions', async () => {
    const first = await startRig(admissionRig({ maxConcurrentSessions: 10 }));
    const port = Number(new URL(first.dispatcher.url).port);
    const live = await first.dispatcher.dispatch({
      agentName: 'long-call',
      metadata: meta({ tenant: 'acme' }),
    });
    expect(live.status).toBe('assigned');
    await until('a session to be running on the first worker', () =>
      first.registry.list().some((s) => s.status === 'running'),
    );
    const sessionBefore = first.registry.list()[0]?.sessionId;

    const disconnected = once(first.worker, 'disconnected');
    await first.dispatcher.close();
    await disconnected;
    const reconnected = new Promise<void>((resolve) => {
      let n = 0;
      first.worker.on('connected', () => {
        if (++n === Object.keys(agents).length) resolve();
      });
    });
    const second = await LocalDispatcher.start({ port, ...KEY });
    extraDispatchers.push(second);
    await reconnected;

    expect(first.registry.list().map((s) => [s.sessionId, s.status])).toEqual([
      [sessionBefore, 'running'],
    ]);
    expect(first.ended).toEqual([]);
    const next = await second.dispatch({
      agentName: 'healthy',
      metadata: meta({ tenant: 'globex' }),
    });
    expect(next.status).toBe('assigned');
    await second.waitForJob(next.jobId, (j) => j.state === 'success');
    expect(first.registry.list().map((s) => s.sessionId)).toEqual([sessionBefore]);
  });
});
