import type { Job } from '@livekit/protocol';
import type { Reservation, SessionOutcome } from '../admission/types.js';
import type { TenantConfig } from '../tenancy/types.js';

/** Default of `shutdownGraceMs`: how long a session asked to end may take to wind down. */
export const DEFAULT_SHUTDOWN_GRACE_MS = 5_000;

/** Default of `roomReconnectTimeoutMs`: how long a session's room may stay without its connection. */
export const DEFAULT_ROOM_RECONNECT_TIMEOUT_MS = 60_000;

/** Everything the session host needs to run one assigned job. */
export interface SessionStartRequest {
  job: Job;
  /** Media server URL for `ctx.connect()`; empty for local jobs. */
  url: string;
  /** Participant token from the assignment; empty for local jobs. */
  token: string;
  workerId: string;
  tenant: string;
  reservation: Reservation;
  config: TenantConfig | undefined;
  apiKey?: string;
  apiSecret?: string;
}

export interface SessionStartedEvent {
  sessionId: string;
  jobId: string;
  tenant: string;
  agent: string;
}

export interface SessionEndedEvent extends SessionStartedEvent {
  outcome: SessionOutcome;
  /** Secret-free detail of a failure (error name and message, truncated). */
  error?: string;
  durationMs: number;
}

/** The outcome is known and the agent is about to leave its room. */
export interface SessionEndingEvent extends SessionStartedEvent {
  outcome: SessionOutcome;
  error?: string;
}

export interface SessionListener {
  started?(event: SessionStartedEvent): void;
  /**
   * Before the agent leaves the room: LiveKit records a job whose agent leaves before the job
   * reports its end as failed ("agent worker left the room"), so the final job status goes out here;
   * the agent leaves once the returned promise settles (bounded by the shutdown grace).
   */
  ending?(event: SessionEndingEvent): void | Promise<void>;
  ended?(event: SessionEndedEvent): void;
}

/** What the worker host needs from the session host. */
export interface SessionsPort {
  start(req: SessionStartRequest): Promise<void>;
  /** Ends a session; its teardown is over by `deadline` (epoch ms) when one is given. */
  terminate(jobId: string, reason?: string, deadline?: number): Promise<void>;
  closeAll(reason: string, deadline?: number): Promise<void>;
  /** Job ids of sessions that have not finished tearing down (the host is keyed by job id). */
  liveJobIds(): string[];
  subscribe(listener: SessionListener): () => void;
}
