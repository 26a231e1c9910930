import {
  type AvailabilityResponse,
  type Job,
  JobAssignment,
  JobTermination,
  JobType,
  RegisterWorkerResponse,
  ServerInfo,
  ServerInfo_Edition,
  ServerMessage,
  type UpdateJobStatus,
  WorkerMessage,
  type ParticipantPermission,
  WorkerPong,
  WorkerStatus,
  AvailabilityRequest,
} from '@livekit/protocol';
import type { Logger } from 'pino';
import { WebSocket, type RawData } from 'ws';
import { DEFAULT_AGENT_PERMISSIONS, offeredJob } from './job-builder.js';
import type { WorkerRecord } from './types.js';

/** LiveKit closes a socket that has not registered within this time. */
export const REGISTER_TIMEOUT_MS = 10_000;

export type AvailabilityAnswer =
  /** `latencyMs`: from just before the request was encoded and written until its answer was decoded. */
  | { kind: 'answer'; response: AvailabilityResponse; latencyMs: number }
  | { kind: 'timeout' }
  | { kind: 'closed' };

export interface WorkerSessionHooks {
  onRegistered(session: WorkerSession): void;
  onUpdateJob(session: WorkerSession, update: UpdateJobStatus): void;
  onClosed(session: WorkerSession): void;
}

const SERVER_INFO = new ServerInfo({
  edition: ServerInfo_Edition.Standard,
  version: 'openrtc-local',
  protocol: 16,
  agentProtocol: 1,
  nodeId: 'local',
  region: 'local',
});

function toBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return data;
}

/** The server side of one worker's socket: registration, pings, availability round trips. */
export class WorkerSession {
  readonly workerId: string;
  registered = false;
  agentName = '';
  namespace = '';
  version = '';
  jobType: JobType = JobType.JT_ROOM;
  /** What the worker asked its participants to be allowed; LiveKit's defaults when it asked nothing. */
  permissions: Pick<ParticipantPermission, keyof typeof DEFAULT_AGENT_PERMISSIONS> = {
    ...DEFAULT_AGENT_PERMISSIONS,
  };
  status: WorkerStatus = WorkerStatus.WS_AVAILABLE;
  load = 0;
  readonly jobs = new Set<string>();
  readonly registeredAt = Date.now();

  readonly #ws: WebSocket;
  readonly #hooks: WorkerSessionHooks;
  readonly #logger: Logger;
  readonly #pending = new Map<
    string,
    { sentAt: number; settle: (a: AvailabilityAnswer) => void }
  >();
  readonly #registerTimer: NodeJS.Timeout;
  #closed = false;

