import { EventEmitter } from 'node:events';
import type {
  AvailabilityRequest,
  JobAssignment,
  JobTermination,
  ServerMessage,
} from '@livekit/protocol';
import type { Logger } from 'pino';
import type { HostRejectReason } from '../admission/reasons.js';
import type { AdmissionDecision } from '../admission/types.js';
import { LoadModel, type LiveCounts, type LoadReport } from '../load/load-model.js';
import { describeError } from '../errors/describe-error.js';
import type { SessionEndingEvent, SessionsPort } from '../session/types.js';
import type { AdmissionPort } from './admission-port.js';
import { AgentConnection } from './connection.js';
import { JobUpdateQueue } from './job-update-queue.js';
import { OutageLedger } from './outage-ledger.js';
import {
  acceptMessage,
  JobStatus,
  rejectMessage,
  updateJobMessage,
  updateWorkerMessage,
  WorkerStatus,
} from './messages.js';

export interface WorkerHostOptions {
  url: string;
  apiKey: string;
  apiSecret: string;
  /** One registration per name: explicit dispatch by agent name reaches this worker. */
  agentNames: string[];
  admission: AdmissionPort;
  sessions: SessionsPort;
  logger: Logger;
  workerName?: string;
  version: string;
  namespace?: string;
  /** Every this often the load is sent even if it did not change (stock agents-js: 2.5 s). */
  loadIntervalMs?: number;
  /** What load to report; default: sessions over the cap only (full at the cap or while draining). */
  load?: { report(live: LiveCounts): LoadReport };
  /** `updateJob` messages kept per registration while it is down (default 1,000 jobs). */
  maxQueuedJobUpdates?: number;
  pingIntervalMs?: number;
  /** Upper bound on an availability answer; the server gives up after about 3-10 s. */
  answerTimeoutMs?: number;
  /** Jitter source for reconnects (tests). */
  random?: () => number;
}

export interface WorkerHostEvents {
  connected: [{ agentName: string; workerId: string }];
  disconnected: [{ agentName: string; reason: string }];
  /** The worker started or stopped reporting `WS_FULL`. */
  status: [LoadReport];
}

export interface RegistrationState {
  agentName: string;
  workerId?: string;
  registered: boolean;
}

/** How an agent name reads in messages: the empty name is LiveKit's automatic dispatch. */
export function agentLabel(name: string): string {
  return name === '' ? 'the automatic-dispatch agent (no agent name)' : `"${name}"`;
}

/** How often the load is checked for a change of status between the periodic reports. */
const LOAD_CHECK_MS = 500;

type Accepted = Extract<AdmissionDecision, { accept: true }>;

/** How a drain or stop ended. */
export interface DrainOutcome {
  /** Sessions still live at the deadline, closed by the worker instead of ending by themselves. */
  forcedSessions: number;
}

interface PendingAssignment {
  agentName: string;
  decision: Accepted;
}

/**
 * Our client of the LiveKit agent protocol. Each availability request is answered by admission,
 * each assignment becomes an in-process session, and the server hears about every job's
 * lifecycle (`updateJob`) and the worker's load (`updateWorker`).
 */
export class WorkerHost extends EventEmitter<WorkerHostEvents> {
  readonly #opts: WorkerHostOptions;
  readonly #connections = new Map<string, AgentConnection>();
  /** Accepted, not yet assigned. Their reservations expire on admission's own timer. */
  readonly #pending = new Map<string, PendingAssignment>();
  /** Running job -> the agent registration it came through, for `updateJob`. */
  readonly #jobAgent = new Map<string, string>();
  readonly #queued = new Map<string, JobUpdateQueue>();
  readonly #load: { report(live: LiveCounts): LoadReport };
  readonly #outages = new OutageLedger();
  /** Running jobs whose final status already went to the server. */
  readonly #reported = new Set<string>();
  #loadTimer: NodeJS.Timeout | undefined;
  #unsubscribe: (() => void) | undefined;
  #lastLoad = new Map<string, { key: string; load: number }>();
  #lastReport: LoadReport | undefined;
  #lastForcedAt = 0;
  #started = false;
  #stopping: Promise<DrainOutcome> | undefined;

