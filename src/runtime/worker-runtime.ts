import { version as agentsVersion } from '@livekit/agents';
import { dispose as disposeMedia } from '@livekit/rtc-node';
import type { Logger } from 'pino';
import type { Admission } from '../admission/admission.js';
import type { FleetAdmission } from '../admission/fleet-admission.js';
import { systemClock } from '../clock/clock.js';
import { diffConfigs, type ConfigReload } from '../config/config-diff.js';
import { ConfigError } from '../config/config-error.js';
import type { LoadedConfig } from '../config/load-config.js';
import type { AttributionMode, OpenrtcConfig } from '../config/schema.js';
import { auditSink } from '../control/audit.js';
import { OPERATOR_METHODS } from '../control/contract.js';
import { controlMethods, type ControlTarget } from '../control/control-methods.js';
import type { LocalDispatcher } from '../dispatcher/local-dispatcher.js';
import { describeError, errorMessage } from '../errors/describe-error.js';
import { checkHealth, type HealthResult } from '../http/health.js';
import { OpsHttpServer } from '../http/http-server.js';
import { buildWorkerInfo } from '../http/worker-info.js';
import type { InferenceHealth, SharedInference } from '../inference/shared-inference.js';
import type { SessionAttribution } from '../introspection/attribution.js';
import type { LoopMonitor } from '../introspection/loop-monitor.js';
import type { RecentEvents } from '../introspection/recent-events.js';
import type { SessionRegistry } from '../introspection/registry.js';
import { buildSnapshot } from '../introspection/snapshot.js';
import { IpcServer, type IpcServerOptions } from '../ipc/ipc-server.js';
import type { LoadMonitor } from '../load/load-monitor.js';
import type { LogFormat } from '../logging/logger.js';
import type { WorkerMetrics } from '../metrics/worker-metrics.js';
import {
  recycleSnapshot,
  type RecycleMonitor,
  type RecycleState,
} from '../recycle/recycle-monitor.js';
import {
  describeCondition,
  type RecycleCondition,
  type RecycleReadings,
} from '../recycle/recycle-policy.js';
import type { SessionHost } from '../session/session-host.js';
import type { AuditActor, FleetStore } from '../store/fleet-store.js';
import type { SupervisorLink } from '../supervisor/supervisor-link.js';
import type { TenantConfigResolver } from '../tenancy/config-resolver.js';
import type { WorkerHost } from '../worker/worker-host.js';
import type { Cleanup } from './cleanup.js';
import { storeState, type FleetHeartbeat, type StoreState } from './fleet-setup.js';
import { collectFootprint } from './footprint.js';
import { loadWorkerConfig } from './part-settings.js';
import type { RunningConfig } from './running-config.js';
import { StartupPhases } from './startup-phases.js';
import { VERSION } from './version.js';
import { applyReloadedConfig, buildWorkerParts, type WorkerParts } from './worker-parts.js';

/** Sampled attribution watches this much of each 1 s interval: a tenth of the continuous cost. */
const ATTRIBUTION_SAMPLE_MS = 100;
/** How far back `GET /` looks for a stalled loop: a probe every 10 s sees every stall once. */
const STALL_WINDOW_MS = 10_000;
/** Stock agents-js serves health on 8081 in production. */
const START_HTTP_PORT = 8081;

/** How the worker stopped: clean when every session ended by itself before the drain deadline. */
export interface StopOutcome {
  clean: boolean;
  /** Sessions the worker had to close (drain timeout, or a stop that could not drain). */
  forcedSessions: number;
  /** The worker stopped because a recycle condition fired. */
  recycled: boolean;
}

