import { AccessToken } from 'livekit-server-sdk';
import {
  Job,
  JobState as ProtoJobState,
  JobStatus,
  JobType,
  type ParticipantPermission,
  Room,
} from '@livekit/protocol';
import { newId } from './ids.js';
import type { JobRecord, JobState } from './types.js';

export function buildJob(opts: {
  agentName: string;
  dispatchId: string;
  roomName: string;
  roomSid: string;
  metadata: string;
  roomMetadata: string;
  attributes: Record<string, string>;
}): Job {
  const nowSec = BigInt(Math.floor(Date.now() / 1000));
  return new Job({
    id: newId('AJ_'),
    dispatchId: opts.dispatchId,
    type: JobType.JT_ROOM,
    room: new Room({
      sid: opts.roomSid,
      name: opts.roomName,
      metadata: opts.roomMetadata,
      creationTime: nowSec,
      creationTimeMs: BigInt(Date.now()),
      emptyTimeout: 300,
      departureTimeout: 20,
    }),
    namespace: '',
    agentName: opts.agentName,
    metadata: opts.metadata,
    attributes: opts.attributes,
  });
}

const STATUS: Record<JobState, JobStatus> = {
  pending: JobStatus.JS_PENDING,
  running: JobStatus.JS_RUNNING,
  success: JobStatus.JS_SUCCESS,
  failed: JobStatus.JS_FAILED,
};

export function jobStateName(status: JobStatus): JobState {
  switch (status) {
    case JobStatus.JS_RUNNING:
      return 'running';
    case JobStatus.JS_SUCCESS:
      return 'success';
    case JobStatus.JS_FAILED:
      return 'failed';
    default:
      return 'pending';
  }
}

const ns = (ms: number | undefined): bigint =>
  ms === undefined ? 0n : BigInt(Math.round(ms)) * 1_000_000n;

/** The job as the dispatch API reports it: the original job with its current state. */
export function jobWithState(job: Job, rec: JobRecord): Job {
  const copy = job.clone();
  copy.state = new ProtoJobState({
    status: STATUS[rec.state],
    error: rec.error,
    startedAt: ns(rec.startedAt),
    endedAt: ns(rec.endedAt),
    updatedAt: ns(rec.updatedAt),
    participantIdentity: rec.participantIdentity ?? '',
    workerId: rec.workerId ?? '',
  });
  return copy;
}

/** What LiveKit grants a worker that registers without `allowedPermissions`. */
export const DEFAULT_AGENT_PERMISSIONS = {
  canSubscribe: true,
  canPublish: true,
  canPublishData: true,
  canUpdateMetadata: true,
  hidden: false,
  canSubscribeMetrics: false,
} as const;

type Permissions = Pick<ParticipantPermission, keyof typeof DEFAULT_AGENT_PERMISSIONS>;

/**
 * The token the agent joins the room with, as LiveKit mints it for an accepted job
 * (`BuildAgentToken`): an agent-kind participant, valid for an hour, with the permissions the
 * worker registered with.
 */
export async function participantToken(opts: {
  apiKey: string;
  apiSecret: string;
  roomName: string;
  identity: string;
  name: string;
  metadata: string;
  attributes: Record<string, string>;
  permissions: Permissions;
}): Promise<string> {
  const at = new AccessToken(opts.apiKey, opts.apiSecret, {
    identity: opts.identity,
    name: opts.name,
    metadata: opts.metadata,
    attributes: opts.attributes,
    ttl: '1h',
  });
  at.kind = 'agent';
  const p = opts.permissions;
  at.addGrant({
    room: opts.roomName,
    roomJoin: true,
    agent: true,
    canPublish: p.canPublish,
    canSubscribe: p.canSubscribe,
    canPublishData: p.canPublishData,
    canUpdateOwnMetadata: p.canUpdateMetadata,
    canSubscribeMetrics: p.canSubscribeMetrics,
    ...(p.hidden ? { hidden: true } : {}),
  });
  return at.toJwt();
}

/**
 * The job's state as LiveKit puts it on the availability request and the assignment: running on
 * this worker from the moment it is offered, with the participant identity once accepted.
 */
export function offeredJob(job: Job, workerId: string, participantIdentity = ''): Job {
  const copy = job.clone();
  const now = BigInt(Date.now()) * 1_000_000n;
  copy.state = new ProtoJobState({
    status: JobStatus.JS_RUNNING,
    workerId,
    startedAt: now,
    updatedAt: now,
    participantIdentity,
  });
  return copy;
}
