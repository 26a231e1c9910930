import { randomBytes } from 'node:crypto';
import {
  JobStatus,
  JobType,
  ParticipantPermission,
  RegisterWorkerRequest,
  type Job,
  type ServerMessage,
} from '@livekit/protocol';
import { AgentDispatchClient, TokenVerifier } from 'livekit-server-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalDispatcher } from '../../src/dispatcher/local-dispatcher.js';
import { agentToken, RawWorker } from '../dispatcher/raw-worker.js';
import { sharedLivekit } from '../support/livekit/provided.js';

/**
 * The local dispatcher stands in for LiveKit in `openrtc dev` and in most tests, so it must treat
 * a worker as LiveKit does. The same scenario runs against the real server and against the local
 * dispatcher, driven through the same dispatch API, and the worker must see the same messages.
 */
const lk = sharedLivekit();

interface Target {
  url: string;
  httpUrl: string;
  apiKey: string;
  apiSecret: string;
}

type Seen = Record<string, unknown>;

async function scenario(target: Target): Promise<Seen[]> {
  const agentName = `faithful-${randomBytes(3).toString('hex')}`;
  const worker = await RawWorker.connect(
    target.url,
    await agentToken(target.apiKey, target.apiSecret),
  );
  const verifier = new TokenVerifier(target.apiKey, target.apiSecret);
  const api = new AgentDispatchClient(target.httpUrl, target.apiKey, target.apiSecret);
  const seen: Seen[] = [];
  try {
    worker.send({
      case: 'register',
      value: new RegisterWorkerRequest({
        type: JobType.JT_ROOM,
        agentName,
        version: 'faithful',
        allowedPermissions: new ParticipantPermission({
          canPublish: true,
          canSubscribe: true,
          canPublishData: true,
          canUpdateMetadata: true,
          agent: true,
        }),
      }),
    });
    const reg = await worker.next('register', 10_000);
    const workerId = reg.workerId;
    seen.push({
      case: 'register',
      workerIdPrefix: workerId.slice(0, 3),
      agentProtocol: reg.serverInfo?.agentProtocol,
    });

    worker.ping(42n);
    const pong = await worker.next('pong', 10_000);
    seen.push({ case: 'pong', lastTimestamp: pong.lastTimestamp });

    const tag = randomBytes(3).toString('hex');
    const roomA = `faithful-a-${tag}`;
    const dispatchA = await api.createDispatch(roomA, agentName, { metadata: '{"tenant":"acme"}' });
    const availA = await worker.next('availability', 15_000);
    const jobA = availA.job!;
    seen.push(
      describeJob('availability', jobA, { workerId, dispatchId: dispatchA.id, room: roomA }),
    );
    const identity = `agent-${jobA.id}`;
    worker.accept(jobA.id, identity, { tenant: 'acme' });
    const asg = await worker.next('assignment', 15_000);
    const claims = await verifier.verify(asg.token);
    seen.push({
      ...describeJob('assignment', asg.job!, { workerId, dispatchId: dispatchA.id, room: roomA }),
      sameJob: asg.job!.id === jobA.id,
      url: asg.url,
      token: {
        identity: claims.sub === identity,
        kind: claims.kind,
        attributes: {
          ...claims.attributes,
          'lk.agent_name': claims.attributes?.['lk.agent_name'] === agentName,
        },
        video: { ...claims.video, room: claims.video?.room === roomA },
      },
    });
    worker.updateJob(jobA.id, JobStatus.JS_RUNNING);

    const roomB = `faithful-b-${tag}`;
    const dispatchB = await api.createDispatch(roomB, agentName, {
      metadata: '{"tenant":"bad tenant!"}',
    });
    const availB = await worker.next('availability', 15_000);
    seen.push(
      describeJob('availability', availB.job!, { workerId, dispatchId: dispatchB.id, room: roomB }),
    );
    worker.reject(availB.job!.id);

    await api.deleteDispatch(dispatchA.id, roomA);
    const term = await worker.next('termination', 15_000);
    seen.push({ case: 'termination', sameJob: term.jobId === jobA.id });
    worker.updateJob(jobA.id, JobStatus.JS_SUCCESS);

    // Nothing else comes: no second offer of the rejected job, no assignment for it.
    await new Promise((r) => setTimeout(r, 1_500));
    const rest = worker.received.filter((m: ServerMessage) => m.message.case !== 'pong').slice(5);
    seen.push({ after: rest.map((m) => m.message.case) });
    return seen;
  } finally {
    await worker.close();
  }
}

function describeJob(
  kind: string,
  job: Job,
  ctx: { workerId: string; dispatchId: string; room: string },
): Seen {
  return {
    case: kind,
    jobIdPrefix: String(job.id).slice(0, 3),
    type: job.type,
    agentName: Boolean(job.agentName),
    metadata: job.metadata,
    dispatchId: job.dispatchId === ctx.dispatchId,
    room: { name: job.room?.name === ctx.room, sid: String(job.room?.sid ?? '').slice(0, 3) },
    state: job.state
      ? {
          status: job.state.status,
          workerId: job.state.workerId === ctx.workerId,
          identity:
            job.state.participantIdentity && job.state.participantIdentity === `agent-${job.id}`
              ? 'agent-<job id>'
              : job.state.participantIdentity,
        }
      : undefined,
  };
}

describe.skipIf(!lk)('the local dispatcher is faithful to LiveKit', () => {
  let local: LocalDispatcher;
  beforeAll(async () => {
    local = await LocalDispatcher.start({
      port: 0,
      apiKey: 'faithful',
      apiSecret: 'faithful-secret-long-enough-00000000',
    });
  });
  afterAll(async () => {
    await local?.close();
  });

  it('gives a worker the same messages for register, accept, reject, assignment, termination and updateJob', async () => {
    const server = lk!.server;
    const real = await scenario(server);
    const ours = await scenario({
      url: local.url,
      httpUrl: local.url.replace(/^ws/, 'http'),
      apiKey: 'faithful',
      apiSecret: 'faithful-secret-long-enough-00000000',
    });
    expect(ours).toEqual(real);
  }, 90_000);
});