export interface WorkerRuntimeOptions {
  configFile?: string;
  cwd?: string;
  logger: Logger;
  /** Serve a local dispatcher when no LiveKit URL is configured. */
  dev: boolean;
  devPort?: number;
  /** Overrides the socket directory (tests). */
  socketPath?: string;
  /** Overrides what health reads about the inference process (tests); default: the worker's own. */
  inference?: () => InferenceHealth;
  /** Level of agents-js's and its plugins' lines (default warn; never below the worker's level). */
  frameworkLogLevel?: string;
  /** The worker logger's format, which agents-js's lines share. */
  logFormat?: LogFormat;
  /** Overrides the control socket's limits (tests). */
  ipcLimits?: Pick<IpcServerOptions, 'idleTimeoutMs' | 'maxConnections'>;
  /**
   * Set when `openrtc start --workers` forked this worker: it reports ready, asks before
   * recycling, and listens on an ephemeral HTTP port (its replacement overlaps it).
   */
  supervisor?: SupervisorLink;
  /** The supervisor's local dispatcher, which `openrtc dispatch` asks the worker for. */
  localDispatcherUrl?: string;
  /** `--redis URL`: the Redis store for this run, whatever the config's `tenants.store` says. */
  redisUrl?: string;
}

/**
 * One worker process: config, admission, sessions, the LiveKit connections, introspection and
 * the control socket, wired together. `WorkerRuntime.start()` builds every part, then serves, and
 * returns the runtime once it is registered; `stopped` resolves when it has drained and closed.
 * No one holds a runtime before all of its parts exist: its control socket and HTTP endpoint
 * listen only once it is built, so a request during start-up reads a whole worker.
 */
export class WorkerRuntime {
  readonly registry: SessionRegistry;
  readonly events: RecentEvents;
  /** Epoch ms. */
  readonly startedAt: number;
  readonly admission: Admission;
  readonly resolver: TenantConfigResolver;
  /** Live sessions keyed by job id (the registry keys the same sessions by session id). */
  readonly sessions: SessionHost;
  readonly worker: WorkerHost;
  /** Set when no LiveKit URL is configured and the worker runs `openrtc dev`. */
  readonly dispatcher: LocalDispatcher | undefined;
  readonly ipc: IpcServer;
  readonly socketPath: string;
  readonly url: string;
  readonly loop: LoopMonitor;
  readonly attribution: SessionAttribution;
  readonly load: LoadMonitor;
  readonly metrics: WorkerMetrics;
  /** Absent when `http.port` is false. */
  readonly http: OpsHttpServer | undefined;
  /** Set in fleet mode (`tenants.store: { redis }`). */
  readonly fleet: FleetAdmission | undefined;
  /** This worker's id in the fleet: lease ids, heartbeats and audit records carry it. */
  readonly fleetWorkerId: string;
  /** The shared inference process; `inference.state` and `inference.health()` are what health reads. */
  readonly inference: SharedInference;
  readonly recycle: RecycleMonitor;
  readonly stopped: Promise<StopOutcome>;
  readonly #options: WorkerRuntimeOptions;
  readonly #running: RunningConfig;
  readonly #heartbeat: FleetHeartbeat | undefined;
  readonly #opened: Cleanup;
  readonly #resolveStopped: (outcome: StopOutcome) => void;
  #recycleState: RecycleState = 'serving';
  #stopping: Promise<StopOutcome> | undefined;

  /** Builds every part, then listens and registers. A failure closes whatever it had opened. */
  static async start(options: WorkerRuntimeOptions): Promise<WorkerRuntime> {
    // Where start-up time goes, in the ready line: operators restarting a fleet care.
    const phases = new StartupPhases();
    const parts = await buildWorkerParts(options, phases);
    // A worker that cannot start must not keep a socket or a port open and hang the process.
    let runtime: WorkerRuntime;
    try {
      runtime = new WorkerRuntime(options, parts);
    } catch (err) {
      await parts.opened.run();
      throw err;
    }
    try {
      await runtime.#serve(phases);
    } catch (err) {
      await runtime.#release();
      throw err;
    }
    return runtime;
  }

