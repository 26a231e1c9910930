import type { Job } from '@livekit/protocol';
import { newId } from './ids.js';
import { buildJob } from './job-builder.js';
import { LOCAL_JOB_ATTRIBUTE } from '../protocol/attributes.js';
import type { DispatchOutcome, DispatchRequest, JobRecord, JobState } from './types.js';

export interface JobEntry {
  job: Job;
  rec: JobRecord;
}

/** Every job the dispatcher created, with its state as the workers reported it. */
export class JobStore {
  readonly #jobs = new Map<string, JobEntry>();
  readonly #onUpdate: (rec: JobRecord) => void;

  /** `onUpdate` gets a copy of the record after every change, creation included. */
  constructor(onUpdate: (rec: JobRecord) => void) {
    this.#onUpdate = onUpdate;
  }

  create(req: DispatchRequest): JobEntry {
    const dispatchId = req.dispatchId ?? newId('AD_');
    const roomName = req.roomName ?? newId('room-');
    const job = buildJob({
      agentName: req.agentName,
      dispatchId,
      roomName,
      roomSid: newId('RM_'),
      metadata: req.metadata ?? '',
      roomMetadata: req.roomMetadata ?? '',
      // No media server stands behind a local job; an openrtc worker then runs it without a room.
      attributes: { [LOCAL_JOB_ATTRIBUTE]: 'true', ...req.attributes },
    });
    const now = Date.now();
    const rec: JobRecord = {
      jobId: job.id,
      dispatchId,
      agentName: req.agentName,
      roomName,
      metadata: job.metadata,
      state: 'pending',
      error: '',
      createdAt: now,
      updatedAt: now,
    };
    const entry = { job, rec };
    this.#jobs.set(job.id, entry);
    this.#onUpdate({ ...rec });
    return entry;
  }

  get(jobId: string): JobEntry | undefined {
    return this.#jobs.get(jobId);
  }

  records(): JobRecord[] {
    return [...this.#jobs.values()].map((e) => ({ ...e.rec }));
  }

  setState(entry: JobEntry, state: JobState, error: string): void {
    const rec = entry.rec;
    const now = Date.now();
    if (rec.state === 'pending' && state !== 'pending') rec.startedAt ??= now;
    if (state === 'success' || state === 'failed') rec.endedAt = now;
    rec.state = state;
    rec.error = error;
    rec.updatedAt = now;
    this.#onUpdate({ ...rec });
  }

  finish(entry: JobEntry, outcome: DispatchOutcome): DispatchOutcome {
    entry.rec.outcome = outcome;
    return outcome;
  }
}

export function isLive(state: JobState | undefined): boolean {
  return state === 'pending' || state === 'running';
}
