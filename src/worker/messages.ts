import {
  AvailabilityResponse,
  JobStatus,
  JobType,
  ParticipantPermission,
  RegisterWorkerRequest,
  ServerMessage,
  UpdateJobStatus,
  UpdateWorkerStatus,
  WorkerMessage,
  WorkerPing,
  WorkerStatus,
} from '@livekit/protocol';
import type { RejectReason } from '../admission/reasons.js';
import {
  AGENT_NAME_ATTRIBUTE,
  REJECT_MESSAGE_ATTRIBUTE,
  REJECT_REASON_ATTRIBUTE,
  TENANT_ATTRIBUTE,
} from '../protocol/attributes.js';

export function registerMessage(opts: {
  agentName: string;
  version: string;
  namespace?: string;
}): WorkerMessage {
  return new WorkerMessage({
    message: {
      case: 'register',
      value: new RegisterWorkerRequest({
        type: JobType.JT_ROOM,
        agentName: opts.agentName,
        version: opts.version,
        ...(opts.namespace !== undefined ? { namespace: opts.namespace } : {}),
        allowedPermissions: new ParticipantPermission({
          canPublish: true,
          canSubscribe: true,
          canPublishData: true,
          canUpdateMetadata: true,
          agent: true,
        }),
      }),
    },
  });
}

export function acceptMessage(jobId: string, agentName: string, tenant: string): WorkerMessage {
  return new WorkerMessage({
    message: {
      case: 'availability',
      value: new AvailabilityResponse({
        jobId,
        available: true,
        participantIdentity: `agent-${jobId}`,
        participantName: agentName,
        participantAttributes: { [TENANT_ATTRIBUTE]: tenant, [AGENT_NAME_ATTRIBUTE]: agentName },
      }),
    },
  });
}

export function rejectMessage(jobId: string, reason: RejectReason, message: string): WorkerMessage {
  return new WorkerMessage({
    message: {
      case: 'availability',
      value: new AvailabilityResponse({
        jobId,
        available: false,
        participantAttributes: {
          [REJECT_REASON_ATTRIBUTE]: reason,
          [REJECT_MESSAGE_ATTRIBUTE]: message,
        },
      }),
    },
  });
}

export function updateWorkerMessage(
  status: WorkerStatus,
  load: number,
  jobCount: number,
): WorkerMessage {
  return new WorkerMessage({
    message: { case: 'updateWorker', value: new UpdateWorkerStatus({ status, load, jobCount }) },
  });
}

export function updateJobMessage(jobId: string, status: JobStatus, error = ''): WorkerMessage {
  return new WorkerMessage({
    message: { case: 'updateJob', value: new UpdateJobStatus({ jobId, status, error }) },
  });
}

export function pingMessage(now: number): WorkerMessage {
  return new WorkerMessage({
    message: { case: 'ping', value: new WorkerPing({ timestamp: BigInt(Math.round(now)) }) },
  });
}

/** Decodes one binary frame; returns undefined for anything that is not a ServerMessage. */
export function parseServerMessage(data: Uint8Array): ServerMessage | undefined {
  try {
    return ServerMessage.fromBinary(data);
  } catch {
    return undefined;
  }
}

export { JobStatus, WorkerStatus };
