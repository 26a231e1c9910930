import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  AgentDispatch,
  AgentDispatchState,
  type CreateAgentDispatchRequest,
  type DeleteAgentDispatchRequest,
  type Job,
  JobType,
  type ListAgentDispatchRequest,
  type UpdateJobStatus,
  WorkerStatus,
} from '@livekit/protocol';
import { pino, type Logger } from 'pino';
import { WebSocketServer } from 'ws';
import { bearerToken, TokenCheck } from './auth.js';
import { newId } from './ids.js';
import { buildJob, jobStateName, jobWithState, participantToken } from './job-builder.js';
import { handleTwirp } from './twirp.js';
import {
  type AvailabilityAnswered,
  type DispatchOutcome,
  type DispatchRequest,
  type JobRecord,
  LOCAL_JOB_ATTRIBUTE,
  type LocalDispatcherOptions,
  REJECT_MESSAGE_ATTRIBUTE,
  REJECT_REASON_ATTRIBUTE,
  type WorkerRecord,
} from './types.js';
import { orderCandidates } from './worker-selection.js';
import { WorkerSession } from './worker-session.js';

/** LiveKit's own limit on how long a worker may take to answer an availability request. */
export const DEFAULT_AVAILABILITY_TIMEOUT_MS = 10_000;
const MAX_FRAME_BYTES = 1 << 20;

interface JobEntry {
  job: Job;
  rec: JobRecord;
}

interface DispatchEntry {
  id: string;
  agentName: string;
  room: string;
  metadata: string;
  attributes: Record<string, string>;
  createdAt: number;
  jobIds: string[];
}

export interface LocalDispatcherEvents {
  worker_registered: [WorkerRecord];
  worker_disconnected: [WorkerRecord];
  job_updated: [JobRecord];
  /** Every answer a worker gave in time; timeouts and closed sockets emit nothing. */
  availability_answered: [AvailabilityAnswered];
}

/**
 * Our own agent-protocol server, for running the whole system on one machine and for tests.
 * It behaves like LiveKit's dispatcher where a worker can tell: registration, availability with a
 * timeout and fall-through to the next worker, assignment with a participant token, termination,
 * job state from `updateJob`, and the Twirp dispatch API the server SDK calls.
 */
export class LocalDispatcher extends EventEmitter<LocalDispatcherEvents> {
  readonly url: string;
  readonly #opts: Required<
    Pick<LocalDispatcherOptions, 'apiKey' | 'apiSecret' | 'availabilityTimeoutMs'>
  >;
  readonly #logger: Logger;
  readonly #server: Server;
  readonly #wss: WebSocketServer;
  readonly #tokens: TokenCheck;
  readonly #workers = new Map<string, WorkerSession>();
  readonly #jobs = new Map<string, JobEntry>();
  readonly #dispatches = new Map<string, DispatchEntry>();
  #turn = 0;
  #closing: Promise<void> | undefined;

