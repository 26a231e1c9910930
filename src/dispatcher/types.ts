import type { Logger } from 'pino';

export interface LocalDispatcherOptions {
  /** Interface to bind; defaults to 127.0.0.1 (the dispatcher is for one machine). */
  host?: string;
  /** 0 picks an ephemeral port. */
  port?: number;
  apiKey: string;
  apiSecret: string;
  /** How long a worker may take to answer an availability request (LiveKit: 10 s). */
  availabilityTimeoutMs?: number;
  /** LiveKit's `agents.target_load`: no job is offered while no available worker is under it. */
  targetLoad?: number;
  /** Source of the weighted choice of worker, in [0, 1); tests inject a seeded one. */
  random?: () => number;
  logger?: Logger;
}

export interface DispatchRequest {
  agentName: string;
  metadata?: string;
  roomName?: string;
  roomMetadata?: string;
  attributes?: Record<string, string>;
  /** Set by the Twirp endpoint so a job is listed under its dispatch; fresh id otherwise. */
  dispatchId?: string;
}

export type DispatchOutcome =
  | {
      jobId: string;
      status: 'assigned';
      workerId: string;
      participantIdentity: string;
      participantAttributes: Record<string, string>;
    }
  | {
      jobId: string;
      status: 'rejected' | 'no_worker' | 'timeout';
      message: string;
      /** Rejection code a worker put in its answer's participant attributes, if any. */
      reason?: string;
    };

/** One worker's answer to one availability request, as the dispatcher received it. */
export interface AvailabilityAnswered {
  jobId: string;
  workerId: string;
  available: boolean;
  /** From just before the request was encoded and written to the worker's socket until its answer was decoded. */
  latencyMs: number;
}

export type JobState = 'pending' | 'running' | 'success' | 'failed';

export interface JobRecord {
  jobId: string;
  dispatchId: string;
  agentName: string;
  roomName: string;
  metadata: string;
  state: JobState;
  error: string;
  workerId?: string;
  participantIdentity?: string;
  /** Outcome of the availability round, once known. */
  outcome?: DispatchOutcome;
  createdAt: number;
  updatedAt: number;
  startedAt?: number;
  endedAt?: number;
}

export type WorkerStatusName = 'available' | 'full';

export interface WorkerRecord {
  workerId: string;
  agentName: string;
  namespace: string;
  version: string;
  status: WorkerStatusName;
  load: number;
  /** Ids of jobs assigned to this worker that have not ended. */
  jobs: string[];
  registeredAt: number;
}
