import { randomBytes } from 'node:crypto';
import {
  JobProcess,
  loggerOptions,
  runWithJobContext,
  type AgentDefinition,
  type ipc,
  type JobContext,
  voice,
} from '@livekit/agents';
import { RoomEvent, type Room } from '@livekit/rtc-node';
import type { Logger } from 'pino';
import {
  MAX_SESSION_DURATION_REASON,
  type Reservation,
  type SessionOutcome,
} from '../admission/types.js';
import { InferenceUnavailableError } from '../inference/errors.js';
import type { SessionRegistry } from '../introspection/registry.js';
import { describeError } from '../errors/describe-error.js';
import { routeFrameworkLogs } from '../logging/framework-logger.js';
import { sessionScope, type SessionScope } from '../scope/session-scope.js';
import {
  installProcessErrorHandlers,
  routeSessionErrors,
  sessionErrorRouteCount,
} from './failure-attribution.js';
import {
  agentSessionStarted,
  buildJobContext,
  isLocalJob,
  primaryAgentSession,
  reportSessionEnd,
  scopeRoomEvents,
  startMediaClientOutsideSessions,
  watchPrimaryAgentSession,
  type MediaMode,
} from './job-context.js';
import { releaseRoom } from './room-release.js';
import { ROOM_RECONNECT_TIMEOUT_REASON, watchRoomConnection } from './room-connection-watch.js';
import {
  beginSessionListeners,
  endSessionListeners,
  scopeSharedModelEvents,
  sharedModelListenerCounts,
} from './shared-model-events.js';
import {
  DEFAULT_ROOM_RECONNECT_TIMEOUT_MS,
  DEFAULT_SHUTDOWN_GRACE_MS,
  type SessionEndedEvent,
  type SessionEndingEvent,
  type SessionListener,
  type SessionStartedEvent,
  type SessionStartRequest,
  type SessionsPort,
} from './types.js';

/** Introspection's per-session state (CPU, loop blocks), dropped when a session ends. */
export interface SessionAttributionPort {
  forget(sessionId: string): void;
}

export interface SessionHostOptions {
  agents: Record<string, AgentDefinition>;
  registry: SessionRegistry;
  logger: Logger;
  onSessionStarted?: (event: SessionStartedEvent) => void;
  onSessionEnded?: (event: SessionEndedEvent) => void;
  attribution?: SessionAttributionPort;
  /** How long a session may take to wind down once asked to end, all teardown steps together; then it is force-closed. */
  shutdownGraceMs?: number;
  /** A session running longer than this is ended (reason `max_session_duration`); null for no limit. */
  maxSessionDurationMs?: number | null;
  /** A session whose room has been reconnecting this long is ended (`room_reconnect_timeout`). */
  roomReconnectTimeoutMs?: number;
  /** `auto` runs a job without media when its assignment has no token or room sid. */
  media?: MediaMode;
  /** Each agent's prewarm, timed (the `JobProcess` initialisation stock does per child process). */
  onPrewarmed?: (e: { agent: string; durationMs: number; ok: boolean }) => void;
  /** Every session's `JobContext.inferenceExecutor`: the worker's shared inference process. */
  inference?: ipc.InferenceExecutor;
}

const noInference: ipc.InferenceExecutor = {
  doInference: (method) =>
    Promise.reject(
      new InferenceUnavailableError(
        `inference method "${method}" is not available: this session host has no inference process`,
      ),
    ),
};

interface LiveSession {
  scope: SessionScope;
  reservation: Reservation;
  definition: AgentDefinition;
  ctx: JobContext;
  room: Room;
  local: boolean;
  startedAt: number;
  entry?: Promise<void>;
  entrySettled: boolean;
  /** The first end trigger; a later failure can still turn a plain success into a failure. */
  end?: { outcome: SessionOutcome; error?: string; byHost: boolean };
  teardown?: Promise<void>;
  /** Epoch ms by which teardown is over, finished or not. */
  deadline?: number;
  limitTimer?: NodeJS.Timeout;
  unroute: () => void;
  unwatchRoom: () => void;
}

/**
 * Runs assigned jobs in this process. Each agent's prewarm runs once into a `JobProcess` that all
 * of that agent's sessions share; each session gets its own `JobContext`, agents-js job scope and
 * our session scope. Whatever way a session ends, teardown runs once and releases its
 * reservation exactly once.
 */