  constructor(options: WorkerHostOptions) {
    super();
    if (options.agentNames.length === 0)
      throw new Error('WorkerHost needs at least one agent name');
    this.#opts = options;
    // Without a measured load, the sessions share alone: full at the cap, as before measuring.
    this.#load =
      options.load ??
      new LoadModel({ threshold: 1, loopDelayFullMs: Number.POSITIVE_INFINITY, protect: false });
  }

  /** Connects every registration; resolves once each has registered once. */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    const { logger } = this.#opts;
    this.#unsubscribe = this.#opts.sessions.subscribe({
      started: (e) => {
        void this.#sendForJob(e.jobId, updateJobMessage(e.jobId, JobStatus.JS_RUNNING));
      },
      ending: (e) => this.#reportJobEnd(e),
      ended: (e) => this.#onSessionEnded(e),
    });
    const registered: Promise<void>[] = [];
    for (const agentName of this.#opts.agentNames) {
      const conn = new AgentConnection({
        url: this.#opts.url,
        apiKey: this.#opts.apiKey,
        apiSecret: this.#opts.apiSecret,
        agentName,
        version: this.#opts.version,
        logger,
        ...(this.#opts.namespace !== undefined ? { namespace: this.#opts.namespace } : {}),
        ...(this.#opts.pingIntervalMs !== undefined
          ? { pingIntervalMs: this.#opts.pingIntervalMs }
          : {}),
        ...(this.#opts.random !== undefined ? { random: this.#opts.random } : {}),
      });
      registered.push(new Promise((resolve) => conn.once('registered', () => resolve())));
      this.#queued.set(agentName, new JobUpdateQueue(this.#opts.maxQueuedJobUpdates ?? 1_000));
      conn.on('registered', (workerId) => {
        const outage = this.#outages.recovered(agentName);
        if (outage) {
          const ended = Object.keys(outage.ended).length;
          logger.info(
            {
              agent_name: agentName,
              worker_id: workerId,
              worker: this.#opts.workerName,
              outage_ms: outage.outageMs,
              sessions_still_running: outage.stillRunning,
              sessions_ended: outage.ended,
            },
            `registered with LiveKit again after ${Math.round(outage.outageMs / 1000)} s: of the ${outage.stillRunning.length + ended} sessions live at the drop, ${outage.stillRunning.length} still running, ${ended} ended`,
          );
        } else {
          logger.info(
            { agent_name: agentName, worker_id: workerId, worker: this.#opts.workerName },
            'registered with LiveKit',
          );
        }
        this.#flushQueued(conn);
        this.#lastLoad.delete(agentName);
        this.#reportLoad(true);
        this.emit('connected', { agentName, workerId });
      });
      conn.on('disconnected', (reason) => {
        const live = [...this.#jobAgent]
          .filter(([, name]) => name === agentName)
          .map(([jobId]) => jobId);
        this.#outages.dropped(agentName, live);
        // Live sessions keep running: their media connection is separate from this socket. Each
        // ends on its own if its room goes too, and the reconnect line says which did.
        logger.warn(
          { agent_name: agentName, reason, live_sessions: live.length, job_ids: live },
          `lost the LiveKit connection; ${live.length} live sessions keep running on their own media connections`,
        );
        this.emit('disconnected', { agentName, reason });
      });
      conn.on('message', (msg) => this.#onMessage(conn, msg));
      this.#connections.set(agentName, conn);
      conn.start();
    }
    const loadInterval = this.#opts.loadIntervalMs ?? 2500;
    this.#loadTimer = setInterval(
      () => {
        const force = Date.now() - this.#lastForcedAt >= loadInterval;
        this.#reportLoad(force);
      },
      Math.min(LOAD_CHECK_MS, loadInterval),
    );
    this.#loadTimer.unref();
    await Promise.all(registered);
  }

  /** Worker ids by agent name, for the registrations that are up. */
  workerIds(): Record<string, string> {
    const ids: Record<string, string> = {};
    for (const [name, conn] of this.#connections) if (conn.workerId) ids[name] = conn.workerId;
    return ids;
  }

  /** One entry per agent name this worker registers. */
  registrations(): RegistrationState[] {
    return [...this.#connections].map(([agentName, conn]) => ({
      agentName,
      registered: conn.registered,
      ...(conn.workerId !== undefined ? { workerId: conn.workerId } : {}),
    }));
  }

  /** Every registration is up: LiveKit can reach every agent this worker hosts. */
  get registered(): boolean {
    return this.#connections.size > 0 && [...this.#connections.values()].every((c) => c.registered);
  }

  /** The load as last computed (and sent, where a registration is up). */
  currentLoad(): LoadReport {
    return this.#lastReport ?? this.#computeLoad();
  }

  /** Per-job entries: assignments awaited, jobs running, final statuses being sent, queued updates. */
  footprint(): Record<string, number> {
    return {
      'workerHost.pending': this.#pending.size,
      'workerHost.jobs': this.#jobAgent.size,
      'workerHost.reporting': this.#reported.size,
      'workerHost.queuedUpdates': this.queuedJobUpdates(),
    };
  }

  /** `updateJob` messages waiting for a registration to come back. */
  queuedJobUpdates(): number {
    let n = 0;
    for (const q of this.#queued.values()) n += q.size;
    return n;
  }

  /**
   * Stops taking jobs and lets live sessions finish, all within `timeoutMs`: sessions still
   * running `graceMs` before the end (or at once, when the budget is shorter than the grace) are
   * asked to end, and whatever has not wound down when the budget is spent is abandoned. Then it
   * disconnects. Safe to call more than once.
   */
  drain(timeoutMs: number, graceMs = 0): Promise<DrainOutcome> {
    this.#stopping ??= (async () => {
      const { admission, sessions, logger } = this.#opts;
      admission.setDraining(true);
      this.#reportLoad(true);
      const deadline = Date.now() + timeoutMs;
      const askAt = deadline - Math.min(graceMs, timeoutMs);
      while ((sessions.liveJobIds().length > 0 || this.#livePending() > 0) && Date.now() < askAt)
        await this.#nextRelease(askAt);
      const left = sessions.liveJobIds().length;
      if (left > 0)
        logger.warn(
          { sessions: left, timeout_ms: timeoutMs, grace_ms: Math.max(0, deadline - Date.now()) },
          'drain timeout; asking the remaining sessions to end',
        );
      await sessions.closeAll('drain_timeout', deadline);
      await this.#shutdown();
      return { forcedSessions: left };
    })();
    return this.#stopping;
  }

  /**
   * Settles when a session ends or a slot awaiting its assignment is released (expired, or
   * terminated before its assignment), or at `until` (epoch ms), whichever comes first: what a drain waits on.
   */
  #nextRelease(until: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        unsubscribe();
        resolve();
      };
      const timer = setTimeout(done, Math.min(MAX_TIMER_MS, Math.max(0, until - Date.now())));
      const unsubscribe = this.#opts.sessions.subscribe({ ended: done });
      for (const p of this.#pending.values()) void p.decision.reservation.settled.then(done);
    });
  }

  /** Hard stop: closes every session at once, then disconnects. */
  stop(): Promise<DrainOutcome> {
    this.#stopping ??= (async () => {
      this.#opts.admission.setDraining(true);
      const forcedSessions = this.#opts.sessions.liveJobIds().length;
      await this.#opts.sessions.closeAll('worker_stopped');
      await this.#shutdown();
      return { forcedSessions };
    })();
    return this.#stopping;
  }

  async #shutdown(): Promise<void> {
    clearInterval(this.#loadTimer);
    const unsent = this.queuedJobUpdates();
    if (unsent > 0)
      this.#opts.logger.warn(
        { job_updates: unsent },
        'stopping with job updates LiveKit never received (it was unreachable)',
      );
    this.#queued.clear();
    // No assignment can arrive any more; hand back the slots now instead of at their timeout.
    for (const [jobId, p] of this.#pending) {
      p.decision.reservation.release({ kind: 'cancelled', reason: 'worker_stopped' });
      this.#pending.delete(jobId);
    }
    this.#unsubscribe?.();
    await Promise.all([...this.#connections.values()].map((c) => c.close()));
    this.#opts.logger.info({ agents: this.#opts.agentNames }, 'closed the LiveKit connection');
  }

  #onMessage(conn: AgentConnection, msg: ServerMessage): void {
    switch (msg.message.case) {
      case 'availability':
        void this.#onAvailability(conn, msg.message.value);
        break;
      case 'assignment':
        this.#onAssignment(conn, msg.message.value);
        break;
      case 'termination':
        this.#onTermination(msg.message.value);
        break;
      default:
        break;
    }
  }

  async #onAvailability(conn: AgentConnection, req: AvailabilityRequest): Promise<void> {
    const job = req.job;
    if (!job) return;
    const { admission, logger } = this.#opts;
    if (!this.#connections.has(job.agentName)) {
      // LiveKit routes a job by its agent name; one that names an agent we do not run would only
      // fail at assignment. Saying no now lets the server offer it to a worker that runs it.
      const hosted = [...this.#connections.keys()].map(agentLabel).join(', ');
      const message = `no agent ${agentLabel(job.agentName)} on this worker (it runs ${hosted})`;
      this.#rejectHere(conn, job.id, 'unknown_agent', message);
      return;
    }
    const answerTimeout = this.#opts.answerTimeoutMs ?? 2500;
    const since = performance.now();
    let answered = false;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), answerTimeout);
    });
    const deciding = admission.decide({
      jobId: job.id,
      agentName: job.agentName,
      metadata: job.metadata,
      ...(job.room?.name ? { roomName: job.room.name } : {}),
      ...(job.room?.metadata ? { roomMetadata: job.room.metadata } : {}),
      attributes: { ...job.attributes },
    });
    try {
      const result = await Promise.race([deciding, late]);
      if (result === 'late') {
        answered = true;
        this.#rejectHere(
          conn,
          job.id,
          'internal_error',
          `admission did not answer within ${answerTimeout} ms`,
          performance.now() - since,
        );
        logger.error(
          { job_id: job.id, timeout_ms: answerTimeout },
          'admission answer timed out; job rejected',
        );
        // If it accepts after all, nobody will assign the job: give the slot back.
        void deciding.then(
          (d) => d.accept && d.reservation.release({ kind: 'cancelled', reason: 'answer_timeout' }),
          () => undefined,
        );
        return;
      }
      answered = true;
      this.#answer(conn, job.id, result);
    } catch (err) {
      if (!answered) {
        this.#rejectHere(
          conn,
          job.id,
          'internal_error',
          'admission failed',
          performance.now() - since,
        );
      }
      logger.error({ job_id: job.id, error: describeError(err) }, 'admission failed; job rejected');
    } finally {
      clearTimeout(timer);
      this.#reportLoad(false);
    }
  }

  /** A rejection decided here rather than by `decide()`: answered, then counted by admission. */
  #rejectHere(
    conn: AgentConnection,
    jobId: string,
    reason: HostRejectReason,
    message: string,
    elapsedMs = 0,
  ): void {
    conn.send(rejectMessage(jobId, reason, message));
    try {
      this.#opts.admission.recordRejection({ jobId, reason, message, elapsedMs });
    } catch (err) {
      this.#opts.logger.error(
        { job_id: jobId, reason, error: describeError(err) },
        'could not count a rejection',
      );
    }
  }

  #answer(conn: AgentConnection, jobId: string, decision: AdmissionDecision): void {
    if (!decision.accept) {
      conn.send(rejectMessage(jobId, decision.reason, decision.message));
      return;
    }
    // A repeated request for a job already running here: the same answer, nothing more to hold.
    const running = this.#jobAgent.has(jobId);
    if (!conn.send(acceptMessage(jobId, conn.agentName, decision.tenant))) {
      // The accept never left: the server will not assign, so the slot is free again now.
      if (!running)
        decision.reservation.release({ kind: 'cancelled', reason: 'accept_not_delivered' });
      return;
    }
    if (!running) this.#pending.set(jobId, { agentName: conn.agentName, decision });
  }

  #onAssignment(conn: AgentConnection, asg: JobAssignment): void {
    const job = asg.job;
    if (!job) return;
    const { logger, sessions } = this.#opts;
    if (this.#jobAgent.has(job.id)) {
      // The server repeated an assignment; the job runs once and reports once.
      logger.warn({ job_id: job.id }, 'assignment for a job that is already running; ignored');
      return;
    }
    const pending = this.#pending.get(job.id);
    this.#pending.delete(job.id);
    if (!pending || pending.decision.reservation.released) {
      logger.warn(
        { job_id: job.id, known: Boolean(pending) },
        'assignment for a job we do not hold (unknown or its slot expired)',
      );
      conn.send(
        updateJobMessage(
          job.id,
          JobStatus.JS_FAILED,
          'assignment arrived after the worker released the slot',
        ),
      );
      return;
    }
    const { decision } = pending;
    this.#jobAgent.set(job.id, pending.agentName);
    sessions
      .start({
        job,
        url: asg.url || this.#opts.url,
        token: asg.token,
        workerId: conn.workerId ?? '',
        tenant: decision.tenant,
        reservation: decision.reservation,
        config: decision.config,
        apiKey: this.#opts.apiKey,
        apiSecret: this.#opts.apiSecret,
      })
      .catch((err: unknown) => {
        // The session host reports its own failures; this only catches a bug in it.
        decision.reservation.release({ kind: 'failed', reason: 'session_start_error' });
        logger.error(
          { job_id: job.id, tenant: decision.tenant, error: describeError(err) },
          'session could not start',
        );
        void this.#sendForJob(
          job.id,
          updateJobMessage(job.id, JobStatus.JS_FAILED, 'session could not start'),
        );
        this.#jobAgent.delete(job.id);
      });
  }

  #onTermination(t: JobTermination): void {
    const pending = this.#pending.get(t.jobId);
    if (pending) {
      this.#pending.delete(t.jobId);
      pending.decision.reservation.release({
        kind: 'cancelled',
        reason: 'terminated_before_assignment',
      });
      this.#reportLoad(false);
      return;
    }
    void this.#opts.sessions.terminate(t.jobId, 'terminated');
  }

  /**
   * The job's final status, once: before the agent leaves the room when the session says so.
   * Resolves once the update is on its way (handed to the socket, or queued while disconnected).
   */
  #reportJobEnd(e: SessionEndingEvent): Promise<void> {
    if (!this.#jobAgent.has(e.jobId) || this.#reported.has(e.jobId)) return Promise.resolve();
    this.#reported.add(e.jobId);
    const msg =
      e.outcome.kind === 'success'
        ? updateJobMessage(e.jobId, JobStatus.JS_SUCCESS)
        : updateJobMessage(
            e.jobId,
            JobStatus.JS_FAILED,
            e.error ? `${e.outcome.reason}: ${e.error}` : e.outcome.reason,
          );
    return this.#sendForJob(e.jobId, msg);
  }

  #onSessionEnded(e: SessionEndingEvent): void {
    this.#outages.ended(e.jobId, `${e.outcome.kind}: ${e.outcome.reason}`);
    void this.#reportJobEnd(e);
    this.#reported.delete(e.jobId);
    this.#jobAgent.delete(e.jobId);
    this.#reportLoad(false);
  }

  /** Resolves once the update is handed to the socket, or queued because it could not be. */
  async #sendForJob(jobId: string, msg: Parameters<AgentConnection['send']>[0]): Promise<void> {
    const agent = this.#jobAgent.get(jobId);
    if (agent === undefined) return;
    const conn = this.#connections.get(agent);
    const queue = this.#queued.get(agent);
    if (!conn || !queue) return;
    if (conn.registered && (await conn.sendFlushed(msg))) return;
    // Not connected: the server hears about it once the registration is back.
    queue.put(jobId, msg);
    this.#opts.logger.debug(
      { job_id: jobId, queued: queue.size },
      'job update queued until LiveKit is reachable again',
    );
  }

  #flushQueued(conn: AgentConnection): void {
    const queue = this.#queued.get(conn.agentName);
    if (!queue || queue.size === 0) return;
    const dropped = queue.dropped;
    const pending = queue.take();
    let sent = 0;
    for (const [jobId, msg] of pending) {
      if (conn.send(msg)) sent += 1;
      else queue.put(jobId, msg);
    }
    this.#opts.logger.info(
      { agent_name: conn.agentName, sent, dropped, still_queued: queue.size },
      'sent job updates held while disconnected',
    );
    if (dropped > 0) {
      this.#opts.logger.warn(
        { agent_name: conn.agentName, dropped, limit: queue.limit },
        'job updates were dropped while disconnected: the queue was full',
      );
    }
  }

  /** Pending entries whose reservation is still held; expired ones are dropped here. */
  #livePending(): number {
    for (const [jobId, p] of this.#pending)
      if (p.decision.reservation.released) this.#pending.delete(jobId);
    return this.#pending.size;
  }

  #computeLoad(): LoadReport {
    const { admission } = this.#opts;
    return this.#load.report({
      inUse: admission.inUse(),
      capacity: admission.capacity(),
      draining: admission.draining,
    });
  }

  /**
   * Sends load to every registration: always when `force`, else when the status or the job count
   * changed, or the load moved by 0.05 or more.
   */
  #reportLoad(force: boolean): void {
    this.#livePending();
    const inUse = this.#opts.admission.inUse();
    const report = this.#computeLoad();
    const previous = this.#lastReport;
    this.#lastReport = report;
    if (previous && previous.full !== report.full) this.#logStatusChange(report);
    if (force) this.#lastForcedAt = Date.now();
    const status = report.full ? WorkerStatus.WS_FULL : WorkerStatus.WS_AVAILABLE;
    const key = `${status}:${inUse}`;
    for (const [name, conn] of this.#connections) {
      if (!conn.registered) continue;
      const last = this.#lastLoad.get(name);
      if (!force && last && last.key === key && Math.abs(last.load - report.load) < 0.05) continue;
      if (conn.send(updateWorkerMessage(status, report.load, inUse)))
        this.#lastLoad.set(name, { key, load: report.load });
    }
  }

  #logStatusChange(report: LoadReport): void {
    const fields = {
      load: report.load,
      measured: round3(report.measured),
      threshold: report.threshold,
      event_loop_utilization: round3(report.shares.eventLoopUtilization),
      loop_delay_share: round3(report.shares.loopDelay),
      sessions_share: round3(report.shares.sessions),
      reason: report.reason,
    };
    if (report.full)
      this.#opts.logger.warn(
        fields,
        `worker is full (${report.reason}): LiveKit sends it no new jobs`,
      );
    else this.#opts.logger.info(fields, 'worker is below capacity again: LiveKit may send it jobs');
    this.emit('status', report);
  }
}

function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}

/** setTimeout's longest delay; a longer one fires at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;