  private constructor(options: WorkerRuntimeOptions, parts: WorkerParts) {
    this.#options = options;
    this.#running = parts.running;
    this.startedAt = parts.startedAt;
    this.fleetWorkerId = parts.fleetWorkerId;
    this.registry = parts.registry;
    this.events = parts.events;
    this.loop = parts.loop;
    this.load = parts.load;
    this.metrics = parts.metrics;
    this.resolver = parts.resolver;
    this.fleet = parts.fleet;
    this.#heartbeat = parts.heartbeat;
    this.admission = parts.admission;
    this.attribution = parts.attribution;
    this.inference = parts.inference;
    this.sessions = parts.sessions;
    this.recycle = parts.recycle;
    this.dispatcher = parts.dispatcher;
    this.url = parts.url;
    this.worker = parts.worker;
    this.socketPath = parts.socketPath;
    this.#opened = parts.opened;
    const stopped = settleLater<StopOutcome>();
    this.stopped = stopped.promise;
    this.#resolveStopped = stopped.resolve;

    const { logger } = options;
    const audit = auditSink(logger, (entry) =>
      this.events.push({
        kind: 'audit',
        tenant: entry.tenant,
        message: `${entry.action}${entry.old !== undefined ? ` ${JSON.stringify(entry.old)} -> ${JSON.stringify(entry.new)}` : ''}`,
      }),
    );
    this.ipc = new IpcServer({
      socketPath: this.socketPath,
      logger,
      // When viewers hold every connection, the runbook commands still get through.
      operatorMethods: OPERATOR_METHODS,
      ...options.ipcLimits,
      handlers: controlMethods(this.#controlTarget(), audit),
    });
    this.http = this.#httpServer();
  }

  get config(): OpenrtcConfig {
    return this.#running.config;
  }

  get loaded(): LoadedConfig {
    return this.#running.loaded;
  }

  get logger(): Logger {
    return this.#options.logger;
  }

  /** Stops what `#serve` started and closes every part: for a start that failed part way. */
  async #release(): Promise<void> {
    this.#stopMonitors();
    await Promise.allSettled([this.worker.stop(), this.http?.close(), this.ipc.close()]);
    await this.#opened.run();
  }