export class SessionHost implements SessionsPort {
  readonly #opts: SessionHostOptions;
  #grace: number;
  #maxDurationMs: number | null;
  #roomReconnectTimeoutMs: number;
  readonly #procs = new Map<string, Promise<JobProcess>>();
  /** Keyed by job id, as assignments and terminations name them; the registry keys by session id. */
  readonly #byJob = new Map<string, LiveSession>();
  /**
   * Jobs between their assignment and their session's entry in `#byJob` (the agent's prewarm is
   * awaited there): a termination arriving then is kept here, or it would be lost and the session
   * would run, holding its slot, until something else ended it. The value is the termination's
   * reason, or null while none came.
   */
  readonly #starting = new Map<string, string | null>();
  readonly #listeners = new Set<SessionListener>();
  #served = 0;

  constructor(options: SessionHostOptions) {
    this.#opts = options;
    this.#grace = options.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS;
    this.#maxDurationMs = options.maxSessionDurationMs ?? null;
    this.#roomReconnectTimeoutMs =
      options.roomReconnectTimeoutMs ?? DEFAULT_ROOM_RECONNECT_TIMEOUT_MS;
    // agents-js code paths call its global logger and throw when it was never initialised; the
    // worker routes it at start, a host on its own routes it here.
    if (!loggerOptions()) routeFrameworkLogs(options.logger);
    installProcessErrorHandlers(options.logger);
    scopeSharedModelEvents();
    const { onSessionStarted, onSessionEnded } = options;
    if (onSessionStarted || onSessionEnded) {
      this.subscribe({
        ...(onSessionStarted ? { started: onSessionStarted } : {}),
        ...(onSessionEnded ? { ended: onSessionEnded } : {}),
      });
    }
  }

  /** A reload's new limits apply to teardowns and sessions that start from now on. */
  setLimits(limits: {
    shutdownGraceMs: number;
    maxSessionDurationMs: number | null;
    roomReconnectTimeoutMs?: number;
  }): void {
    this.#grace = limits.shutdownGraceMs;
    this.#maxDurationMs = limits.maxSessionDurationMs;
    if (limits.roomReconnectTimeoutMs !== undefined)
      this.#roomReconnectTimeoutMs = limits.roomReconnectTimeoutMs;
  }

