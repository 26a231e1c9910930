import { JobStatus, JobType, WorkerStatus } from '@livekit/protocol';
import { TokenVerifier } from 'livekit-server-sdk';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { LocalDispatcher } from '../../src/dispatcher/local-dispatcher.js';
import type {
  JobRecord,
  LocalDispatcherOptions,
  WorkerRecord,
} from '../../src/dispatcher/types.js';
import { agentToken, API_KEY, API_SECRET, RawWorker } from './raw-worker.js';

let dispatcher: LocalDispatcher;
const workers: RawWorker[] = [];

async function registered(agentName = 'alpha'): Promise<{ worker: RawWorker; workerId: string }> {
  const r = await RawWorker.register(dispatcher.url, agentName);
  workers.push(r.worker);
  return r;
}

/** A ping round trip: everything the worker sent before it has been handled. */
async function synced(w: RawWorker): Promise<void> {
  w.ping(1n);
  await w.next('pong');
}

function upgradeStatus(url: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.once('open', () => {
      resolve(101);
      ws.close();
    });
    ws.once('error', (err) => {
      if (!/Unexpected server response/.test(err.message)) reject(err);
    });
  });
}

/** A dispatcher with other options than the default one of each test. */
async function restartDispatcher(opts: Partial<LocalDispatcherOptions>): Promise<void> {
  await dispatcher.close();
  dispatcher = await LocalDispatcher.start({
    port: 0,
    apiKey: API_KEY,
    apiSecret: API_SECRET,
    ...opts,
  });
}

beforeEach(async () => {
  dispatcher = await LocalDispatcher.start({
    port: 0,
    apiKey: API_KEY,
    apiSecret: API_SECRET,
    availabilityTimeoutMs: 2_000,
  });
});

afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.close()));
  await dispatcher.close();
});

describe('worker connection', () => {
  it('serves ws://127.0.0.1:PORT on an ephemeral port', () => {
    expect(dispatcher.url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+$/);
  });

  it('refuses a missing token, a wrong secret and a token without the agent grant with 401', async () => {
    const url = `${dispatcher.url}/agent`;
    expect(await upgradeStatus(url)).toBe(401);
    expect(
      await upgradeStatus(url, {
        authorization: `Bearer ${await agentToken(API_KEY, 'another-secret-of-enough-length-00')}`,
      }),
    ).toBe(401);
    expect(
      await upgradeStatus(url, {
        authorization: `Bearer ${await agentToken(API_KEY, API_SECRET, false)}`,
      }),
    ).toBe(401);
    expect(await upgradeStatus(url, { authorization: 'Bearer not-a-jwt' })).toBe(401);
    expect(
      await upgradeStatus(`${dispatcher.url}/elsewhere`, {
        authorization: `Bearer ${await agentToken()}`,
      }),
    ).toBe(404);
  });

  it('accepts the token in the access_token query parameter too', async () => {
    expect(await upgradeStatus(`${dispatcher.url}/agent?access_token=${await agentToken()}`)).toBe(
      101,
    );
  });

  it('answers register with a worker id and server info, and lists the worker', async () => {
    const seen: WorkerRecord[] = [];
    dispatcher.on('worker_registered', (w) => seen.push(w));
    const { workerId } = await registered('alpha');
    expect(workerId).toMatch(/^AW_[A-Za-z0-9]{12}$/);
    expect(seen.map((w) => w.workerId)).toEqual([workerId]);
    expect(dispatcher.workers()).toEqual([
      expect.objectContaining({
        workerId,
        agentName: 'alpha',
        namespace: '',
        version: 'test',
        status: 'available',
        load: 0,
        jobs: [],
      }),
    ]);
  });

  it('sends server info a stock worker logs', async () => {
    const w = await RawWorker.connect(dispatcher.url);
    workers.push(w);
    w.send({
      case: 'register',
      value: { type: JobType.JT_ROOM, agentName: 'x', version: '1' } as never,
    });
    const res = await w.next('register');
    expect(res.serverInfo?.agentProtocol).toBe(1);
    expect(res.serverInfo?.version).toBe('openrtc-local');
  });

  it('answers ping with pong carrying the ping timestamp', async () => {
    const { worker } = await registered();
    const before = BigInt(Date.now());
    worker.ping(123456789n);
    const pong = await worker.next('pong');
    expect(pong.lastTimestamp).toBe(123456789n);
    expect(pong.timestamp >= before).toBe(true);
  });

  it('records updateWorker status and load', async () => {
    const { worker, workerId } = await registered();
    worker.updateWorker(WorkerStatus.WS_FULL, 0.75);
    await synced(worker);
    expect(dispatcher.workers()).toEqual([
      expect.objectContaining({ workerId, status: 'full', load: 0.75 }),
    ]);
  });

  it('reports a disconnected worker and fails its running jobs', async () => {
    const { worker, workerId } = await registered();
    const gone = new Promise<WorkerRecord>((r) => dispatcher.once('worker_disconnected', r));
    const outcome = dispatcher.dispatch({ agentName: 'alpha' });
    const req = await worker.next('availability');
    worker.accept(req.job!.id, 'agent-1');
    const o = await outcome;
    expect(o.status).toBe('assigned');
    await worker.close();
    const rec = await gone;
    expect(rec.workerId).toBe(workerId);
    expect(rec.jobs).toEqual([o.jobId]);
    expect(dispatcher.workers()).toEqual([]);
    expect(dispatcher.job(o.jobId)).toMatchObject({
      state: 'failed',
      error: 'worker disconnected',
    });
  });
});

