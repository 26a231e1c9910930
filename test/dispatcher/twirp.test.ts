import { JobStatus } from '@livekit/protocol';
import { AgentDispatchClient, TwirpError } from 'livekit-server-sdk';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dispatchJobs, interpretDispatch } from '../../src/dispatcher/dispatch-client.js';
import { LocalDispatcher } from '../../src/dispatcher/local-dispatcher.js';
import { API_KEY, API_SECRET, RawWorker } from './raw-worker.js';

let dispatcher: LocalDispatcher;
let worker: RawWorker | undefined;

const httpUrl = () => dispatcher.url.replace('ws://', 'http://');

beforeEach(async () => {
  dispatcher = await LocalDispatcher.start({
    port: 0,
    apiKey: API_KEY,
    apiSecret: API_SECRET,
    availabilityTimeoutMs: 1_000,
  });
});

afterEach(async () => {
  await worker?.close();
  worker = undefined;
  await dispatcher.close();
});

/** Answers every availability request with `decide(job metadata)`: an identity to accept, or a reason to reject. */
function autoAnswer(
  w: RawWorker,
  decide: (metadata: string) => { accept: string } | { reject: string },
): void {
  w.ws.on('message', () => {
    const last = w.received.at(-1);
    if (last?.message.case !== 'availability') return;
    const job = last.message.value.job!;
    const d = decide(job.metadata);
    if ('accept' in d) w.accept(job.id, d.accept);
    else
      w.reject(job.id, {
        'openrtc.reject_reason': d.reject,
        'openrtc.reject_message': `no: ${d.reject}`,
      });
  });
}

