import {
  JobContext,
  type ipc,
  type JobProcess,
  type RunningJobInfo,
  type voice,
} from '@livekit/agents';
import { AudioResampler, Room } from '@livekit/rtc-node';
import { LOCAL_JOB_ATTRIBUTE, TENANT_ATTRIBUTE } from '../protocol/attributes.js';
import type { SessionStartRequest } from './types.js';

export type MediaMode = 'auto' | 'room' | 'none';

/**
 * A job runs without media (agents-js "fake job": `ctx.connect()` and room operations are no-ops)
 * when the host is told so, or, in `auto`, when the assignment carries nothing to connect with.
 * A LiveKit server always sends a token and a room sid.
 */
export function isLocalJob(req: SessionStartRequest, media: MediaMode): boolean {
  if (media !== 'auto') return media === 'none';
  const flag = req.job.attributes[LOCAL_JOB_ATTRIBUTE];
  return (
    (flag !== undefined && flag !== '' && flag !== 'false' && flag !== '0') ||
    !req.token ||
    !req.job.room?.sid
  );
}

export interface JobContextHooks {
  onConnect(): void;
  onShutdown(reason: string): void;
}

export function buildJobContext(
  proc: JobProcess,
  req: SessionStartRequest,
  agentName: string,
  local: boolean,
  hooks: JobContextHooks,
  inference: ipc.InferenceExecutor,
): { ctx: JobContext; room: Room } {
  const info: RunningJobInfo = {
    acceptArguments: {
      name: agentName,
      identity: `agent-${req.job.id}`,
      metadata: '',
      attributes: { [TENANT_ATTRIBUTE]: req.tenant },
    },
    job: req.job,
    url: req.url,
    token: req.token,
    workerId: req.workerId,
    ...(req.apiKey !== undefined ? { apiKey: req.apiKey } : {}),
    ...(req.apiSecret !== undefined ? { apiSecret: req.apiSecret } : {}),
    fakeJob: local,
  };
  // Even a local job gets a Room: JobContext subscribes to its events, and it is inert until
  // connected.
  const room = new Room();
  const ctx = new JobContext(proc, info, room, hooks.onConnect, hooks.onShutdown, inference);
  return { ctx, room };
}

/**
 * rtc-node delivers every native event through one process-wide client, whose callbacks run in
 * the async context that was current when that client was created. Created inside a session (its
 * first `ctx.connect()`), it would hold that session's scope and JobContext for the life of the
 * worker and run every later native callback as that session. Touching it once from the worker's
 * own context, before the first room session enters its scope, keeps native callbacks out of
 * every session. Not at start: a worker that never hosts a room (local jobs, a failed start) then
 * never starts rtc-node's native runtime.
 */
let mediaClientStarted = false;
export function startMediaClientOutsideSessions(): void {
  if (mediaClientStarted) return;
  mediaClientStarted = true;
  new AudioResampler(48_000, 16_000, 1).close();
}

/**
 * A Room's events are emitted from inside that shared native callback, so the handlers the agent
 * and agents-js attach to `ctx.room` would otherwise run outside their own session: untagged log
 * lines, and `getJobContext()` answering for no job (or, worse, another). The room's private FFI
 * handler is wrapped, before `connect()` registers it, to run inside the session's scope.
 */
export function scopeRoomEvents(
  room: Room,
  inScope: <T>(fn: () => T) => T,
  onHandlerError: (err: unknown) => void,
): void {
  const internals = room as unknown as { onFfiEvent?: (event: unknown) => Promise<void> };
  const handler = internals.onFfiEvent;
  if (typeof handler !== 'function')
    throw new Error(
      '@livekit/rtc-node Room has no onFfiEvent: this rtc-node version is not supported',
    );
  // rtc-node ignores the promise its handler returns: a failure in it (or in a room event
  // handler it runs) would be an unhandled rejection, failing the call it happened in. It is
  // logged in the session's scope instead, as stock's job process would only log it.
  internals.onFfiEvent = (event) =>
    inScope(() => handler(event).catch((err: unknown) => onHandlerError(err)));
}

/*
 * agents-js private fields. In-process hosting needs three things stock keeps private: the job's
 * primary AgentSession (to see it close), whether it started, and the session report stock writes
 * when a job ends. They are touched only here, so an agents-js upgrade is checked in one file.
 */

/** The AgentSession the agent started on this job, if any. */
export function primaryAgentSession(ctx: JobContext): voice.AgentSession | undefined {
  return ctx._primaryAgentSession;
}

/**
 * Calls `onSession` each time agents-js records a new primary AgentSession on the context (when the
 * agent starts it), so the host sees it close even while the entry is still running.
 */
export function watchPrimaryAgentSession(
  ctx: JobContext,
  onSession: (session: voice.AgentSession) => void,
): void {
  let current: voice.AgentSession | undefined = ctx._primaryAgentSession;
  Object.defineProperty(ctx, '_primaryAgentSession', {
    configurable: true,
    enumerable: true,
    get: () => current,
    set: (value: voice.AgentSession | undefined) => {
      if (value && value !== current) onSession(value);
      current = value;
    },
  });
}

export function agentSessionStarted(session: voice.AgentSession): boolean {
  return session._started;
}

/** Writes the job's session report, as stock does when a job with an AgentSession ends. */
export function reportSessionEnd(ctx: JobContext): ReturnType<JobContext['_onSessionEnd']> {
  return ctx._onSessionEnd();
}
