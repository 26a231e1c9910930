import type { Logger } from 'pino';
import { participantToken } from './job-builder.js';
import type { JobEntry, JobStore } from './job-store.js';
import { REJECT_MESSAGE_ATTRIBUTE, REJECT_REASON_ATTRIBUTE } from '../protocol/attributes.js';
import type { AvailabilityAnswered, DispatchOutcome } from './types.js';
import { hasAffinity, pickWeightedByLoad } from './worker-selection.js';
import type { WorkerSession } from './worker-session.js';

export interface OfferDeps {
  /** Registered, open, `WS_AVAILABLE` room workers for the agent name, as they are right now. */
  available(agentName: string): WorkerSession[];
  /** Whether any worker at all registered for the agent name (for the no-worker message). */
  registered(agentName: string): boolean;
  jobs: JobStore;
  apiKey: string;
  apiSecret: string;
  availabilityTimeoutMs: number;
  targetLoad: number;
  random: () => number;
  logger: Logger;
  onAnswered(a: AvailabilityAnswered): void;
}

/**
 * LiveKit's `JobRequest` loop: offer the job to a worker picked at random weighted by `1 - load`;
 * after a rejection (or a closed socket) try another one not yet asked; stop at the first accept,
 * at a timeout (LiveKit does not retry those), or when nobody is left.
 */
export async function offerJob(entry: JobEntry, deps: OfferDeps): Promise<DispatchOutcome> {
  const { job } = entry;
  const jobId = job.id;
  const { jobs, logger } = deps;
  const tried = new Set<string>();
  let lastReject: { reason?: string; message: string } | undefined;
  let timedOut = false;
  // The node-level bid comes first: no worker under the target load, no offer at all.
  const gate = hasAffinity(deps.available(job.agentName), deps.targetLoad);
  while (gate) {
    const pool = deps.available(job.agentName).filter((w) => !tried.has(w.workerId));
    const worker = pickWeightedByLoad(pool, deps.random);
    if (!worker) break;
    tried.add(worker.workerId);
    const answer = await worker.requestAvailability(job, deps.availabilityTimeoutMs);
    if (answer.kind === 'timeout') {
      timedOut = true;
      logger.warn({ job_id: jobId, worker_id: worker.workerId }, 'availability request timed out');
      break;
    }
    if (answer.kind === 'closed') continue;
    const res = answer.response;
    deps.onAnswered({
      jobId,
      workerId: worker.workerId,
      available: res.available,
      latencyMs: answer.latencyMs,
    });
    if (res.terminate) {
      // The worker says the job needs no agent; LiveKit records it as done.
      entry.rec.workerId = worker.workerId;
      jobs.setState(entry, 'success', '');
      return jobs.finish(entry, {
        jobId,
        status: 'rejected',
        message: 'worker ended the job without running it',
      });
    }
    if (!res.available) {
      const reason = res.participantAttributes[REJECT_REASON_ATTRIBUTE];
      lastReject = {
        ...(reason ? { reason } : {}),
        message: res.participantAttributes[REJECT_MESSAGE_ATTRIBUTE] || 'worker rejected the job',
      };
      logger.info({ job_id: jobId, worker_id: worker.workerId, reason }, 'job rejected by worker');
      continue;
    }
    if (worker.closed) continue;
    const token = await participantToken({
      apiKey: deps.apiKey,
      apiSecret: deps.apiSecret,
      roomName: job.room?.name ?? '',
      identity: res.participantIdentity,
      name: res.participantName,
      metadata: res.participantMetadata,
      attributes: { ...res.participantAttributes, 'lk.agent_name': worker.agentName },
      permissions: worker.permissions,
    });
    entry.rec.workerId = worker.workerId;
    entry.rec.participantIdentity = res.participantIdentity;
    worker.assign(job, token, res.participantIdentity);
    // LiveKit counts a job as running from the moment it is assigned.
    jobs.setState(entry, 'running', '');
    logger.info(
      { job_id: jobId, worker_id: worker.workerId, agent: job.agentName },
      'job assigned',
    );
    return jobs.finish(entry, {
      jobId,
      status: 'assigned',
      workerId: worker.workerId,
      participantIdentity: res.participantIdentity,
      participantAttributes: { ...res.participantAttributes },
    });
  }
  return jobs.finish(entry, unplaced(entry, deps, { lastReject, timedOut }));
}

function unplaced(
  entry: JobEntry,
  deps: OfferDeps,
  why: { lastReject: { reason?: string; message: string } | undefined; timedOut: boolean },
): DispatchOutcome {
  const { jobId, agentName } = entry.rec;
  if (why.timedOut) {
    const message = `no worker answered within ${deps.availabilityTimeoutMs} ms`;
    deps.jobs.setState(entry, 'failed', `timeout: ${message}`);
    return { jobId, status: 'timeout', message };
  }
  if (why.lastReject) {
    const r = why.lastReject;
    deps.jobs.setState(entry, 'failed', `rejected: ${r.reason ? `${r.reason}: ` : ''}${r.message}`);
    return { jobId, status: 'rejected', ...r };
  }
  const message = deps.registered(agentName)
    ? `no available worker for agent "${agentName}"`
    : `no worker registered for agent "${agentName}"`;
  deps.jobs.setState(entry, 'failed', `no_worker: ${message}`);
  return { jobId, status: 'no_worker', message };
}
