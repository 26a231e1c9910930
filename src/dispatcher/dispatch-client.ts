import { JobStatus } from '@livekit/protocol';
import type { AgentDispatch } from '@livekit/protocol';
import { AgentDispatchClient } from 'livekit-server-sdk';
import { randomBytes } from 'node:crypto';

export interface DispatchJobsOptions {
  /** LiveKit or local dispatcher URL, http(s) or ws(s). */
  url: string;
  apiKey: string;
  apiSecret: string;
  agentName: string;
  /** Written into the metadata JSON under `tenant`. */
  tenant?: string;
  metadata?: Record<string, unknown>;
  count: number;
  /** Rooms are named `${roomPrefix}-${random}-${index}`. */
  roomPrefix?: string;
  /** How long to wait for each job's state before reporting it pending. */
  waitMs?: number;
  /** Poll period while waiting. */
  pollMs?: number;
}

/**
 * `unassigned`: the dispatch never got a job. That is how LiveKit answers a job that every worker
 * rejected (or that no worker could take): it keeps the dispatch and records no job, and says
 * nothing about why. The local dispatcher records the rejection, with its reason, instead.
 */
export type DispatchResultStatus = 'accepted' | 'rejected' | 'unassigned' | 'pending' | 'failed';

export interface DispatchResult {
  index: number;
  room: string;
  dispatchId: string;
  jobId?: string;
  status: DispatchResultStatus;
  reason?: string;
  message?: string;
}

const REJECTED = /^rejected: (?:([a-z][a-z0-9_]*): )?([\s\S]*)$/;

/** Reads one dispatch's first job into a result; undefined while the job is still undecided. */
export function interpretDispatch(
  d: AgentDispatch | undefined,
): Omit<DispatchResult, 'index' | 'room' | 'dispatchId'> | undefined {
  const job = d?.state?.jobs[0];
  if (!job) return undefined;
  const state = job.state;
  const status = state?.status ?? JobStatus.JS_PENDING;
  if (status === JobStatus.JS_RUNNING || status === JobStatus.JS_SUCCESS)
    return { jobId: job.id, status: 'accepted' };
  if (status === JobStatus.JS_FAILED) {
    const error = state?.error ?? '';
    const m = REJECTED.exec(error);
    if (m)
      return {
        jobId: job.id,
        status: 'rejected',
        ...(m[1] ? { reason: m[1] } : {}),
        message: m[2] ?? '',
      };
    // A job that ran and failed was still accepted first, but the caller needs to see the failure.
    return { jobId: job.id, status: 'failed', ...(error ? { message: error } : {}) };
  }
  return undefined;
}

/**
 * Creates `count` dispatches through the server SDK (so the same code speaks to LiveKit and to the
 * local dispatcher) and polls each until its job has a state or `waitMs` passes.
 */
export async function dispatchJobs(opts: DispatchJobsOptions): Promise<DispatchResult[]> {
  const host = opts.url.replace(/^ws(s?):\/\//, 'http$1://');
  const client = new AgentDispatchClient(host, opts.apiKey, opts.apiSecret);
  const metadata = JSON.stringify({
    ...opts.metadata,
    ...(opts.tenant !== undefined ? { tenant: opts.tenant } : {}),
  });
  const prefix = opts.roomPrefix ?? 'openrtc';
  const batch = randomBytes(3).toString('hex');
  const waitMs = opts.waitMs ?? 15_000;
  const pollMs = opts.pollMs ?? 100;

  const created = await Promise.all(
    Array.from({ length: opts.count }, async (_, index) => {
      const room = `${prefix}-${batch}-${index + 1}`;
      const d = await client.createDispatch(room, opts.agentName, { metadata });
      return { index, room, dispatch: d };
    }),
  );

  const deadline = Date.now() + waitMs;
  return Promise.all(
    created.map(async ({ index, room, dispatch }): Promise<DispatchResult> => {
      const base = { index, room, dispatchId: dispatch.id };
      let known = interpretDispatch(dispatch);
      let lastJobId = dispatch.state?.jobs[0]?.id;
      while (!known && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, pollMs));
        const current = await client.getDispatch(dispatch.id, room);
        lastJobId = current?.state?.jobs[0]?.id ?? lastJobId;
        known = interpretDispatch(current);
      }
      if (known) return { ...base, ...known };
      if (!lastJobId) {
        return {
          ...base,
          status: 'unassigned',
          message: `no worker took the job within ${waitMs} ms; LiveKit records no job and no reason for a job every worker rejected (the worker's log and \`openrtc tenant show\` say why)`,
        };
      }
      return {
        ...base,
        jobId: lastJobId,
        status: 'pending',
        message: `no answer within ${waitMs} ms`,
      };
    }),
  );
}