  #stopMonitors(): void {
    this.recycle.stop();
    this.loop.stop();
    this.load.stop();
    this.attribution.disable();
  }

  async #serve(phases: StartupPhases): Promise<void> {
    const { logger } = this;
    const { config } = this;
    await this.ipc.listen();
    this.loop.start();
    this.load.start();
    this.#applyAttribution(config.introspection.attribution);
    // Up before registering: a probe sees 503 "not connected" while the worker connects, not a refusal.
    if (this.http) {
      await this.http.listen();
      // Operators and tests find an ephemeral port here.
      logger.info(
        { http: this.http.url, port: this.http.port },
        `http server listening on ${this.http.url} (GET / health, /worker, /metrics)`,
      );
    }
    phases.mark('listen');
    if (this.fleet) {
      const { resolver } = this;
      this.#opened.add(
        'fleet invalidation subscription',
        this.fleet.store.onInvalidation((tenant) => {
          if (tenant === null) resolver.invalidateAll();
          else resolver.invalidate(tenant);
          logger.info(
            { tenant },
            `tenant config dropped by a fleet reload (${tenant ?? 'all tenants'})`,
          );
        }),
      );
      this.fleet.start();
      await this.fleet.renew();
      if (this.#heartbeat) {
        const heartbeat = this.#heartbeat;
        heartbeat.start();
        this.#opened.add('fleet heartbeat', () => heartbeat.stop());
      }
    }
    await this.worker.start();
    phases.mark('register');
    this.recycle.start((c, r) => this.#onRecycleCondition(c, r));
    const agents = Object.keys(config.agents);
    logger.info(
      {
        socket: this.socketPath,
        agents,
        url: this.url,
        ...(this.http ? { http: this.http.url } : {}),
        ...(this.#options.supervisor ? { supervised: true } : {}),
        // From process start: Node, module loading, then each phase of start().
        startup_ms: { total: Math.round(performance.now()), ...phases.durations() },
      },
      `openrtc worker "${config.name}" ready`,
    );
    this.#options.supervisor?.ready();
  }

  /**
   * A recycle condition fired (once per worker). Supervised, the worker keeps serving until its
   * replacement is, then drains; alone, it drains now and exits with the recycle code, for
   * systemd or Kubernetes to start a fresh one.
   */
  #onRecycleCondition(c: RecycleCondition, r: RecycleReadings): void {
    if (this.#stopping) return;
    const label = describeCondition(c);
    const link = this.#options.supervisor;
    this.logger.warn(
      {
        condition: c.name,
        value: Math.round(c.value * 10) / 10,
        limit: c.limit,
        sessions_served: r.sessionsServed,
        rss_mib: Math.round(r.rssMiB),
        native_growth_mib: Math.round(r.nativeGrowthMiB),
        uptime_s: Math.round((r.now - r.startedAt) / 1000),
        live: this.registry.size,
      },
      link
        ? `recycle: ${label}; starting a replacement, then draining this worker`
        : `recycle: ${label}; draining, then exiting with code 75 for a fresh process to take over`,
    );
    this.events.push({ kind: 'worker', message: `recycle: ${label}` });
    void (async () => {
      if (link) {
        this.#recycleState = 'handover';
        const answer = await link.requestRecycle(label);
        if (answer === 'timeout')
          this.logger.warn('no replacement was serving in time; recycling anyway');
      }
      if (this.#stopping) return;
      this.#recycleState = 'draining';
      void this.stop(this.config.drainTimeoutMs, true);
    })();
  }

  /** Built here, listening from `#serve`: its routes read the whole runtime. */
  #httpServer(): OpsHttpServer | undefined {
    const { http } = this.config;
    if (http.port === false) return undefined;
    const { dev, supervisor } = this.#options;
    return new OpsHttpServer({
      host: http.host ?? (dev ? '127.0.0.1' : '0.0.0.0'),
      // Supervised workers overlap their replacements, so none can own a fixed port.
      port: supervisor ? 0 : (http.port ?? (dev ? 0 : START_HTTP_PORT)),
      logger: this.logger,
      routes: {
        health: () => this.health(),
        worker: () => this.workerInfo(),
        metrics: () => this.metrics.metrics(),
      },
    });
  }

  health(): HealthResult {
    return checkHealth({
      draining: this.admission.draining,
      recycling: this.#recycleState === 'draining',
      inference: this.#inferenceHealth(),
      registered: this.worker.registered,
      loopStalled: this.load.loopDelay(STALL_WINDOW_MS).maxMs >= this.config.http.loopStallMs,
    });
  }

  #inferenceHealth(): InferenceHealth {
    return this.#options.inference?.() ?? this.inference.health();
  }

  workerInfo() {
    const { overload } = this.config;
    const delay = this.load.loopDelay(overload.windowMs);
    const byTenant = new Map<string, number>();
    for (const s of this.registry.list()) byTenant.set(s.tenant, (byTenant.get(s.tenant) ?? 0) + 1);
    return buildWorkerInfo({
      agentNames: Object.keys(this.config.agents),
      workerName: this.config.name,
      openrtcVersion: VERSION,
      sdkVersion: agentsVersion,
      startedAt: this.startedAt,
      now: systemClock.now(),
      registrations: this.worker.registrations(),
      health: this.health(),
      draining: this.admission.draining,
      load: this.worker.currentLoad(),
      overload: {
        enabled: overload.enabled === true,
        maxLoopDelayMs: overload.maxLoopDelayMs,
        windowMs: overload.windowMs,
        loopDelayP99Ms: delay.p99Ms,
        loopDelayMaxMs: delay.maxMs,
      },
      liveSessions: this.registry.size,
      inUse: this.admission.inUse(),
      capacity: this.admission.capacity(),
      tenants: this.admission.tenantStats(),
      sessionsByTenant: byTenant,
      inference: this.#inferenceHealth(),
      store: this.storeState(),
      jobUpdatesQueued: this.worker.queuedJobUpdates(),
    });
  }

  /** What the worker holds: every per-job and per-session map, handles, the memory split. */
  footprint() {
    return collectFootprint(this.sessions.sessionsServed, [
      this.sessions,
      this.admission,
      this.worker,
      this.ipc,
      {
        footprint: () => ({
          registry: this.registry.size,
          'attribution.sessions': this.attribution.trackedSessions,
        }),
      },
    ]);
  }

  #toFleet(act: (store: FleetStore, by: AuditActor) => Promise<unknown>): void {
    if (!this.fleet) return;
    const by = {
      worker: this.fleetWorkerId,
      operator: 'control socket',
      source: 'worker' as const,
    };
    act(this.fleet.store, by).catch((err: unknown) =>
      this.logger.warn(
        { store: 'degraded' },
        `fleet control not shared with the other workers: ${err instanceof Error ? err.message : String(err)}; it applies to this worker only`,
      ),
    );
  }

  /** What `/worker`, `/metrics`, the snapshot and `top` say about the fleet store. */
  storeState(): StoreState {
    return storeState(this.fleet, this.startedAt);
  }

  snapshot() {
    return buildSnapshot({
      store: () => this.storeState(),
      worker: { name: this.config.name, version: VERSION, startedAt: this.startedAt },
      now: () => systemClock.now(),
      registry: this.registry,
      admission: this.admission,
      loop: this.loop,
      attribution: this.attribution,
      events: this.events,
      inference: this.inference,
      footprint: () => this.footprint(),
      recycle: () => recycleSnapshot(this.recycle.status(), this.#recycleState),
      memory: () => {
        const m = process.memoryUsage();
        return { rss: m.rss, heapUsed: m.heapUsed };
      },
      load: () => {
        const r = this.worker.currentLoad();
        const { overload } = this.config;
        const overloaded =
          overload.enabled === true &&
          this.load.loopDelay(overload.windowMs).p99Ms > overload.maxLoopDelayMs;
        return {
          load: r.load,
          full: r.full,
          ...(r.reason ? { fullReason: r.reason } : {}),
          overloaded,
        };
      },
    });
  }

  /** Stops accepting, waits for live sessions, then closes everything. Safe to call twice. */
  stop(timeoutMs = this.config.drainTimeoutMs, recycled = false): Promise<StopOutcome> {
    this.#stopping ??= (async () => {
      if (!recycled && this.#recycleState === 'handover') this.#recycleState = 'serving';
      const graceMs = this.config.shutdownGraceMs;
      this.logger.info(
        { timeout_ms: timeoutMs, grace_ms: graceMs, live: this.registry.size },
        'draining',
      );
      this.events.push({
        kind: 'drain',
        message: `draining (${this.registry.size} live sessions, timeout ${timeoutMs} ms)`,
      });
      let outcome: StopOutcome = { clean: false, forcedSessions: this.registry.size, recycled };
      try {
        const drained = await this.worker.drain(timeoutMs, graceMs);
        outcome = {
          clean: drained.forcedSessions === 0,
          forcedSessions: drained.forcedSessions,
          recycled,
        };
      } catch (err) {
        this.logger.error({ err }, 'drain failed; closing anyway');
      } finally {
        this.#stopMonitors();
        await this.http?.close();
        await this.ipc.close();
        await this.#opened.run();
        // rtc-node's native side keeps the process alive once any room has connected; every
        // session is gone by now, so release it rather than leave it to the exit grace.
        await disposeMedia().catch((err: unknown) =>
          this.logger.warn(
            { error: describeError(err) },
            'media runtime did not shut down cleanly',
          ),
        );
        this.logger.info(
          {
            clean: outcome.clean,
            forced_sessions: outcome.forcedSessions,
            ...(recycled ? { recycled: true } : {}),
          },
          'worker stopped',
        );
        this.#resolveStopped(outcome);
      }
      return outcome;
    })();
    return this.#stopping;
  }

  /** An operator can change what attribution costs a busy worker without a restart. */
  #applyAttribution(mode: AttributionMode): void {
    if (mode === 'off') {
      this.attribution.disable();
      return;
    }
    this.attribution.setSampleMs(mode === 'sampled' ? ATTRIBUTION_SAMPLE_MS : undefined);
    this.attribution.enable();
  }

  /** Re-reads the config file; an invalid one is refused (and logged) and the running config stays. */
  async reloadConfig(): Promise<ConfigReload> {
    let next: LoadedConfig;
    try {
      next = await loadWorkerConfig(
        this.loaded.file,
        this.#options.cwd,
        this.#options.dev,
        this.#options.redisUrl,
      );
    } catch (err) {
      const problems = err instanceof ConfigError ? err.problems : [errorMessage(err)];
      this.logger.error({ problems }, 'config reload refused; the running config stays');
      this.events.push({
        kind: 'config',
        message: `config reload refused: ${problems.join('; ')}`,
      });
      throw err;
    }
    const changes = diffConfigs(this.loaded.config, next.config);
    applyReloadedConfig(this, next.config);
    this.#applyAttribution(next.config.introspection.attribution);
    const bound = this.loaded.config;
    if (next.config.inference.enabled !== bound.inference.enabled) {
      this.logger.warn(
        { running: bound.inference.enabled, in_file: next.config.inference.enabled },
        'inference.enabled is read at start: drain and restart the worker to change it',
      );
    }
    // Agents, LiveKit credentials, the name, the HTTP listener and the inference process are bound
    // at start; a change there needs a drain and restart.
    this.#running.replace({
      ...next,
      config: {
        ...next.config,
        agents: bound.agents,
        livekit: bound.livekit,
        name: bound.name,
        http: bound.http,
        inference: bound.inference,
      },
    });
    const result: ConfigReload = { ...changes, files: next.files, wholeGraph: next.wholeGraph };
    this.logger.info(
      {
        changed: result.changed,
        not_compared: result.notCompared,
        needs_restart: result.needsRestart,
        files: result.files,
        whole_graph: result.wholeGraph,
      },
      'config reloaded',
    );
    if (result.needsRestart.length)
      this.logger.warn(
        { settings: result.needsRestart },
        'these settings changed: they apply at the next start',
      );
    this.events.push({
      kind: 'config',
      message: `config reloaded; ${result.changed.length ? `changed: ${result.changed.join(', ')}` : 'no setting changed'}`,
    });
    return result;
  }

  #controlTarget(): ControlTarget {
    return {
      // The clock admission reads: a breaker tripped for 60 s reports 60 s left, not 61.
      now: () => systemClock.now(),
      snapshot: () => this.snapshot(),
      tenantStats: () => this.admission.tenantStats(),
      rejectedWithoutTenant: () => this.admission.rejectedWithoutTenant(),
      workerInfo: () => ({
        name: this.config.name,
        pid: process.pid,
        version: VERSION,
        localDispatcherUrl: this.dispatcher?.url ?? this.#options.localDispatcherUrl ?? null,
      }),
      tenantStat: (t) => this.admission.tenantStat(t),
      knownTenant: (t) => {
        const cfg = this.config.tenants;
        return (
          this.admission.knownTenant(t) ||
          t === cfg.defaultTenant ||
          Object.hasOwn(cfg.maxSessions, t) ||
          (typeof cfg.config === 'object' && Object.hasOwn(cfg.config, t))
        );
      },
      configuredCap: (t) => this.admission.configuredCap(t),
      // In fleet mode each control acts here at once and on every other worker through the store.
      setTenantCap: (t, cap) => {
        this.admission.setTenantCap(t, cap);
        this.#toFleet((store, by) => store.setCapOverride(t, cap, by));
      },
      tripBreaker: (t, forMs) => {
        this.admission.tripBreaker(t, forMs);
        this.#toFleet((store, by) =>
          store.breakerTrip(
            t,
            forMs ?? this.config.circuitBreaker.cooldownMs,
            by,
            this.config.circuitBreaker,
          ),
        );
      },
      resetBreaker: (t) => {
        this.admission.resetBreaker(t);
        this.#toFleet((store, by) => store.breakerReset(t, by, this.config.circuitBreaker));
      },
      invalidateTenantConfig: (t) => {
        this.resolver.invalidate(t);
        this.#toFleet((store, by) => store.publishInvalidation(t, by));
      },
      invalidateAllTenantConfigs: () => {
        this.resolver.invalidateAll();
        this.#toFleet((store, by) => store.publishInvalidation(null, by));
      },
      describeTenantConfig: (t) => this.resolver.describe(t),
      drain: (timeoutMs) => {
        const alreadyDraining = this.admission.draining;
        const timeout = timeoutMs ?? this.config.drainTimeoutMs;
        const liveSessions = this.registry.size;
        // Answer first: the socket closes once the drain completes.
        setImmediate(() => void this.stop(timeout));
        return { alreadyDraining, liveSessions, activeSessions: liveSessions, timeoutMs: timeout };
      },
      reloadConfig: () => this.reloadConfig(),
    };
  }
}

/** A promise and the function that settles it, for a promise made before whatever settles it. */
function settleLater<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve: (value: T) => void = () => undefined;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}
