import os from 'node:os';
import { version as agentsVersion } from '@livekit/agents';
import { dispose as disposeMedia } from '@livekit/rtc-node';
import type { Logger } from 'pino';
import { Admission, OTHER_TENANTS_ROW } from '../admission/admission.js';
import { systemClock } from '../clock/clock.js';
import { MAX_SESSION_DURATION_REASON } from '../admission/types.js';
import { loadAgents } from '../config/load-agents.js';
import { diffConfigs, type ConfigReload } from '../config/config-diff.js';
import { ConfigError } from '../config/config-error.js';
import { loadConfig, type LoadedConfig } from '../config/load-config.js';
import { useRedisStore } from '../config/store-override.js';
import type { AttributionMode, OpenrtcConfig } from '../config/schema.js';
import { auditSink } from '../control/audit.js';
import { OPERATOR_METHODS } from '../control/contract.js';
import { controlMethods, type ControlTarget } from '../control/control-methods.js';
import { DEV_CREDENTIALS, DEV_PORT } from '../dispatcher/dev-defaults.js';
import { checkHealth, type HealthResult } from '../http/health.js';
import { OpsHttpServer } from '../http/http-server.js';
import { buildWorkerInfo } from '../http/worker-info.js';
import { LoadMonitor } from '../load/load-monitor.js';
import type { LoadSettings } from '../load/load-model.js';
import { WorkerMetrics } from '../metrics/worker-metrics.js';
import { LocalDispatcher } from '../dispatcher/local-dispatcher.js';
import { SessionAttribution } from '../introspection/attribution.js';
import { LoopMonitor } from '../introspection/loop-monitor.js';
import { RecentEvents } from '../introspection/recent-events.js';
import { SessionRegistry } from '../introspection/registry.js';
import { buildSnapshot } from '../introspection/snapshot.js';
import { collectFootprint } from './footprint.js';
import { IpcServer, type IpcServerOptions } from '../ipc/ipc-server.js';
import { workerSocketPath } from '../ipc/socket-path.js';
import { SharedInference, type InferenceHealth } from '../inference/shared-inference.js';
import { routeFrameworkLogs } from '../logging/framework-logger.js';
import type { LogFormat } from '../logging/logger.js';
import { setProcessLogger } from '../logging/process-logger.js';
import { routeProcessWarnings } from '../logging/process-warnings.js';
import { knownSecrets } from '../secrets/known-secrets.js';
import { SessionHost } from '../session/session-host.js';
import { TenantConfigResolver } from '../tenancy/config-resolver.js';
import { rememberTenantSecrets } from '../tenancy/redact.js';
import { WorkerHost } from '../worker/worker-host.js';
import { RecycleMonitor, recycleSnapshot, type RecycleState } from '../recycle/recycle-monitor.js';
import {
  describeCondition,
  type RecycleCondition,
  type RecycleLimits,
  type RecycleReadings,
} from '../recycle/recycle-policy.js';
import type { SupervisorLink } from '../supervisor/supervisor-link.js';
import { VERSION } from './version.js';
import { admissionOptions } from './admission-options.js';
import { fleetWorkerId, openFleet, REDIS_URL_ENV } from './fleet-setup.js';
import { urlPassword } from '../store/redis-store.js';
import type { FleetAdmission } from '../admission/fleet-admission.js';
import type { StoreHealth } from '../store/store-health.js';
import type { AuditActor, FleetStore } from '../store/fleet-store.js';
import { warmStart, type WarmStart } from './warm-start.js';
import { describeError, errorMessage } from '../errors/describe-error.js';

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
 * the control socket, wired together. `start()` returns once the worker is registered and
 * serving; `stopped` resolves when it has drained and closed.
 */
