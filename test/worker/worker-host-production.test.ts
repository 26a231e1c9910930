import { once } from 'node:events';
import { AvailabilityRequest, JobAssignment, JobStatus } from '@livekit/protocol';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { buildJob } from '../../src/dispatcher/job-builder.js';
import { LocalDispatcher } from '../../src/dispatcher/local-dispatcher.js';
import { SessionRegistry } from '../../src/introspection/registry.js';
import type { LiveCounts, LoadReport } from '../../src/load/load-model.js';
import { setProcessLogger } from '../../src/logging/process-logger.js';
import { SessionHost } from '../../src/session/session-host.js';
import { WorkerHost } from '../../src/worker/worker-host.js';
import healthy from '../fixtures/agents/healthy-agent.js';
import longCall from '../fixtures/agents/long-call-agent.js';
import { memoryLogger } from '../session/support.js';
import { ScriptedServer } from './scripted-server.js';
import { admissionRig } from '../support/admission-rig.js';

const KEY = { apiKey: 'devkey', apiSecret: 'secret' };
const AGENTS = ['healthy', 'long-call'];
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

function startWorker(url: string, opts: { load?: { report(live: LiveCounts): LoadReport } } = {}) {
  const log = memoryLogger();
  setProcessLogger(log.logger);
  const { admission, rejections } = admissionRig({ maxConcurrentSessions: 10 });
  const decide = vi.spyOn(admission, 'decide');
  const sessions = new SessionHost({
    agents: { healthy, 'long-call': longCall },
    registry: new SessionRegistry(),
    logger: log.logger,
    shutdownGraceMs: 500,
  });
  const worker = new WorkerHost({
    url,
    ...KEY,
    agentNames: AGENTS,
    admission,
    sessions,
    logger: log.logger,
    version: 'test',
    loadIntervalMs: 200,
    random: () => 0,
    ...(opts.load ? { load: opts.load } : {}),
  });
  closers.push(async () => {
    await worker.stop();
  });
  return { worker, admission, rejections, decide, log, started: worker.start() };
}

function localJob(agentName: string, metadata: Record<string, unknown>) {
  return buildJob({
    agentName,
    dispatchId: 'AD_test',
    roomName: `room-${agentName}`,
    roomSid: 'RM_test',
    metadata: JSON.stringify(metadata),
    roomMetadata: '',
    attributes: { 'openrtc.local': 'true' },
  });
}

describe('a job for an agent this worker does not run', () => {
  it('is rejected at availability with unknown_agent and its reason, counted, and never reaches admission', async () => {
    const server = await ScriptedServer.listen();
    closers.push(() => server.close());
    const { admission, rejections, decide, started } = startWorker(server.url);
    await started;
    const job = localJob('other', { tenant: 'acme' });
    server.send('healthy', { case: 'availability', value: new AvailabilityRequest({ job }) });
    await server.until(() => server.all('availability').length === 1, 'availability answer');
    const [answer] = server.all('availability');
    const message = 'no agent "other" on this worker (it runs "healthy", "long-call")';
    expect(answer).toMatchObject({ jobId: job.id, available: false });
    expect(answer!.participantAttributes).toMatchObject({
      'openrtc.reject_reason': 'unknown_agent',
      'openrtc.reject_message': message,
    });
    expect(rejections).toEqual([{ jobId: job.id, reason: 'unknown_agent', message }]);
    expect(admission.rejectedWithoutTenant().unknown_agent).toBe(1);
    expect(decide).not.toHaveBeenCalled();
    expect(admission.inUse()).toBe(0);
  });
});

describe('load reported to LiveKit', () => {
  it('sends the load it is given, and WS_FULL as soon as it says full, then available again', async () => {
    const dispatcher = await LocalDispatcher.start({ port: 0, ...KEY });
    closers.push(() => dispatcher.close());
    let report: LoadReport = {
      load: 0.42,
      full: false,
      measured: 0.42,
      threshold: 0.7,
      shares: { eventLoopUtilization: 0.42, loopDelay: 0.1, sessions: 0 },
    };
    const { worker, log, started } = startWorker(dispatcher.url, {
      load: { report: () => report },
    });
    await started;
    await expect
      .poll(() => dispatcher.workers().map((w) => [w.status, Math.round(w.load * 100) / 100]), {
        timeout: 10_000,
      })
      .toEqual([
        ['available', 0.42],
        ['available', 0.42],
      ]);
    report = { ...report, load: 0.81, measured: 0.81, full: true, reason: 'load' };
    await expect
      .poll(() => dispatcher.workers().map((w) => [w.status, Math.round(w.load * 100) / 100]), {
        timeout: 10_000,
      })
      .toEqual([
        ['full', 0.81],
        ['full', 0.81],
      ]);
    expect(worker.currentLoad()).toMatchObject({ full: true, reason: 'load' });
    expect((await dispatcher.dispatch({ agentName: 'healthy', metadata: '{}' })).status).toBe(
      'no_worker',
    );
    const fullLine = log
      .lines()
      .find((l) => l.msg === 'worker is full (load): LiveKit sends it no new jobs');
    expect(fullLine).toMatchObject({
      load: 0.81,
      threshold: 0.7,
      event_loop_utilization: 0.42,
      reason: 'load',
    });

    report = { load: 0.3, full: false, measured: 0.3, threshold: 0.7, shares: report.shares };
    await expect
      .poll(() => dispatcher.workers().every((w) => w.status === 'available'), { timeout: 10_000 })
      .toBe(true);
    expect((await dispatcher.dispatch({ agentName: 'healthy', metadata: '{}' })).status).toBe(
      'assigned',
    );
    expect(
      log.lines().some((l) => l.msg === 'worker is below capacity again: LiveKit may send it jobs'),
    ).toBe(true);
  });
});

describe('job updates produced while disconnected', () => {
  it('are queued, then sent after reconnecting: the latest status per job, one message per job', async () => {
    const first = await ScriptedServer.listen();
    const port = Number(new URL(first.url).port);
    const { worker, started } = startWorker(first.url);
    await started;
    const job = localJob('healthy', { tenant: 'acme', hold_ms: 1_500 });
    first.send('healthy', { case: 'availability', value: new AvailabilityRequest({ job }) });
    await first.until(() => first.all('availability').length === 1, 'accepted');
    expect(first.all('availability')[0]?.available).toBe(true);
    first.send('healthy', {
      case: 'assignment',
      value: new JobAssignment({ job, token: '', url: '' }),
    });
    await first.until(
      () => first.all('updateJob').some((u) => u.status === JobStatus.JS_RUNNING),
      'running reported',
    );

    // The server goes away while the call is up, and the call ends before it is back.
    const disconnected = once(worker, 'disconnected');
    await first.close();
    await disconnected;
    await expect.poll(() => worker.queuedJobUpdates(), { timeout: 15_000 }).toBe(1);

    const second = await ScriptedServer.listen(port);
    closers.push(() => second.close());
    await second.until(() => second.all('updateJob').length > 0, 'queued update delivered', 20_000);
    expect(second.all('updateJob').map((u) => [u.jobId, u.status])).toEqual([
      [job.id, JobStatus.JS_SUCCESS],
    ]);
    expect(worker.queuedJobUpdates()).toBe(0);
  });
});