  constructor(ws: WebSocket, workerId: string, hooks: WorkerSessionHooks, logger: Logger) {
    this.#ws = ws;
    this.workerId = workerId;
    this.#hooks = hooks;
    this.#logger = logger.child({ worker_id: workerId });
    this.#registerTimer = setTimeout(() => {
      if (!this.registered) {
        this.#logger.warn('worker did not register in time; closing');
        ws.close(1008, 'register timeout');
      }
    }, REGISTER_TIMEOUT_MS);
    ws.on('message', (data, isBinary) => this.#onMessage(data, isBinary));
    ws.on('close', () => this.#onClose());
    ws.on('error', (err) => this.#logger.debug({ err: err.message }, 'worker socket error'));
  }

  get closed(): boolean {
    return this.#closed;
  }

  record(): WorkerRecord {
    return {
      workerId: this.workerId,
      agentName: this.agentName,
      namespace: this.namespace,
      version: this.version,
      status: this.status === WorkerStatus.WS_FULL ? 'full' : 'available',
      load: this.load,
      jobs: [...this.jobs],
      registeredAt: this.registeredAt,
    };
  }

  /** Asks whether the worker takes `job`; settles on the answer, after `timeoutMs`, or on close. */
  requestAvailability(job: Job, timeoutMs: number): Promise<AvailabilityAnswer> {
    if (this.#closed) return Promise.resolve({ kind: 'closed' });
    return new Promise((resolve) => {
      const timer = setTimeout(() => settle({ kind: 'timeout' }), timeoutMs);
      const settle = (a: AvailabilityAnswer) => {
        clearTimeout(timer);
        this.#pending.delete(job.id);
        resolve(a);
      };
      this.#pending.set(job.id, { sentAt: performance.now(), settle });
      this.#send(
        new ServerMessage({
          message: {
            case: 'availability',
            value: new AvailabilityRequest({ job: offeredJob(job, this.workerId) }),
          },
        }),
      );
    });
  }

  /** Like LiveKit, no URL: the worker joins the server it registered with. */
  assign(job: Job, token: string, participantIdentity: string): void {
    this.jobs.add(job.id);
    this.#send(
      new ServerMessage({
        message: {
          case: 'assignment',
          value: new JobAssignment({
            job: offeredJob(job, this.workerId, participantIdentity),
            token,
          }),
        },
      }),
    );
  }

  terminate(jobId: string): void {
    this.#send(
      new ServerMessage({ message: { case: 'termination', value: new JobTermination({ jobId }) } }),
    );
  }

  close(code = 1001, reason = 'dispatcher closing'): void {
    if (this.#ws.readyState === WebSocket.OPEN || this.#ws.readyState === WebSocket.CONNECTING)
      this.#ws.close(code, reason);
  }

  #send(msg: ServerMessage): void {
    if (this.#ws.readyState !== WebSocket.OPEN) return;
    this.#ws.send(msg.toBinary());
  }

  #onMessage(data: RawData, isBinary: boolean): void {
    if (!isBinary) {
      this.#logger.debug('ignoring a text frame from a worker');
      return;
    }
    let msg: WorkerMessage;
    try {
      msg = WorkerMessage.fromBinary(toBytes(data));
    } catch {
      this.#logger.warn('undecodable frame from a worker');
      return;
    }
    const m = msg.message;
    // LiveKit accepts only register and ping before registration.
    if (!this.registered && m.case !== 'register' && m.case !== 'ping') {
      this.#logger.warn({ message: m.case }, 'message before register; ignored');
      return;
    }
    switch (m.case) {
      case 'register': {
        if (this.registered) return;
        this.registered = true;
        clearTimeout(this.#registerTimer);
        this.agentName = m.value.agentName;
        this.namespace = m.value.namespace ?? '';
        this.version = m.value.version;
        this.jobType = m.value.type;
        const asked = m.value.allowedPermissions;
        if (asked) {
          this.permissions = {
            canSubscribe: asked.canSubscribe,
            canPublish: asked.canPublish,
            canPublishData: asked.canPublishData,
            canUpdateMetadata: asked.canUpdateMetadata,
            hidden: asked.hidden,
            canSubscribeMetrics: asked.canSubscribeMetrics,
          };
        }
        this.#send(
          new ServerMessage({
            message: {
              case: 'register',
              value: new RegisterWorkerResponse({
                workerId: this.workerId,
                serverInfo: SERVER_INFO,
              }),
            },
          }),
        );
        this.#hooks.onRegistered(this);
        return;
      }
      case 'ping':
        this.#send(
          new ServerMessage({
            message: {
              case: 'pong',
              value: new WorkerPong({
                lastTimestamp: m.value.timestamp,
                timestamp: BigInt(Date.now()),
              }),
            },
          }),
        );
        return;
      case 'availability': {
        const pending = this.#pending.get(m.value.jobId);
        if (!pending) {
          this.#logger.debug(
            { job_id: m.value.jobId },
            'availability answer for no pending request',
          );
          return;
        }
        pending.settle({
          kind: 'answer',
          response: m.value,
          latencyMs: performance.now() - pending.sentAt,
        });
        return;
      }
      case 'updateWorker':
        if (m.value.status !== undefined) this.status = m.value.status;
        this.load = m.value.load;
        return;
      case 'updateJob':
        this.#hooks.onUpdateJob(this, m.value);
        return;
      default:
        // migrateJob, simulateJob: not needed by a local dispatcher.
        return;
    }
  }

  #onClose(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#registerTimer);
    for (const { settle } of [...this.#pending.values()]) settle({ kind: 'closed' });
    this.#hooks.onClosed(this);
  }
}