describe('dispatch', () => {
  it('offers a complete job, assigns it with a participant token, and marks it running', async () => {
    const { worker, workerId } = await registered('alpha');
    const outcome = dispatcher.dispatch({
      agentName: 'alpha',
      metadata: '{"tenant":"acme"}',
      roomName: 'room-1',
      roomMetadata: 'rm',
      attributes: { caller: '+15550100' },
    });
    const req = await worker.next('availability');
    const job = req.job!;
    expect(job.id).toMatch(/^AJ_[A-Za-z0-9]{12}$/);
    expect(job.dispatchId).toMatch(/^AD_/);
    expect(job.type).toBe(JobType.JT_ROOM);
    expect(job.agentName).toBe('alpha');
    expect(job.metadata).toBe('{"tenant":"acme"}');
    expect(job.attributes).toEqual({ 'openrtc.local': 'true', caller: '+15550100' });
    expect(job.room?.name).toBe('room-1');
    expect(job.room?.metadata).toBe('rm');
    expect(job.room?.sid).toMatch(/^RM_/);
    expect(dispatcher.job(job.id)?.state).toBe('pending');

    worker.accept(job.id, 'agent-AJ', { tenant: 'acme' });
    const asg = await worker.next('assignment');
    expect(asg.job?.id).toBe(job.id);
    // LiveKit sends no URL: the worker joins the server it registered with.
    expect(asg.url).toBeUndefined();
    expect(asg.job?.state).toMatchObject({
      status: JobStatus.JS_RUNNING,
      workerId,
      participantIdentity: 'agent-AJ',
    });
    const claims = await new TokenVerifier(API_KEY, API_SECRET).verify(asg.token);
    expect(claims.sub).toBe('agent-AJ');
    expect(claims.video).toMatchObject({ room: 'room-1', roomJoin: true, agent: true });
    expect(claims.attributes).toEqual({ tenant: 'acme', 'lk.agent_name': 'alpha' });

    expect(await outcome).toEqual({
      jobId: job.id,
      status: 'assigned',
      workerId,
      participantIdentity: 'agent-AJ',
      participantAttributes: { tenant: 'acme' },
    });
    expect(dispatcher.job(job.id)).toMatchObject({
      state: 'running',
      workerId,
      participantIdentity: 'agent-AJ',
      roomName: 'room-1',
    });
    expect(dispatcher.workers()[0]?.jobs).toEqual([job.id]);
  });

  it('reports no_worker when nobody is registered for the agent name', async () => {
    await registered('other');
    const o = await dispatcher.dispatch({ agentName: 'alpha' });
    expect(o).toMatchObject({
      status: 'no_worker',
      message: 'no worker registered for agent "alpha"',
    });
    expect(dispatcher.job(o.jobId)).toMatchObject({
      state: 'failed',
      error: 'no_worker: no worker registered for agent "alpha"',
    });
  });

  it('times out a worker that never answers', async () => {
    await restartDispatcher({ availabilityTimeoutMs: 150 });
    const { worker } = await registered();
    const outcome = dispatcher.dispatch({ agentName: 'alpha' });
    const req = await worker.next('availability');
    const o = await outcome;
    expect(o).toEqual({
      jobId: req.job!.id,
      status: 'timeout',
      message: 'no worker answered within 150 ms',
    });
    expect(dispatcher.job(o.jobId)?.state).toBe('failed');
    // A late answer changes nothing and gets no assignment.
    worker.accept(req.job!.id, 'late');
    await synced(worker);
    expect(worker.received.some((m) => m.message.case === 'assignment')).toBe(false);
    expect(dispatcher.job(o.jobId)?.state).toBe('failed');
  });

  it('tries the next worker after a rejection', async () => {
    const a = await registered();
    const b = await registered();
    const outcome = dispatcher.dispatch({ agentName: 'alpha' });
    const pa = a.worker.next('availability');
    const pb = b.worker.next('availability');
    const first = await Promise.race([pa.then(() => a), pb.then(() => b)]);
    const second = first === a ? b : a;
    const jobId = (await (first === a ? pa : pb)).job!.id;
    first.worker.reject(jobId, { 'openrtc.reject_reason': 'tenant_capacity' });
    const again = await (first === a ? pb : pa);
    expect(again.job!.id).toBe(jobId);
    second.worker.accept(jobId, 'agent-2');
    expect(await outcome).toMatchObject({
      status: 'assigned',
      workerId: second.workerId,
      participantIdentity: 'agent-2',
    });
  });

  it('surfaces the last rejection reason and message when every worker rejects', async () => {
    const { worker } = await registered();
    const outcome = dispatcher.dispatch({ agentName: 'alpha' });
    const req = await worker.next('availability');
    worker.reject(req.job!.id, {
      'openrtc.reject_reason': 'breaker_open',
      'openrtc.reject_message': 'tenant "acme" breaker is open',
    });
    const o = await outcome;
    expect(o).toEqual({
      jobId: req.job!.id,
      status: 'rejected',
      reason: 'breaker_open',
      message: 'tenant "acme" breaker is open',
    });
    expect(dispatcher.job(o.jobId)).toMatchObject({
      state: 'failed',
      error: 'rejected: breaker_open: tenant "acme" breaker is open',
    });
  });

  it('reports a plain rejection (stock workers give no reason) without a reason', async () => {
    const { worker } = await registered();
    const outcome = dispatcher.dispatch({ agentName: 'alpha' });
    const req = await worker.next('availability');
    worker.reject(req.job!.id);
    expect(await outcome).toEqual({
      jobId: req.job!.id,
      status: 'rejected',
      message: 'worker rejected the job',
    });
  });

  it('never offers jobs to a WS_FULL worker', async () => {
    const full = await registered();
    const free = await registered();
    full.worker.updateWorker(WorkerStatus.WS_FULL, 1);
    await synced(full.worker);
    for (let i = 0; i < 3; i++) {
      const outcome = dispatcher.dispatch({ agentName: 'alpha' });
      const req = await free.worker.next('availability');
      free.worker.accept(req.job!.id, `agent-${i}`);
      expect(await outcome).toMatchObject({ status: 'assigned', workerId: free.workerId });
    }
    expect(full.worker.received.some((m) => m.message.case === 'availability')).toBe(false);

    free.worker.updateWorker(WorkerStatus.WS_FULL, 1);
    await synced(free.worker);
    expect(await dispatcher.dispatch({ agentName: 'alpha' })).toMatchObject({
      status: 'no_worker',
      message: 'no available worker for agent "alpha"',
    });
  });

  it('picks the worker at random weighted by 1 - load, as LiveKit does', async () => {
    // Weights 0.4 and 0.9 (sum 1.3): a draw of 0.5 lands past the first worker's 0.4 share.
    await restartDispatcher({ random: () => 0.5 });
    const busy = await registered();
    const idle = await registered();
    busy.worker.updateWorker(WorkerStatus.WS_AVAILABLE, 0.6);
    idle.worker.updateWorker(WorkerStatus.WS_AVAILABLE, 0.1);
    await Promise.all([synced(busy.worker), synced(idle.worker)]);
    const outcome = dispatcher.dispatch({ agentName: 'alpha' });
    const req = await idle.worker.next('availability');
    idle.worker.accept(req.job!.id, 'a');
    expect(await outcome).toMatchObject({ workerId: idle.workerId });
    expect(busy.worker.received.some((m) => m.message.case === 'availability')).toBe(false);
  });

  it('offers nothing while every available worker is at or over the target load', async () => {
    const a = await registered();
    const b = await registered();
    a.worker.updateWorker(WorkerStatus.WS_AVAILABLE, 0.7);
    b.worker.updateWorker(WorkerStatus.WS_AVAILABLE, 0.9);
    await Promise.all([synced(a.worker), synced(b.worker)]);
    expect(await dispatcher.dispatch({ agentName: 'alpha' })).toMatchObject({
      status: 'no_worker',
      message: 'no available worker for agent "alpha"',
    });
    expect(
      [a, b].some((w) => w.worker.received.some((m) => m.message.case === 'availability')),
    ).toBe(false);
    // One worker back under it and the job may go to either: the choice is over every worker.
    a.worker.updateWorker(WorkerStatus.WS_AVAILABLE, 0.2);
    await synced(a.worker);
    const outcome = dispatcher.dispatch({ agentName: 'alpha' });
    const req = await Promise.race([a.worker.next('availability'), b.worker.next('availability')]);
    for (const w of [a, b]) w.worker.accept(req.job!.id, 'x');
    expect(await outcome).toMatchObject({ status: 'assigned' });
  });

  it('does not retry another worker after a timeout, as LiveKit does not', async () => {
    await restartDispatcher({ availabilityTimeoutMs: 150 });
    const a = await registered();
    const b = await registered();
    const o = await dispatcher.dispatch({ agentName: 'alpha' });
    expect(o.status).toBe('timeout');
    const asked = [a, b].filter((w) =>
      w.worker.received.some((m) => m.message.case === 'availability'),
    );
    expect(asked).toHaveLength(1);
  });

  it('spreads jobs over equally loaded workers', async () => {
    const ws = [await registered(), await registered(), await registered()];
    const byWorker = new Map<string, number>();
    for (const w of ws) {
      w.worker.ws.on('message', () => {
        const last = w.worker.received.at(-1);
        if (last?.message.case === 'availability') w.worker.accept(last.message.value.job!.id, 'x');
      });
    }
    for (let i = 0; i < 30; i++) {
      const o = await dispatcher.dispatch({ agentName: 'alpha' });
      if (o.status !== 'assigned') throw new Error(o.status);
      byWorker.set(o.workerId, (byWorker.get(o.workerId) ?? 0) + 1);
    }
    // Random, uniform at equal load: every worker gets some (all 30 on one is 3 * 3^-30 likely).
    for (const w of ws) expect(byWorker.get(w.workerId) ?? 0).toBeGreaterThan(0);
  });
});

