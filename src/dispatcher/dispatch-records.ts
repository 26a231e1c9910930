import {
  AgentDispatch,
  AgentDispatchState,
  type CreateAgentDispatchRequest,
  type DeleteAgentDispatchRequest,
  type ListAgentDispatchRequest,
} from '@livekit/protocol';
import { newId } from './ids.js';
import { jobWithState } from './job-builder.js';
import { isLive, type JobEntry, type JobStore } from './job-store.js';
import type { DispatchRequest } from './types.js';

interface DispatchEntry {
  id: string;
  agentName: string;
  room: string;
  metadata: string;
  attributes: Record<string, string>;
  createdAt: number;
  jobIds: string[];
}

export interface DispatchActions {
  /** Creates the dispatch's job (listed under it) and offers it to the workers. */
  launch(req: DispatchRequest): JobEntry;
  terminate(jobId: string): boolean;
}

/** The records behind the Twirp `AgentDispatchService`: what `createDispatch` made, per room. */
export class DispatchRecords {
  readonly #dispatches = new Map<string, DispatchEntry>();
  readonly #jobs: JobStore;
  readonly #actions: DispatchActions;

  constructor(jobs: JobStore, actions: DispatchActions) {
    this.#jobs = jobs;
    this.#actions = actions;
  }

  /** Lists `jobId` under its dispatch, when the dispatch is one of ours. */
  addJob(dispatchId: string, jobId: string): void {
    this.#dispatches.get(dispatchId)?.jobIds.push(jobId);
  }

  create(req: CreateAgentDispatchRequest): AgentDispatch {
    const entry: DispatchEntry = {
      id: newId('AD_'),
      agentName: req.agentName,
      room: req.room,
      metadata: req.metadata,
      attributes: { ...req.attributes },
      createdAt: Date.now(),
      jobIds: [],
    };
    this.#dispatches.set(entry.id, entry);
    this.#actions.launch({
      agentName: req.agentName,
      roomName: req.room,
      metadata: req.metadata,
      attributes: req.attributes,
      dispatchId: entry.id,
    });
    return this.#proto(entry);
  }

  list(req: ListAgentDispatchRequest): AgentDispatch[] {
    return [...this.#dispatches.values()]
      .filter((d) => d.room === req.room && (!req.dispatchId || d.id === req.dispatchId))
      .map((d) => this.#proto(d));
  }

  /** As LiveKit does: the dispatch is gone, and each of its running jobs is terminated. */
  delete(req: DeleteAgentDispatchRequest): AgentDispatch | undefined {
    const d = this.#dispatches.get(req.dispatchId);
    if (!d || d.room !== req.room) return undefined;
    const proto = this.#proto(d);
    this.#dispatches.delete(d.id);
    for (const jobId of d.jobIds) {
      if (isLive(this.#jobs.get(jobId)?.rec.state)) this.#actions.terminate(jobId);
    }
    return proto;
  }

  #proto(d: DispatchEntry): AgentDispatch {
    const jobs = d.jobIds.flatMap((id) => {
      const e = this.#jobs.get(id);
      return e ? [jobWithState(e.job, e.rec)] : [];
    });
    return new AgentDispatch({
      id: d.id,
      agentName: d.agentName,
      room: d.room,
      metadata: d.metadata,
      attributes: d.attributes,
      state: new AgentDispatchState({ jobs, createdAt: BigInt(d.createdAt) * 1_000_000n }),
    });
  }
}