describe('Twirp AgentDispatchService through the real SDK client', () => {
  it('CreateDispatch offers a job; ListDispatch reports its state', async () => {
    ({ worker } = await RawWorker.register(dispatcher.url, 'alpha'));
    const client = new AgentDispatchClient(httpUrl(), API_KEY, API_SECRET);
    const created = await client.createDispatch('room-a', 'alpha', {
      metadata: '{"tenant":"acme"}',
    });
    expect(created.id).toMatch(/^AD_/);
    expect(created.room).toBe('room-a');
    expect(created.agentName).toBe('alpha');
    expect(created.metadata).toBe('{"tenant":"acme"}');
    const pendingJob = created.state?.jobs[0];
    expect(pendingJob?.state?.status).toBe(JobStatus.JS_PENDING);

    const req = await worker.next('availability');
    expect(req.job?.id).toBe(pendingJob?.id);
    expect(req.job?.dispatchId).toBe(created.id);
    expect(req.job?.metadata).toBe('{"tenant":"acme"}');
    expect(req.job?.room?.name).toBe('room-a');
    worker.accept(req.job!.id, 'agent-x');
    await dispatcher.waitForJob(req.job!.id, (j) => j.state === 'running', 2_000);

    const got = await client.getDispatch(created.id, 'room-a');
    expect(got?.state?.jobs).toHaveLength(1);
    expect(got?.state?.jobs[0]?.state).toMatchObject({
      status: JobStatus.JS_RUNNING,
      participantIdentity: 'agent-x',
      error: '',
    });
    expect(got?.state?.jobs[0]?.state?.workerId).toMatch(/^AW_/);

    worker.updateJob(req.job!.id, JobStatus.JS_FAILED, 'entry threw');
    await dispatcher.waitForJob(req.job!.id, (j) => j.state === 'failed', 2_000);
    const listed = await client.listDispatch('room-a');
    expect(listed.map((d) => d.id)).toEqual([created.id]);
    expect(listed[0]?.state?.jobs[0]?.state).toMatchObject({
      status: JobStatus.JS_FAILED,
      error: 'entry threw',
    });
    expect(await client.listDispatch('room-b')).toEqual([]);
    expect(await client.getDispatch('AD_none', 'room-a')).toBeUndefined();
  });

  it('reports a rejection as JS_FAILED with "rejected: <reason>: <message>"', async () => {
    ({ worker } = await RawWorker.register(dispatcher.url, 'alpha'));
    autoAnswer(worker, () => ({ reject: 'tenant_capacity' }));
    const client = new AgentDispatchClient(httpUrl(), API_KEY, API_SECRET);
    const created = await client.createDispatch('room-r', 'alpha');
    const jobId = created.state!.jobs[0]!.id;
    await dispatcher.waitForJob(jobId, (j) => j.state === 'failed', 2_000);
    const got = await client.getDispatch(created.id, 'room-r');
    expect(got?.state?.jobs[0]?.state).toMatchObject({
      status: JobStatus.JS_FAILED,
      error: 'rejected: tenant_capacity: no: tenant_capacity',
    });
    expect(interpretDispatch(got)).toEqual({
      jobId,
      status: 'rejected',
      reason: 'tenant_capacity',
      message: 'no: tenant_capacity',
    });
  });

  it('refuses a bad token with 401 and a token without roomAdmin with 403', async () => {
    const wrong = new AgentDispatchClient(
      httpUrl(),
      API_KEY,
      'a-different-secret-of-enough-length',
    );
    const err = await wrong.createDispatch('room-a', 'alpha').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TwirpError);
    expect((err as TwirpError).status).toBe(401);
    expect((err as TwirpError).code).toBe('unauthenticated');

    const res = await fetch(`${httpUrl()}/twirp/livekit.AgentDispatchService/ListDispatch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"room":"x"}',
    });
    expect(res.status).toBe(401);
    await res.body?.cancel();
  });

  it('answers an unknown route with bad_route and a malformed body with 400', async () => {
    const { AccessToken } = await import('livekit-server-sdk');
    const at = new AccessToken(API_KEY, API_SECRET);
    at.addGrant({ roomAdmin: true, room: 'x' });
    const auth = {
      authorization: `Bearer ${await at.toJwt()}`,
      'content-type': 'application/json',
    };
    const nope = await fetch(`${httpUrl()}/twirp/livekit.AgentDispatchService/DeleteAll`, {
      method: 'POST',
      headers: auth,
      body: '{}',
    });
    expect(nope.status).toBe(404);
    expect(await nope.json()).toEqual({ code: 'bad_route', msg: 'no method DeleteAll' });
    const bad = await fetch(`${httpUrl()}/twirp/livekit.AgentDispatchService/CreateDispatch`, {
      method: 'POST',
      headers: auth,
      body: '{not json',
    });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ code: 'malformed', msg: 'request body does not decode' });
    const other = await fetch(`${httpUrl()}/twirp/livekit.AgentDispatchService/ListDispatch`, {
      method: 'POST',
      headers: auth,
      body: '{"room":"y"}',
    });
    expect(other.status).toBe(403);
    await other.body?.cancel();
  });
});

describe('dispatchJobs', () => {
  it('dispatches N jobs with the tenant in the metadata and reports each answer', async () => {
    ({ worker } = await RawWorker.register(dispatcher.url, 'alpha'));
    const seen: unknown[] = [];
    let n = 0;
    autoAnswer(worker, (metadata) => {
      seen.push(JSON.parse(metadata));
      n += 1;
      return n <= 2 ? { accept: `agent-${n}` } : { reject: 'tenant_capacity' };
    });
    const results = await dispatchJobs({
      url: dispatcher.url,
      apiKey: API_KEY,
      apiSecret: API_SECRET,
      agentName: 'alpha',
      tenant: 'acme',
      metadata: { duration_s: 3 },
      count: 3,
      roomPrefix: 't',
      waitMs: 3_000,
    });
    expect(seen).toEqual([
      { duration_s: 3, tenant: 'acme' },
      { duration_s: 3, tenant: 'acme' },
      { duration_s: 3, tenant: 'acme' },
    ]);
    expect(results.map((r) => r.index)).toEqual([0, 1, 2]);
    expect(
      results.every(
        (r) =>
          /^t-[0-9a-f]{6}-\d$/.test(r.room) &&
          r.dispatchId.startsWith('AD_') &&
          r.jobId?.startsWith('AJ_'),
      ),
    ).toBe(true);
    expect(results.map((r) => r.status).sort()).toEqual(['accepted', 'accepted', 'rejected']);
    const rejected = results.find((r) => r.status === 'rejected');
    expect(rejected).toMatchObject({ reason: 'tenant_capacity', message: 'no: tenant_capacity' });
    expect(dispatcher.jobs().filter((j) => j.state === 'running')).toHaveLength(2);
  });

  it('reports a job no worker can take as failed, and one nobody answers in time as pending', async () => {
    const none = await dispatchJobs({
      url: dispatcher.url,
      apiKey: API_KEY,
      apiSecret: API_SECRET,
      agentName: 'ghost',
      count: 1,
      waitMs: 2_000,
    });
    expect(none).toEqual([
      expect.objectContaining({
        index: 0,
        status: 'failed',
        message: 'no_worker: no worker registered for agent "ghost"',
      }),
    ]);

    ({ worker } = await RawWorker.register(dispatcher.url, 'alpha'));
    const slow = await dispatchJobs({
      url: dispatcher.url,
      apiKey: API_KEY,
      apiSecret: API_SECRET,
      agentName: 'alpha',
      count: 1,
      waitMs: 200,
      pollMs: 50,
    });
    expect(slow).toEqual([
      expect.objectContaining({ index: 0, status: 'pending', message: 'no answer within 200 ms' }),
    ]);
    expect(slow[0]?.jobId).toMatch(/^AJ_/);
  });
});