export class WorkerRuntime {
  readonly registry = new SessionRegistry();
  readonly events = new RecentEvents(200);
  readonly startedAt = Date.now();
  loaded!: LoadedConfig;
  admission!: Admission;
  resolver!: TenantConfigResolver;
  sessions!: SessionHost;
  worker!: WorkerHost;
  dispatcher: LocalDispatcher | undefined;
  ipc!: IpcServer;
  socketPath!: string;
  url!: string;
  readonly loop = new LoopMonitor();
  attribution!: SessionAttribution;
  load!: LoadMonitor;
  metrics!: WorkerMetrics;
  http: OpsHttpServer | undefined;
  /** Set in fleet mode (`tenants.store: { redis }`). */
  fleet: FleetAdmission | undefined;
  /** This worker's id in the fleet: lease ids, heartbeats and audit records carry it. */
  readonly fleetWorkerId = fleetWorkerId(process.env.OPENRTC_WORKER_NAME ?? 'openrtc');
  readonly #fleetCaps = new Set<string>();
  #unsubscribeInvalidation: () => void = () => {};
  #heartbeat: NodeJS.Timeout | undefined;
  /** The shared inference process; `inference.state` and `inference.health()` are what health reads. */
  inference!: SharedInference;
  recycle!: RecycleMonitor;
  #recycleState: RecycleState = 'serving';
  #warm: WarmStart | undefined;
  #stopping: Promise<StopOutcome> | undefined;
  #unrouteWarnings: () => void = () => undefined;
  #resolveStopped!: (outcome: StopOutcome) => void;
  readonly stopped = new Promise<StopOutcome>((resolve) => (this.#resolveStopped = resolve));

  constructor(private readonly options: WorkerRuntimeOptions) {}

  get config(): OpenrtcConfig {
    return this.loaded.config;
  }

  get logger(): Logger {
    return this.options.logger;
  }

  async start(): Promise<void> {
    try {
      await this.#start();
    } catch (err) {
      // A worker that cannot start must not keep a socket or a port open and hang the process.
      await this.#release();
      throw err;
    }
  }

  async #release(): Promise<void> {
    this.recycle?.stop();
    this.loop.stop();
    this.load?.stop();
    this.attribution?.disable();
    await Promise.allSettled([
      this.worker?.stop(),
      this.http?.close(),
      this.ipc?.close(),
      this.dispatcher?.close(),
      this.#warm?.closed,
      this.inference?.close(),
    ]);
    this.fleet?.stop();
    clearInterval(this.#heartbeat);
    await this.fleet?.store.close();
    this.#unrouteWarnings();
  }

  async #start(): Promise<void> {
    const { logger } = this.options;
    // Where start-up time goes, in the ready line: operators restarting a fleet care.
    const phases = new StartupPhases();
    knownSecrets.collectEnv(process.env);
    this.loaded = this.#withCommandDefaults(
      await loadConfig(this.options.configFile, this.options.cwd),
    );
    phases.mark('config');
    const config = this.loaded.config;
    rememberConfigSecrets(config);
    setProcessLogger(logger);
    // agents-js logs through its own global logger; it must exist before any session runs.
    const framework = routeFrameworkLogs(logger, {
      ...(this.options.frameworkLogLevel !== undefined
        ? { level: this.options.frameworkLogLevel }
        : {}),
      ...(this.options.logFormat !== undefined ? { format: this.options.logFormat } : {}),
    });
    this.#unrouteWarnings = routeProcessWarnings(logger);

    this.load = new LoadMonitor({ settings: loadSettings(config) });
    this.recycle = new RecycleMonitor({
      limits: recycleLimits(config),
      clock: systemClock,
      memory: () => process.memoryUsage(),
      onExceeded: (c, r) => this.#onRecycleCondition(c, r),
    });
    this.metrics = new WorkerMetrics({
      maxTenants: config.metrics.maxTenants,
      configuredTenants: configuredTenants(config),
      sources: {
        tenantStats: () => this.admission.tenantStats(),
        activeJobs: () => this.registry.size,
        load: () => this.worker.currentLoad(),
        loopDelay: () => this.load.loopDelay(this.config.overload.windowMs),
        draining: () => this.admission.draining,
        jobUpdatesQueued: () => this.worker.queuedJobUpdates(),
        childProcesses: () => (this.inference?.pid !== undefined ? 1 : 0),
        store: () => ({
          kind: this.fleet ? 'redis' : 'memory',
          up: this.storeState().state === 'ok',
          leasesHeld: this.fleet?.heldLeases() ?? 0,
          ...(this.fleet?.counters ?? {
            leasesLost: 0,
            leasesReasserted: 0,
            fallbackDecisions: 0,
          }),
        }),
        recycle: () => {
          const status = this.recycle.status();
          return {
            sessionsServed: status.sessionsServed,
            rssMiBPer1000: status.memoryTrend.rssMiBPer1000,
            nativeMiBPer1000: status.memoryTrend.nativeMiBPer1000,
            conditions: this.recycle.conditions(),
            recycling: status.fired !== undefined,
          };
        },
      },
    });
    const metrics = this.metrics;
    this.resolver = new TenantConfigResolver({
      source: config.tenants.config,
      clock: systemClock,
      ...config.tenants.configCache,
      events: {
        cacheHit: (tenant) => metrics.configCacheHit({ tenant }),
        loaded: (tenant, result) => metrics.configLoaded({ tenant, result }),
      },
    });
    const opened = await openFleet(config, this.fleetWorkerId, logger, {
      onCapOverrides: (caps) => this.#applyFleetCaps(caps),
    });
    this.fleet = opened?.fleet;
    this.admission = new Admission({
      ...admissionOptions(config),
      ...(this.fleet ? { fleet: this.fleet } : {}),
      clock: systemClock,
      resolver: this.resolver,
      loopDelayP99: (windowMs) => this.load.loopDelay(windowMs).p99Ms,
      events: {
        onAccept: (e) => metrics.admissionAccepted(e),
        onSessionEnd: (e) => metrics.sessionOutcome(e),
        onReject: (e) => {
          metrics.admissionRejected(e);
          logger.info(
            { tenant: e.tenant, job_id: e.jobId, reason: e.reason },
            `rejected job: ${e.reason}: ${e.message}`,
          );
          this.events.push({
            kind: 'reject',
            tenant: e.tenant,
            message: `${e.reason}: ${e.message}`,
          });
        },
        onBreakerTransition: (e) => {
          logger.warn(
            {
              tenant: e.tenant,
              from: e.from,
              to: e.to,
              failures: e.failures,
              samples: e.samples,
              cooldown_ms: e.cooldownMs,
              manual: e.manual,
            },
            `circuit breaker ${e.from} -> ${e.to}: ${e.reason}`,
          );
          this.events.push({
            kind: 'breaker',
            tenant: e.tenant,
            message: `${e.from} -> ${e.to}: ${e.reason}`,
          });
        },
        onReservationExpired: (e) => {
          logger.warn(
            { tenant: e.tenant, job_id: e.jobId },
            'no assignment arrived in time; slot released',
          );
        },
      },
    });

    const agents = await loadAgents(this.loaded.file, config.agents);
    phases.mark('agents');
    this.attribution = new SessionAttribution({
      blockThresholdMs: config.introspection.blockThresholdMs,
      slowFlagMs: config.introspection.slowFlagMs,
      onSlowSession: (e) => {
        logger.warn(
          {
            tenant: e.tenant,
            session_id: e.sessionId,
            agent: e.agent,
            duration_ms: Math.round(e.durationMs),
          },
          'slow_session',
        );
        this.events.push({
          kind: 'slow_session',
          tenant: e.tenant,
          message: `${e.sessionId} blocked the event loop for ${Math.round(e.durationMs)} ms`,
        });
      },
      onUnattributedBlock: (durationMs) => {
        const ms = Math.round(durationMs);
        logger.warn(
          { duration_ms: ms, catch_ms: this.attribution.catchMs },
          'event loop blocked between attribution samples; attributing every callback for a while to name the session',
        );
        this.events.push({
          kind: 'slow_session',
          message: `the event loop was blocked for at least ${ms} ms between samples; watching every callback`,
        });
      },
    });
    this.inference = new SharedInference({
      enabled: config.inference.enabled,
      logger,
      logLevel: framework.level,
      onEvent: (message) => this.events.push({ kind: 'worker', message }),
    });
    this.sessions = new SessionHost({
      agents,
      registry: this.registry,
      logger,
      attribution: this.attribution,
      inference: this.inference,
      shutdownGraceMs: config.shutdownGraceMs,
      maxSessionDurationMs: config.maxSessionDurationMs,
      roomReconnectTimeoutMs: config.roomReconnectTimeoutMs,
      onPrewarmed: (e) => metrics.processInitialized(e.durationMs),
      onSessionEnded: (e) => metrics.sessionEnded(e),
    });
    this.sessions.subscribe({
      ended: (e) => {
        this.recycle.sessionEnded();
        if (e.outcome.reason !== MAX_SESSION_DURATION_REASON) return;
        const limit = this.config.maxSessionDurationMs ?? 0;
        this.events.push({
          kind: 'session',
          tenant: e.tenant,
          message: `${e.sessionId} reached the ${limit} ms session limit after ${Math.round(e.durationMs / 1000)} s; ended`,
        });
      },
    });
    await this.sessions.prewarmAll();
    phases.mark('prewarm');
    // After the agents loaded and prewarmed (plugins register their runners then), before
    // registering with LiveKit, as stock: no session may start without it.
    await this.inference.start();
    phases.mark('inference');
    if (config.warmStart) {
      this.#warm = await warmStart(logger);
      phases.mark('warm_start');
    }

    let { url, apiKey, apiSecret } = config.livekit;
    if (!url) {
      if (!this.options.dev) {
        throw new Error(
          'no LiveKit URL: set LIVEKIT_URL (or livekit.url in the config), or use `openrtc dev` for a local dispatcher',
        );
      }
      this.dispatcher = await LocalDispatcher.start({
        port: this.options.devPort ?? DEV_PORT,
        ...DEV_CREDENTIALS,
        logger,
      });
      url = this.dispatcher.url;
      apiKey = DEV_CREDENTIALS.apiKey;
      apiSecret = DEV_CREDENTIALS.apiSecret;
      logger.info(
        { url },
        'no LIVEKIT_URL: serving a local dispatcher (sessions run without media)',
      );
    }
    if (!apiKey || !apiSecret)
      throw new Error(
        'LiveKit API key and secret are required (LIVEKIT_API_KEY, LIVEKIT_API_SECRET)',
      );
    this.url = url;

    this.worker = new WorkerHost({
      url,
      apiKey,
      apiSecret,
      agentNames: Object.keys(agents),
      admission: this.admission,
      sessions: this.sessions,
      logger,
      workerName: config.name,
      version: VERSION,
      load: this.load,
    });

    this.socketPath =
      this.options.socketPath ??
      (await workerSocketPath(config.name, process.env, process.pid, (skipped, reason, using) =>
        logger.warn(
          { skipped, using },
          `${reason}; using ${using} instead (remove ${skipped}, or set OPENRTC_RUNTIME_DIR)`,
        ),
      ));
    const audit = auditSink(logger, (entry) =>
      this.events.push({
        kind: 'audit',
        tenant: entry.tenant,
        message: `${entry.action}${entry.old !== undefined ? ` ${JSON.stringify(entry.old)} -> ${JSON.stringify(entry.new)}` : ''}`,
      }),
    );
    this.ipc = await IpcServer.listen({
      socketPath: this.socketPath,
      logger,
      // When viewers hold every connection, the runbook commands still get through.
      operatorMethods: OPERATOR_METHODS,
      ...this.options.ipcLimits,
      handlers: controlMethods(this.controlTarget(), audit),
    });
    this.loop.start();
    this.load.start();
    this.#applyAttribution(config.introspection.attribution);
    // Up before registering: a probe sees 503 "not connected" while the worker connects, not a refusal.
    this.http = await this.#startHttp();
    phases.mark('listen');
    if (this.fleet) {
      this.#unsubscribeInvalidation = this.fleet.store.onInvalidation((tenant) => {
        if (tenant === null) this.resolver.invalidateAll();
        else this.resolver.invalidate(tenant);
        logger.info(
          { tenant },
          `tenant config dropped by a fleet reload (${tenant ?? 'all tenants'})`,
        );
      });
      this.fleet.start();
      await this.fleet.renew();
      this.#startHeartbeat();
    }
    await this.worker.start();
    phases.mark('register');
    this.recycle.start();
    logger.info(
      {
        socket: this.socketPath,
        agents: Object.keys(agents),
        url,
        ...(this.http ? { http: this.http.url } : {}),
        ...(this.options.supervisor ? { supervised: true } : {}),
        // From process start: Node, module loading, then each phase of start().
        startup_ms: { total: Math.round(performance.now()), ...phases.durations() },
      },
      `openrtc worker "${config.name}" ready`,
    );
    this.options.supervisor?.ready();
  }

  /**
   * A recycle condition fired (once per worker). Supervised, the worker keeps serving until its
   * replacement is, then drains; alone, it drains now and exits with the recycle code, for
   * systemd or Kubernetes to start a fresh one.
   */
  #onRecycleCondition(c: RecycleCondition, r: RecycleReadings): void {
    if (this.#stopping) return;
    const label = describeCondition(c);
    const link = this.options.supervisor;
    this.logger.warn(
      {
        condition: c.name,
        value: Math.round(c.value * 10) / 10,
        limit: c.limit,
        sessions_served: r.sessionsServed,
        rss_mib: Math.round(r.rssMiB),
        native_growth_mib: Math.round(r.nativeGrowthMiB),
        uptime_s: Math.round((r.now - r.startedAt) / 1000),
        active: this.registry.size,
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

  async #startHttp(): Promise<OpsHttpServer | undefined> {
    const { http } = this.config;
    if (http.port === false) return undefined;
    // Supervised workers overlap their replacements, so none can own a fixed port.
    const port = this.options.supervisor
      ? 0
      : (http.port ?? (this.options.dev ? 0 : START_HTTP_PORT));
    const server = await OpsHttpServer.listen({
      host: http.host ?? (this.options.dev ? '127.0.0.1' : '0.0.0.0'),
      port,
      logger: this.logger,
      routes: {
        health: () => this.health(),
        worker: () => this.workerInfo(),
        metrics: () => this.metrics.metrics(),
      },
    });
    // Operators and tests find an ephemeral port here.
    this.logger.info(
      { http: server.url, port: server.port },
      `http server listening on ${server.url} (GET / health, /worker, /metrics)`,
    );
    return server;
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
    return this.options.inference?.() ?? this.inference?.health() ?? { expected: false };
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
      activeJobs: this.registry.size,
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

  /** In fleet mode, a small heartbeat in the store for `tenant list --fleet`, with a TTL. */
  #startHeartbeat(): void {
    const fleet = this.fleet;
    const settings = this.config.tenants.store;
    if (!fleet || settings === 'memory') return;
    const beat = () => {
      const sessionsByTenant: Record<string, number> = Object.create(null) as Record<
        string,
        number
      >;
      const caps: Record<string, number | null> = Object.create(null) as Record<
        string,
        number | null
      >;
      const { maxSessions, config } = this.config.tenants;
      const named = [
        ...Object.keys(maxSessions),
        ...(typeof config === 'object' ? Object.keys(config) : []),
      ];
      for (const t of named) if (t !== '*') caps[t] = this.admission.configuredCap(t);
      for (const t of this.admission.tenantStats()) {
        if (t.active + t.reserved > 0) sessionsByTenant[t.tenant] = t.active + t.reserved;
        if (t.tenant !== OTHER_TENANTS_ROW) caps[t.tenant] = this.admission.configuredCap(t.tenant);
      }
      fleet.store
        .publishHeartbeat(
          {
            worker: this.fleetWorkerId,
            name: this.config.name,
            host: os.hostname(),
            pid: process.pid,
            draining: this.admission.draining,
            sessionsByTenant,
            loopP99Ms: this.load.loopDelay(this.config.overload.windowMs).p99Ms,
            caps,
            breaker: this.config.circuitBreaker,
          },
          settings.renewIntervalMs * 3,
        )
        .catch(() => {});
    };
    beat();
    this.#heartbeat = setInterval(beat, settings.renewIntervalMs);
    this.#heartbeat.unref();
  }

  /** Caps the fleet set by hand, applied here; the ones it cleared are cleared here too. */
  #applyFleetCaps(caps: Map<string, number>): void {
    for (const [tenant, cap] of caps) {
      if (this.admission.tenantStat(tenant)?.cap !== cap) this.admission.setTenantCap(tenant, cap);
      this.#fleetCaps.add(tenant);
    }
    for (const tenant of [...this.#fleetCaps]) {
      if (caps.has(tenant)) continue;
      this.admission.setTenantCap(tenant, null);
      this.#fleetCaps.delete(tenant);
    }
  }

  /** What `/worker`, `/metrics`, the snapshot and `top` say about the fleet store. */
  storeState(): { kind: 'memory' | 'redis' } & StoreHealth & { policy?: 'local' | 'reject' } {
    if (!this.fleet) return { kind: 'memory', state: 'ok', since: this.startedAt };
    return { kind: 'redis', ...this.fleet.store.health(), policy: this.fleet.policy };
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
        { timeout_ms: timeoutMs, grace_ms: graceMs, active: this.registry.size },
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
        await this.#warm?.closed;
      } catch (err) {
        this.logger.error({ err }, 'drain failed; closing anyway');
      } finally {
        this.recycle.stop();
        this.loop.stop();
        this.load.stop();
        this.attribution.disable();
        await this.http?.close();
        await this.ipc.close();
        await this.dispatcher?.close();
        await this.inference.close();
        this.fleet?.stop();
        this.#unsubscribeInvalidation();
        clearInterval(this.#heartbeat);
        await this.fleet?.store.removeHeartbeat(this.fleetWorkerId).catch(() => {});
        await this.fleet?.store.close();
        // rtc-node's native side keeps the process alive once any room has connected; every
        // session is gone by now, so release it rather than leave it to the exit grace.
        await disposeMedia().catch((err: unknown) =>
          this.logger.warn(
            { error: describeError(err) },
            'media runtime did not shut down cleanly',
          ),
        );
        this.#unrouteWarnings();
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

  /** Settings whose default depends on the command: `start` protects against overload, `dev` does not. */
  #withCommandDefaults(loaded: LoadedConfig): LoadedConfig {
    loaded.config.overload.enabled ??= !this.options.dev;
    if (this.options.redisUrl !== undefined) useRedisStore(loaded.config, this.options.redisUrl);
    return loaded;
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
      next = this.#withCommandDefaults(await loadConfig(this.loaded.file, this.options.cwd));
    } catch (err) {
      const problems = err instanceof ConfigError ? err.problems : [errorMessage(err)];
      this.logger.error({ problems }, 'config reload refused; the running config stays');
      this.events.push({
        kind: 'config',
        message: `config reload refused: ${problems.join('; ')}`,
      });
      throw err;
    }
    rememberConfigSecrets(next.config);
    const changes = diffConfigs(this.loaded.config, next.config);
    this.admission.updateSettings(admissionOptions(next.config));
    this.resolver.setSource(next.config.tenants.config);
    this.load.model.updateSettings(loadSettings(next.config));
    this.metrics.labels.setLimit(next.config.metrics.maxTenants);
    for (const t of configuredTenants(next.config)) this.metrics.labels.claim(t);
    this.#applyAttribution(next.config.introspection.attribution);
    this.recycle.setLimits(recycleLimits(next.config));
    this.sessions.setLimits({
      shutdownGraceMs: next.config.shutdownGraceMs,
      maxSessionDurationMs: next.config.maxSessionDurationMs,
      roomReconnectTimeoutMs: next.config.roomReconnectTimeoutMs,
    });
    const bound = this.loaded.config;
    if (next.config.inference.enabled !== bound.inference.enabled) {
      this.logger.warn(
        { running: bound.inference.enabled, in_file: next.config.inference.enabled },
        'inference.enabled is read at start: drain and restart the worker to change it',
      );
    }
    // Agents, LiveKit credentials, the name, the HTTP listener and the inference process are bound
    // at start; a change there needs a drain and restart.
    this.loaded = {
      ...next,
      config: {
        ...next.config,
        agents: bound.agents,
        livekit: bound.livekit,
        name: bound.name,
        http: bound.http,
        inference: bound.inference,
      },
    };
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

  private controlTarget(): ControlTarget {
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
        localDispatcherUrl: this.dispatcher?.url ?? this.options.localDispatcherUrl ?? null,
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
        const activeSessions = this.registry.size;
        // Answer first: the socket closes once the drain completes.
        setImmediate(() => void this.stop(timeout));
        return { alreadyDraining, activeSessions, timeoutMs: timeout };
      },
      reloadConfig: () => this.reloadConfig(),
    };
  }
}