describe('job state', () => {
  async function assignedJob(): Promise<{ worker: RawWorker; jobId: string }> {
    const { worker } = await registered();
    const outcome = dispatcher.dispatch({ agentName: 'alpha' });
    const req = await worker.next('availability');
    worker.accept(req.job!.id, 'agent');
    await outcome;
    return { worker, jobId: req.job!.id };
  }

  it('tracks updateJob through running to success', async () => {
    const { worker, jobId } = await assignedJob();
    const states: string[] = [];
    dispatcher.on('job_updated', (j: JobRecord) => j.jobId === jobId && states.push(j.state));
    worker.updateJob(jobId, JobStatus.JS_RUNNING);
    worker.updateJob(jobId, JobStatus.JS_SUCCESS);
    const done = await dispatcher.waitForJob(jobId, (j) => j.state === 'success', 2_000);
    expect(done.error).toBe('');
    expect(done.endedAt).toBeGreaterThanOrEqual(done.startedAt ?? Infinity);
    expect(states).toEqual(['running', 'success']);
    expect(dispatcher.workers()[0]?.jobs).toEqual([]);
  });

  it('records a failure with its error', async () => {
    const { worker, jobId } = await assignedJob();
    worker.updateJob(jobId, JobStatus.JS_FAILED, 'entry threw: boom');
    const j = await dispatcher.waitForJob(jobId, (x) => x.state === 'failed', 2_000);
    expect(j.error).toBe('entry threw: boom');
  });

  it('ignores updates for a job from a worker that does not hold it', async () => {
    const { jobId } = await assignedJob();
    const other = await registered();
    other.worker.updateJob(jobId, JobStatus.JS_FAILED, 'not mine');
    await synced(other.worker);
    expect(dispatcher.job(jobId)?.state).toBe('running');
  });

  it('waitForJob rejects after its timeout with the last state', async () => {
    const { jobId } = await assignedJob();
    await expect(dispatcher.waitForJob(jobId, (j) => j.state === 'success', 50)).rejects.toThrow(
      `job ${jobId} did not reach the expected state within 50 ms (last: running )`,
    );
  });

  it('terminate sends termination and ends the job', async () => {
    const { worker, jobId } = await assignedJob();
    expect(dispatcher.terminate(jobId)).toBe(true);
    expect((await worker.next('termination')).jobId).toBe(jobId);
    expect(dispatcher.job(jobId)?.state).toBe('success');
    expect(dispatcher.terminate('AJ_unknown')).toBe(false);
  });

  it('lists every job', async () => {
    const { jobId } = await assignedJob();
    const o = await dispatcher.dispatch({ agentName: 'nobody' });
    expect(dispatcher.jobs().map((j) => [j.jobId, j.state])).toEqual([
      [jobId, 'running'],
      [o.jobId, 'failed'],
    ]);
  });
});