  /** Runs every agent's prewarm now, so the first call does not pay for it. */
  async prewarmAll(): Promise<void> {
    await Promise.all(Object.keys(this.#opts.agents).map((name) => this.#proc(name)));
  }

  subscribe(listener: SessionListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  liveJobIds(): string[] {
    return [...this.#byJob.keys()];
  }

  /** Sessions that started and have ended since this host was made, however they ended. */
  get sessionsServed(): number {
    return this.#served;
  }

  /** Entries this host holds per live session, and the listeners on shared models they keep. */
  footprint(): Record<string, number> {
    const models = sharedModelListenerCounts();
    return {
      'sessionHost.jobs': this.#byJob.size,
      'sessionHost.listeners': this.#listeners.size,
      'sessionHost.errorRoutes': sessionErrorRouteCount(),
      'sharedModels.sessions': models.sessions,
      'sharedModels.listeners': models.listeners,
    };
  }

  async start(req: SessionStartRequest): Promise<void> {
    const jobId = req.job.id;
    const agent = req.job.agentName;
    const { logger } = this.#opts;
    if (this.#byJob.has(jobId)) {
      logger.warn({ job_id: jobId }, 'assignment for a job that is already running; ignored');
      return;
    }
    const definition = Object.hasOwn(this.#opts.agents, agent)
      ? this.#opts.agents[agent]
      : undefined;
    if (!definition) {
      // Our configuration problem, not the tenant's: not a breaker sample.
      const outcome: SessionOutcome = { kind: 'cancelled', reason: 'unknown_agent' };
      req.reservation.release(outcome);
      logger.error(
        { job_id: jobId, tenant: req.tenant, agent },
        `no agent named "${agent}" on this worker`,
      );
      this.#emitEnded({
        sessionId: '',
        jobId,
        tenant: req.tenant,
        agent,
        outcome,
        error: `unknown agent "${agent}"`,
        durationMs: 0,
      });
      return;
    }

    const sessionId = `ses_${randomBytes(6).toString('hex')}`;
    const scope: SessionScope = { tenant: req.tenant, sessionId, jobId, agent, config: req.config };
    let proc: JobProcess;
    this.#starting.set(jobId, null);
    try {
      proc = await this.#proc(agent);
    } catch (err) {
      this.#starting.delete(jobId);
      const outcome: SessionOutcome = { kind: 'failed', reason: 'prewarm_error' };
      req.reservation.release(outcome);
      sessionScope.run(scope, () =>
        logger.error({ error: describeError(err) }, 'agent prewarm failed; session not started'),
      );
      this.#emitEnded({
        sessionId,
        jobId,
        tenant: req.tenant,
        agent,
        outcome,
        error: describeError(err),
        durationMs: 0,
      });
      return;
    }

    const terminatedWhileStarting = this.#starting.get(jobId) ?? null;
    this.#starting.delete(jobId);
    const local = isLocalJob(req, this.#opts.media ?? 'auto');
    let live: LiveSession | undefined;
    const { ctx, room } = buildJobContext(
      proc,
      req,
      agent,
      local,
      {
        onConnect: () => undefined,
        onShutdown: (reason) => {
          if (live)
            this.#requestEnd(live, {
              kind: 'success',
              reason: reason ? `shutdown: ${reason}` : 'shutdown',
            });
        },
      },
      this.#opts.inference ?? noInference,
    );
    live = {
      scope,
      reservation: req.reservation,
      definition,
      ctx,
      room,
      local,
      startedAt: Date.now(),
      entrySettled: false,
      unroute: () => undefined,
      unwatchRoom: () => undefined,
    };
    const session = live;
    if (!local) {
      // Here, answering the server's assignment, no session's scope is current yet.
      startMediaClientOutsideSessions();
      scopeRoomEvents(
        room,
        (fn) => this.#inScope(session, fn),
        (err) => this.#opts.logger.warn({ err: describeError(err) }, 'room event handling failed'),
      );
    }
    this.#byJob.set(jobId, session);
    beginSessionListeners(sessionId);
    req.reservation.markStarted();
    this.#opts.registry.add({
      sessionId,
      jobId,
      room: req.job.room?.name ?? '',
      agent,
      tenant: req.tenant,
      startedAt: session.startedAt,
    });
    session.unroute = routeSessionErrors(sessionId, (error, kind) =>
      this.#requestEnd(session, { kind: 'failed', reason: kind }, describeError(error)),
    );
    room.on(RoomEvent.Disconnected, () =>
      this.#requestEnd(session, { kind: 'success', reason: 'room_disconnected' }),
    );
    if (!local) {
      const timeoutMs = this.#roomReconnectTimeoutMs;
      const log = (level: 'info' | 'warn', fields: Record<string, unknown>, msg: string) =>
        this.#inScope(session, () => logger[level](fields, msg));
      session.unwatchRoom = watchRoomConnection(room, timeoutMs, {
        down: () =>
          log(
            'warn',
            { timeout_ms: timeoutMs },
            `room connection lost; rtc-node is reconnecting (the session ends if it is not back in ${Math.round(timeoutMs / 1000)} s)`,
          ),
        back: (downForMs) =>
          log(
            'info',
            { down_ms: downForMs },
            `room connection back after ${Math.round(downForMs / 1000)} s`,
          ),
        lost: (downForMs) =>
          // Ended as rtc-node's own `Disconnected` would end it: a LiveKit outage is no tenant's
          // failure, and counting it would open every tenant's breaker at once after a crash.
          this.#requestEnd(
            session,
            { kind: 'success', reason: ROOM_RECONNECT_TIMEOUT_REASON },
            `the room's connection to LiveKit was lost ${Math.round(downForMs / 1000)} s ago and did not come back (roomReconnectTimeoutMs ${timeoutMs})`,
            true,
          ),
      });
    }
    this.#watchAgentSession(session);
    const limit = this.#maxDurationMs;
    if (limit !== null) {
      session.limitTimer = setTimeout(() => {
        this.#inScope(session, () =>
          logger.warn({ limit_ms: limit }, 'session reached maxSessionDurationMs; ending it'),
        );
        this.#requestEnd(
          session,
          { kind: 'success', reason: MAX_SESSION_DURATION_REASON },
          undefined,
          true,
        );
      }, limit);
      session.limitTimer.unref();
    }

    this.#inScope(session, () =>
      logger.info({ job_id: jobId, room: req.job.room?.name, local }, 'session started'),
    );
    this.#opts.registry.setStatus(sessionId, 'running');
    this.#emitStarted({ sessionId, jobId, tenant: req.tenant, agent });

    session.entry = this.#inScope(session, () =>
      Promise.resolve().then(() => definition.entry(ctx)),
    );
    session.entry.then(
      () => {
        session.entrySettled = true;
        this.#onEntryReturned(session);
      },
      (error: unknown) => {
        session.entrySettled = true;
        this.#requestEnd(session, { kind: 'failed', reason: 'entry_error' }, describeError(error));
      },
    );
    if (terminatedWhileStarting !== null)
      this.#requestEnd(
        session,
        { kind: 'success', reason: terminatedWhileStarting },
        undefined,
        true,
      );
  }

  /**
   * Ends one session (server termination, operator action) and resolves once it is torn down: by
   * `deadline` (epoch ms) at the latest, else within the shutdown grace.
   */
  async terminate(jobId: string, reason = 'terminated', deadline?: number): Promise<void> {
    const session = this.#byJob.get(jobId);
    if (!session) {
      if (this.#starting.has(jobId)) this.#starting.set(jobId, reason);
      return;
    }
    this.#requestEnd(session, { kind: 'success', reason }, undefined, true, deadline);
    await session.teardown;
  }

  async closeAll(reason: string, deadline?: number): Promise<void> {
    await Promise.all(this.liveJobIds().map((jobId) => this.terminate(jobId, reason, deadline)));
  }

  #proc(agent: string): Promise<JobProcess> {
    let proc = this.#procs.get(agent);
    if (!proc) {
      const definition = this.#opts.agents[agent];
      proc = (async () => {
        const p = new JobProcess();
        const since = performance.now();
        try {
          await definition?.prewarm?.(p);
        } catch (err) {
          this.#opts.onPrewarmed?.({ agent, durationMs: performance.now() - since, ok: false });
          throw err;
        }
        this.#opts.onPrewarmed?.({ agent, durationMs: performance.now() - since, ok: true });
        return p;
      })();
      // A failed prewarm is retried by the next session rather than poisoning the agent forever.
      proc.catch(() => this.#procs.delete(agent));
      this.#procs.set(agent, proc);
    }
    return proc;
  }

  /**
   * agents-js records the job's primary `AgentSession` on the context when the agent starts it.
   * Watching that assignment lets us see the session close, and close it with an error, even
   * while the entry is still running.
   */
  #watchAgentSession(session: LiveSession): void {
    watchPrimaryAgentSession(session.ctx, (agentSession) => {
      agentSession.on(voice.AgentSessionEventTypes.Close, (ev: voice.CloseEvent) => {
        if (ev.reason === voice.CloseReason.ERROR) {
          this.#requestEnd(
            session,
            { kind: 'failed', reason: 'agent_session_error' },
            ev.error ? describeError(ev.error) : undefined,
          );
        } else {
          this.#requestEnd(session, { kind: 'success', reason: 'session_closed' });
        }
      });
    });
  }

  /**
   * The entry returning does not end a call: stock agents-js keeps a job alive until shutdown or
   * room disconnect, and an entry usually returns right after starting its `AgentSession`. With
   * nothing left running (no live session, no connected room) the job is over.
   */
  #onEntryReturned(session: LiveSession): void {
    if (session.end) return;
    const agentSession = primaryAgentSession(session.ctx);
    if (agentSession && agentSessionStarted(agentSession)) return;
    if (!session.local && session.room.isConnected) return;
    this.#requestEnd(session, { kind: 'success', reason: 'entry_returned' });
  }

  #requestEnd(
    session: LiveSession,
    outcome: SessionOutcome,
    error?: string,
    byHost = false,
    deadline?: number,
  ): void {
    // An earlier deadline (a drain's) shortens a teardown already under way.
    const by = Math.min(deadline ?? Infinity, Date.now() + this.#grace);
    session.deadline = Math.min(session.deadline ?? Infinity, by);
    const end = session.end;
    if (end) {
      // A failure that surfaces while winding down still counts, unless the host itself ended the
      // session: then errors are expected fallout of the close.
      if (outcome.kind === 'failed' && end.outcome.kind === 'success' && !end.byHost) {
        session.end = { outcome, ...(error !== undefined ? { error } : {}), byHost: false };
      }
      return;
    }
    session.end = { outcome, ...(error !== undefined ? { error } : {}), byHost };
    this.#opts.registry.setStatus(session.scope.sessionId, 'closing');
    session.teardown = this.#teardown(session);
  }

  async #teardown(session: LiveSession): Promise<void> {
    const { ctx, room, definition } = session;
    const { logger } = this.#opts;
    try {
      const agentSession = primaryAgentSession(ctx);
      // Closing the AgentSession first unblocks an entry that is waiting on speech or a run.
      const closing = agentSession
        ? this.#bounded(session, 'AgentSession.close', () => agentSession.close())
        : Promise.resolve(true);
      if (!session.entrySettled && session.entry) {
        const finished = await this.#bounded(session, 'entry', () => session.entry);
        if (!finished)
          this.#inScope(session, () =>
            logger.warn(
              { grace_ms: this.#grace },
              'entry did not finish in time; session force-closed',
            ),
          );
      }
      const closed = await closing;
      if (closed && definition.onSessionEnd) {
        const onEnd = definition.onSessionEnd;
        await this.#bounded(session, 'onSessionEnd', () => onEnd(ctx));
      }
      if (agentSession) await this.#bounded(session, 'session report', () => reportSessionEnd(ctx));
      await this.#bounded(session, 'final job status', () => this.#emitEnding(session));
      await this.#bounded(session, 'room.disconnect', () => room.disconnect());
      await Promise.all(
        ctx.shutdownCallbacks.map((cb, i) => this.#bounded(session, `shutdown callback ${i}`, cb)),
      );
    } catch (err) {
      this.#inScope(session, () =>
        logger.error({ error: describeError(err) }, 'error during session teardown'),
      );
    } finally {
      this.#finish(session);
    }
  }

  #finish(session: LiveSession): void {
    const { scope } = session;
    const end = session.end ?? {
      outcome: { kind: 'failed', reason: 'unknown' } as SessionOutcome,
      byHost: false,
    };
    clearTimeout(session.limitTimer);
    session.unwatchRoom();
    session.unroute();
    // After the shutdown callbacks, and however teardown went.
    releaseRoom(session.room);
    const leftListeners = endSessionListeners(scope.sessionId);
    session.reservation.release(end.outcome);
    this.#opts.registry.remove(scope.sessionId);
    this.#byJob.delete(scope.jobId);
    this.#served += 1;
    this.#opts.attribution?.forget(scope.sessionId);
    const durationMs = Date.now() - session.startedAt;
    this.#inScope(session, () => {
      const fields = {
        outcome: end.outcome.kind,
        reason: end.outcome.reason,
        error: end.error,
        duration_ms: durationMs,
        ...(leftListeners > 0 ? { removed_model_listeners: leftListeners } : {}),
      };
      if (end.outcome.kind === 'failed')
        this.#opts.logger.warn(fields, `session failed: ${end.outcome.reason}`);
      else this.#opts.logger.info(fields, `session ended: ${end.outcome.reason}`);
    });
    this.#emitEnded({ ...this.#endingEvent(session, end), durationMs });
  }

  /**
   * Runs one teardown step inside the session's scopes, bounded by what is left of the session's
   * teardown deadline: the steps share one budget, they do not get one each. Resolves true when it
   * finished, false when it failed or ran out of time; teardown never stops part way.
   */
  async #bounded(session: LiveSession, step: string, fn: () => unknown): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const left = Math.max(0, (session.deadline ?? Date.now() + this.#grace) - Date.now());
    const timedOut = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), left);
    });
    const work = this.#inScope(session, () => Promise.resolve().then(fn)).then(
      () => true,
      (err: unknown) => {
        if (step !== 'entry') {
          this.#inScope(session, () =>
            this.#opts.logger.warn({ error: describeError(err) }, `${step} failed during teardown`),
          );
        }
        return false;
      },
    );
    try {
      return await Promise.race([work, timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }

  #inScope<T>(session: LiveSession, fn: () => T): T {
    return sessionScope.run(session.scope, () => runWithJobContext(session.ctx, fn));
  }

  #emitStarted(event: SessionStartedEvent): void {
    for (const l of this.#listeners) this.#safe(() => l.started?.(event));
  }

  #endingEvent(
    session: LiveSession,
    end: { outcome: SessionOutcome; error?: string },
  ): SessionEndingEvent {
    const { scope } = session;
    return {
      sessionId: scope.sessionId,
      jobId: scope.jobId,
      tenant: scope.tenant,
      agent: scope.agent,
      outcome: end.outcome,
      ...(end.error !== undefined ? { error: end.error } : {}),
    };
  }

  async #emitEnding(session: LiveSession): Promise<void> {
    if (!session.end) return;
    const event = this.#endingEvent(session, session.end);
    const waits: Promise<void>[] = [];
    for (const l of this.#listeners) {
      this.#safe(() => {
        const done = l.ending?.(event);
        if (done)
          waits.push(
            done.catch((err: unknown) =>
              this.#opts.logger.error({ error: describeError(err) }, 'session listener failed'),
            ),
          );
      });
    }
    await Promise.all(waits);
  }

  #emitEnded(event: SessionEndedEvent): void {
    for (const l of this.#listeners) this.#safe(() => l.ended?.(event));
  }

  #safe(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.#opts.logger.error({ error: describeError(err) }, 'session listener failed');
    }
  }
}
