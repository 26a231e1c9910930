import { EventEmitter } from 'node:events';
import { JobType, type UpdateJobStatus, WorkerStatus } from '@livekit/protocol';
import { pino, type Logger } from 'pino';
import { TokenCheck } from './auth.js';
import { DispatchRecords } from './dispatch-records.js';
import { newId } from './ids.js';
import { jobStateName } from './job-builder.js';
import { offerJob, type OfferDeps } from './job-offers.js';
import { isLive, type JobEntry, JobStore } from './job-store.js';
import { handleTwirp } from './twirp.js';
import type {
  AvailabilityAnswered,
  DispatchOutcome,
  DispatchRequest,
  JobRecord,
  LocalDispatcherOptions,
  WorkerRecord,
} from './types.js';
import { acceptWorkers, closeListener, listen, type Listener } from './worker-listener.js';
import { DEFAULT_TARGET_LOAD } from './worker-selection.js';
import { WorkerSession } from './worker-session.js';
import { errorMessage } from '../errors/describe-error.js';

/** LiveKit's own limit on how long a worker may take to answer an availability request. */
export const DEFAULT_AVAILABILITY_TIMEOUT_MS = 10_000;

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
 * timeout, the choice of worker (weighted by load, gated by the target load) and retry on another
 * worker after a rejection, assignment with a participant token, termination, job state from
 * `updateJob`, and the Twirp dispatch API the server SDK calls.
 */
export class LocalDispatcher extends EventEmitter<LocalDispatcherEvents> {
  readonly url: string;
  readonly #listener: Listener;
  readonly #logger: Logger;
  readonly #workers = new Map<string, WorkerSession>();
  readonly #jobs: JobStore;
  readonly #dispatches: DispatchRecords;
  readonly #offers: OfferDeps;
  #closing: Promise<void> | undefined;

  private constructor(listener: Listener, opts: LocalDispatcherOptions, logger: Logger) {
    super();
    this.#listener = listener;
    this.url = listener.url;
    this.#logger = logger;
    this.#jobs = new JobStore((rec) => this.emit('job_updated', rec));
    this.#dispatches = new DispatchRecords(this.#jobs, {
      launch: (req) => this.#launch(req),
      terminate: (jobId) => this.terminate(jobId),
    });
    this.#offers = {
      available: (agentName) => this.#available(agentName),
      registered: (agentName) =>
        [...this.#workers.values()].some((w) => w.registered && w.agentName === agentName),
      jobs: this.#jobs,
      apiKey: opts.apiKey,
      apiSecret: opts.apiSecret,
      availabilityTimeoutMs: opts.availabilityTimeoutMs ?? DEFAULT_AVAILABILITY_TIMEOUT_MS,
      targetLoad: opts.targetLoad ?? DEFAULT_TARGET_LOAD,
      random: opts.random ?? Math.random,
      logger,
      onAnswered: (a) => this.emit('availability_answered', a),
    };
    const tokens = new TokenCheck(opts.apiKey, opts.apiSecret);
    const twirp = handleTwirp(
      {
        createDispatch: (r) => this.#dispatches.create(r),
        listDispatch: (r) => this.#dispatches.list(r),
        deleteDispatch: (r) => this.#dispatches.delete(r),
      },
      tokens,
      logger,
    );
    listener.server.on('request', (req, res) => void twirp(req, res));
    acceptWorkers(listener, {
      tokens,
      logger,
      closing: () => this.#closing !== undefined,
      onWorker: (ws) => {
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
      },
    });
  }

  static async start(opts: LocalDispatcherOptions): Promise<LocalDispatcher> {
    const logger = (opts.logger ?? pino({ level: 'silent' })).child({ component: 'dispatcher' });
    const listener = await listen(opts.host ?? '127.0.0.1', opts.port ?? 0);
    const d = new LocalDispatcher(listener, opts, logger);
    logger.debug({ url: d.url }, 'local dispatcher listening');
    return d;
  }

  workers(): WorkerRecord[] {
    return [...this.#workers.values()].filter((w) => w.registered).map((w) => w.record());
  }

  jobs(): JobRecord[] {
    return this.#jobs.records();
  }

  job(jobId: string): JobRecord | undefined {
    const e = this.#jobs.get(jobId);
    return e ? { ...e.rec } : undefined;
  }

  /** Offers a fresh job to the workers registered for `agentName`, one at a time, until one accepts. */
  dispatch(req: DispatchRequest): Promise<DispatchOutcome> {
    return offerJob(this.#createJob(req), this.#offers);
  }

  /** Sends `termination` for a running job; like LiveKit, the job then counts as ended successfully. */
  terminate(jobId: string): boolean {
    const e = this.#jobs.get(jobId);
    if (!e?.rec.workerId) return false;
    const w = this.#workers.get(e.rec.workerId);
    if (!w || w.closed) return false;
    w.terminate(jobId);
    if (isLive(e.rec.state)) this.#jobs.setState(e, 'success', '');
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
      await closeListener(this.#listener);
      this.removeAllListeners();
    })();
    return this.#closing;
  }

  #createJob(req: DispatchRequest): JobEntry {
    const entry = this.#jobs.create(req);
    this.#dispatches.addJob(entry.rec.dispatchId, entry.rec.jobId);
    return entry;
  }

  /** A Twirp `createDispatch`: the job is offered in the background, as LiveKit does. */
  #launch(req: DispatchRequest): JobEntry {
    const entry = this.#createJob(req);
    offerJob(entry, this.#offers).catch((err: unknown) => {
      this.#logger.error({ job_id: entry.job.id, err: errorMessage(err) }, 'dispatch failed');
      this.#jobs.setState(entry, 'failed', 'dispatcher error');
    });
    return entry;
  }

  #available(agentName: string): WorkerSession[] {
    return [...this.#workers.values()].filter(
      (w) =>
        w.registered &&
        !w.closed &&
        w.agentName === agentName &&
        w.jobType === JobType.JT_ROOM &&
        w.status === WorkerStatus.WS_AVAILABLE,
    );
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
    this.#jobs.setState(entry, state, update.error);
  }

  #onWorkerClosed(worker: WorkerSession): void {
    this.#workers.delete(worker.workerId);
    for (const jobId of worker.jobs) {
      const entry = this.#jobs.get(jobId);
      if (entry && isLive(entry.rec.state))
        this.#jobs.setState(entry, 'failed', 'worker disconnected');
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
}
