import { JobContext, type ipc, type JobProcess, type RunningJobInfo } from '@livekit/agents';
import { Room } from '@livekit/rtc-node';
import type { SessionStartRequest } from './types.js';

export type MediaMode = 'auto' | 'room' | 'none';

/** Job attribute a local dispatcher may set to say "there is no media server behind this job". */
export const LOCAL_JOB_ATTRIBUTE = 'openrtc.local';

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
      attributes: { tenant: req.tenant },
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
