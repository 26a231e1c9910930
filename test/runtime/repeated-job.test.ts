import { JobStatus, JobTermination } from '@livekit/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { rawJob } from '../support/raw-agent-server.js';
import { fixtureAgent, startOnRawServer, type RuntimeRig } from '../support/runtime-rig.js';

let rig: RuntimeRig | undefined;
afterEach(async () => {
  await rig?.stop();
  rig = undefined;
});

describe('a job id the server sends twice', () => {
  it('holds one reservation and reports one lifecycle: no JS_FAILED for a running job', async () => {
    const r = await startOnRawServer(
      `agents: { demo: ${JSON.stringify(fixtureAgent('long-call-agent'))} }, tenants: { maxSessions: { acme: 2 } }`,
    );
    rig = r;
    const s = r.server;
    const job = rawJob('AJ_twice', 'demo', JSON.stringify({ tenant: 'acme' }));
    const acme = () => r.runtime.admission.tenantStat('acme')!;

    // Two availability requests before either is answered.
    s.availability(job);
    s.availability(job);
    await expect.poll(() => s.messages('availability').length).toBe(2);
    expect(s.messages('availability').map((a) => a.available)).toEqual([true, true]);
    expect(r.runtime.admission.inUse()).toBe(1);
    expect(acme()).toMatchObject({ reserved: 1, accepted: 1 });

    s.assign(job);
    await s.next('updateJob', (u) => u.jobId === job.id && u.status === JobStatus.JS_RUNNING);
    s.assign(job);
    s.availability(job);
    await expect.poll(() => s.messages('availability').length).toBe(3);
    expect(s.messages('availability')[2]?.available).toBe(true);
    expect(acme()).toMatchObject({ live: 1, reserved: 0, accepted: 1, started: 1 });
    expect(r.runtime.admission.inUse()).toBe(1);

    s.send({ case: 'termination', value: new JobTermination({ jobId: job.id }) });
    await s.next('updateJob', (u) => u.jobId === job.id && u.status === JobStatus.JS_SUCCESS);
    const statuses = s
      .messages('updateJob')
      .filter((u) => u.jobId === job.id)
      .map((u) => JobStatus[u.status]);
    expect(statuses).not.toContain('JS_FAILED');
    expect(statuses.at(-1)).toBe('JS_SUCCESS');
    expect(
      r.log.lines().some((l) => l.msg === 'assignment for a job that is already running; ignored'),
    ).toBe(true);
    await expect.poll(() => r.runtime.admission.inUse()).toBe(0);
    expect(acme()).toMatchObject({ live: 0, reserved: 0, succeeded: 1 });
  }, 60_000);
});