/** What a config file itself holds of secrets: LiveKit credentials and a record of tenant configs. */
function rememberConfigSecrets(config: OpenrtcConfig): void {
  for (const value of [config.livekit.apiKey, config.livekit.apiSecret])
    if (value) knownSecrets.addSecret(value);
  const store = config.tenants.store;
  const redisPassword =
    store === 'memory' ? undefined : urlPassword(store.redis.url ?? process.env[REDIS_URL_ENV]);
  if (redisPassword) knownSecrets.addSecret(redisPassword);
  if (typeof config.tenants.config === 'object')
    for (const tenant of Object.values(config.tenants.config)) rememberTenantSecrets(tenant);
}

/** Milliseconds between successive marks, the first measured from process start (module loading). */
class StartupPhases {
  readonly #marks: [string, number][] = [['modules', performance.now()]];

  mark(name: string): void {
    this.#marks.push([name, performance.now()]);
  }

  durations(): Record<string, number> {
    return Object.fromEntries(
      this.#marks.map(([name, at], i) => [
        name,
        Math.round(at - (i === 0 ? 0 : this.#marks[i - 1]![1])),
      ]),
    );
  }
}

function recycleLimits(config: OpenrtcConfig): RecycleLimits {
  const { maxSessions, maxRssMiB, maxNativeGrowthMiB, maxUptime } = config.recycle;
  return { maxSessions, maxRssMiB, maxNativeGrowthMiB, maxUptimeMs: maxUptime };
}

function loadSettings(config: OpenrtcConfig): LoadSettings {
  return {
    threshold: config.load.threshold,
    loopDelayFullMs: config.load.loopDelayFullMs,
    protect: config.overload.enabled === true,
  };
}

/** Tenants the config names: they get a metrics label of their own before any traffic. */
function configuredTenants(config: OpenrtcConfig): string[] {
  const t = config.tenants;
  const names = new Set<string>([
    t.defaultTenant,
    ...Object.keys(t.maxSessions).filter((k) => k !== '*'),
  ]);
  if (typeof t.config === 'object') for (const k of Object.keys(t.config)) names.add(k);
  if (t.phoneNumbers && typeof t.phoneNumbers === 'object')
    for (const v of Object.values(t.phoneNumbers)) names.add(v);
  return [...names];
}