  private constructor(
    server: Server,
    wss: WebSocketServer,
    url: string,
    opts: LocalDispatcherOptions,
    logger: Logger,
  ) {
    super();
    this.#server = server;
    this.#wss = wss;
    this.url = url;
    this.#logger = logger;
    this.#opts = {
      apiKey: opts.apiKey,
      apiSecret: opts.apiSecret,
      availabilityTimeoutMs: opts.availabilityTimeoutMs ?? DEFAULT_AVAILABILITY_TIMEOUT_MS,
    };
    this.#tokens = new TokenCheck(opts.apiKey, opts.apiSecret);
    const twirp = handleTwirp(
      {
        createDispatch: (r) => this.#createDispatch(r),
        listDispatch: (r) => this.#listDispatch(r),
        deleteDispatch: (r) => this.#deleteDispatch(r),
      },
      this.#tokens,
      logger,
    );
    server.on('request', (req, res) => void twirp(req, res));
    server.on(
      'upgrade',
      (req: IncomingMessage, socket: Duplex, head: Buffer) => void this.#upgrade(req, socket, head),
    );
  }

  static async start(opts: LocalDispatcherOptions): Promise<LocalDispatcher> {
    const host = opts.host ?? '127.0.0.1';
    const logger = (opts.logger ?? pino({ level: 'silent' })).child({ component: 'dispatcher' });
    const server = createServer();
    const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port ?? 0, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const { port } = server.address() as AddressInfo;
    const urlHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
    const d = new LocalDispatcher(server, wss, `ws://${urlHost}:${port}`, opts, logger);
    logger.debug({ url: d.url }, 'local dispatcher listening');
    return d;
  }

  workers(): WorkerRecord[] {
    return [...this.#workers.values()].filter((w) => w.registered).map((w) => w.record());
  }

  jobs(): JobRecord[] {
    return [...this.#jobs.values()].map((e) => ({ ...e.rec }));
  }

  job(jobId: string): JobRecord | undefined {
    const e = this.#jobs.get(jobId);
    return e ? { ...e.rec } : undefined;
  }

  /** Offers a fresh job to the workers registered for `agentName`, one at a time, until one accepts. */
  dispatch(req: DispatchRequest): Promise<DispatchOutcome> {
    return this.#run(this.#createJob(req));
  }

  /** Sends `termination` for a running job; like LiveKit, the job then counts as ended successfully. */
  terminate(jobId: string): boolean {
    const e = this.#jobs.get(jobId);
    if (!e?.rec.workerId) return false;
    const w = this.#workers.get(e.rec.workerId);
    if (!w || w.closed) return false;
    w.terminate(jobId);
    if (e.rec.state === 'pending' || e.rec.state === 'running') this.#setState(e, 'success', '');
    w.jobs.delete(jobId);
    return true;
  }

  /** Resolves with the job once `predicate` holds for it; rejects after `timeoutMs`. */
  waitForJob(
    jobId: string,
    predicate: (job: JobRecord) => boolean,
    timeoutMs = 5_000,
  ): Promise<JobRecord> {
    return new Promise((resolve, reject) => {
      const now = this.job(jobId);
      if (now && predicate(now)) {
        resolve(now);
        return;
      }
      const onUpdate = (rec: JobRecord) => {
        if (rec.jobId !== jobId || !predicate(rec)) return;
        cleanup();
        resolve({ ...rec });
      };
      const timer = setTimeout(() => {
        cleanup();
        const last = this.job(jobId);
        reject(
          new Error(
            `job ${jobId} did not reach the expected state within ${timeoutMs} ms (last: ${last ? `${last.state} ${last.error}` : 'unknown job'})`,
          ),
        );
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.off('job_updated', onUpdate);
      };
      this.on('job_updated', onUpdate);
    });
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      for (const w of this.#workers.values()) w.close();
      await new Promise<void>((resolve) => this.#wss.close(() => resolve()));
      for (const client of this.#wss.clients) client.terminate();
      await new Promise<void>((resolve) => {
        this.#server.close(() => resolve());
        // fetch keeps connections alive; without this close() waits for them to time out.
        this.#server.closeAllConnections();
      });
      this.removeAllListeners();
    })();
    return this.#closing;
  }

  async #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname.replace(/\/+$/, '');
    if (path !== '/agent') {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const grant = await this.#tokens.videoGrant(bearerToken(req));
    if (!grant?.agent) {
      this.#logger.warn('worker connection refused: bad token or no agent grant');
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    if (this.#closing) {
      socket.destroy();
      return;
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      const session = new WorkerSession(
        ws,
        newId('AW_'),
        {
          onRegistered: (s) => {
            this.#logger.info(
              { worker_id: s.workerId, agent: s.agentName, version: s.version },
              'worker registered',
            );
            this.emit('worker_registered', s.record());
          },
          onUpdateJob: (s, u) => this.#onUpdateJob(s, u),
          onClosed: (s) => this.#onWorkerClosed(s),
        },
        this.#logger,
      );
      this.#workers.set(session.workerId, session);
    });
  }

  #createJob(req: DispatchRequest): JobEntry {
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
    this.#dispatches.get(dispatchId)?.jobIds.push(job.id);
    this.emit('job_updated', { ...rec });
    return entry;
  }

  #eligible(agentName: string, tried: ReadonlySet<string>): WorkerSession[] {
    const ws = [...this.#workers.values()].filter(
      (w) =>
        w.registered &&
        !w.closed &&
        !tried.has(w.workerId) &&
        w.agentName === agentName &&
        w.jobType === JobType.JT_ROOM &&
        w.status === WorkerStatus.WS_AVAILABLE,
    );
    return orderCandidates(ws, this.#turn++);
  }

  async #run(entry: JobEntry): Promise<DispatchOutcome> {
    const { job } = entry;
    const jobId = job.id;
    const tried = new Set<string>();
    let lastReject: { reason?: string; message: string } | undefined;
    let timedOut = false;
    for (;;) {
      const worker = this.#eligible(job.agentName, tried)[0];
      if (!worker) break;
      tried.add(worker.workerId);
      const answer = await worker.requestAvailability(job, this.#opts.availabilityTimeoutMs);
      if (answer.kind === 'timeout') {
        timedOut = true;
        this.#logger.warn(
          { job_id: jobId, worker_id: worker.workerId },
          'availability request timed out',
        );
        continue;
      }
      if (answer.kind === 'closed') continue;
      const res = answer.response;
      this.emit('availability_answered', {
        jobId,
        workerId: worker.workerId,
        available: res.available,
        latencyMs: answer.latencyMs,
      });
      if (res.terminate) {
        // The worker says the job needs no agent; LiveKit records it as done.
        entry.rec.workerId = worker.workerId;
        this.#setState(entry, 'success', '');
        return this.#finish(entry, {
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
        this.#logger.info(
          { job_id: jobId, worker_id: worker.workerId, reason },
          'job rejected by worker',
        );
        continue;
      }
      if (worker.closed) continue;
      const token = await participantToken({
        apiKey: this.#opts.apiKey,
        apiSecret: this.#opts.apiSecret,
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
      this.#setState(entry, 'running', '');
      this.#logger.info(
        { job_id: jobId, worker_id: worker.workerId, agent: job.agentName },
        'job assigned',
      );
      return this.#finish(entry, {
        jobId,
        status: 'assigned',
        workerId: worker.workerId,
        participantIdentity: res.participantIdentity,
        participantAttributes: { ...res.participantAttributes },
      });
    }

    let outcome: DispatchOutcome;
    if (lastReject) {
      outcome = { jobId, status: 'rejected', ...lastReject };
      this.#setState(
        entry,
        'failed',
        `rejected: ${lastReject.reason ? `${lastReject.reason}: ` : ''}${lastReject.message}`,
      );
    } else if (timedOut) {
      outcome = {
        jobId,
        status: 'timeout',
        message: `no worker answered within ${this.#opts.availabilityTimeoutMs} ms`,
      };
      this.#setState(entry, 'failed', `timeout: ${outcome.message}`);
    } else {
      const registered = [...this.#workers.values()].some(
        (w) => w.registered && w.agentName === job.agentName,
      );
      const message = registered
        ? `no available worker for agent "${job.agentName}"`
        : `no worker registered for agent "${job.agentName}"`;
      outcome = { jobId, status: 'no_worker', message };
      this.#setState(entry, 'failed', `no_worker: ${message}`);
    }
    return this.#finish(entry, outcome);
  }

  #finish(entry: JobEntry, outcome: DispatchOutcome): DispatchOutcome {
    entry.rec.outcome = outcome;
    return outcome;
  }

  #setState(entry: JobEntry, state: JobRecord['state'], error: string): void {
    const rec = entry.rec;
    const now = Date.now();
    if (rec.state === 'pending' && state !== 'pending') rec.startedAt ??= now;
    if (state === 'success' || state === 'failed') rec.endedAt = now;
    rec.state = state;
    rec.error = error;
    rec.updatedAt = now;
    this.emit('job_updated', { ...rec });
  }

  #onUpdateJob(worker: WorkerSession, update: UpdateJobStatus): void {
    const entry = this.#jobs.get(update.jobId);
    if (!entry || entry.rec.workerId !== worker.workerId) {
      this.#logger.debug(
        { job_id: update.jobId, worker_id: worker.workerId },
        'job update for a job this worker does not hold',
      );
      return;
    }
    const state = jobStateName(update.status);
    if (state === 'success' || state === 'failed') worker.jobs.delete(update.jobId);
    this.#setState(entry, state, update.error);
  }

  #onWorkerClosed(worker: WorkerSession): void {
    this.#workers.delete(worker.workerId);
    for (const jobId of worker.jobs) {
      const entry = this.#jobs.get(jobId);
      if (entry && (entry.rec.state === 'running' || entry.rec.state === 'pending'))
        this.#setState(entry, 'failed', 'worker disconnected');
    }
    if (!worker.registered) return;
    this.#logger.info(
      { worker_id: worker.workerId, agent: worker.agentName },
      'worker disconnected',
    );
    const rec = worker.record();
    worker.jobs.clear();
    this.emit('worker_disconnected', rec);
  }

  #createDispatch(req: CreateAgentDispatchRequest): AgentDispatch {
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
    const job = this.#createJob({
      agentName: req.agentName,
      roomName: req.room,
      metadata: req.metadata,
      attributes: req.attributes,
      dispatchId: entry.id,
    });
    this.#run(job).catch((err: unknown) => {
      this.#logger.error(
        { job_id: job.job.id, err: err instanceof Error ? err.message : String(err) },
        'dispatch failed',
      );
      this.#setState(job, 'failed', 'dispatcher error');
    });
    return this.#dispatchProto(entry);
  }

  #listDispatch(req: ListAgentDispatchRequest): AgentDispatch[] {
    return [...this.#dispatches.values()]
      .filter((d) => d.room === req.room && (!req.dispatchId || d.id === req.dispatchId))
      .map((d) => this.#dispatchProto(d));
  }

  /** As LiveKit does: the dispatch is gone, and each of its running jobs is terminated. */
  #deleteDispatch(req: DeleteAgentDispatchRequest): AgentDispatch | undefined {
    const d = this.#dispatches.get(req.dispatchId);
    if (!d || d.room !== req.room) return undefined;
    const proto = this.#dispatchProto(d);
    this.#dispatches.delete(d.id);
    for (const jobId of d.jobIds) {
      const state = this.#jobs.get(jobId)?.rec.state;
      if (state === 'pending' || state === 'running') this.terminate(jobId);
    }
    return proto;
  }

  #dispatchProto(d: DispatchEntry): AgentDispatch {
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
