import os from 'node:os';
import { Admission, OTHER_TENANTS_ROW } from '../admission/admission.js';
import type { FleetAdmission } from '../admission/fleet-admission.js';
import { MAX_SESSION_DURATION_REASON, type TenantStats } from '../admission/types.js';
import { systemClock } from '../clock/clock.js';
import { loadAgents } from '../config/load-agents.js';
import type { OpenrtcConfig } from '../config/schema.js';
import { DEV_CREDENTIALS, DEV_PORT } from '../dispatcher/dev-defaults.js';
import { LocalDispatcher } from '../dispatcher/local-dispatcher.js';
import { SharedInference } from '../inference/shared-inference.js';
import { SessionAttribution } from '../introspection/attribution.js';
import { LoopMonitor } from '../introspection/loop-monitor.js';
import { RecentEvents } from '../introspection/recent-events.js';
import { SessionRegistry } from '../introspection/registry.js';
import { workerSocketPath } from '../ipc/socket-path.js';
import { LoadMonitor } from '../load/load-monitor.js';
import { routeFrameworkLogs } from '../logging/framework-logger.js';
import { setProcessLogger } from '../logging/process-logger.js';
import { routeProcessWarnings } from '../logging/process-warnings.js';
import { WorkerMetrics } from '../metrics/worker-metrics.js';
import { RecycleMonitor } from '../recycle/recycle-monitor.js';
import { knownSecrets } from '../secrets/known-secrets.js';
import { SessionHost } from '../session/session-host.js';
import { TenantConfigResolver } from '../tenancy/config-resolver.js';
import { WorkerHost } from '../worker/worker-host.js';
import { Cleanup } from './cleanup.js';
import { FleetCaps, FleetHeartbeat, fleetWorkerId, openFleet, storeState } from './fleet-setup.js';
import {
  admissionOptions,
  configuredTenants,
  loadSettings,
  loadWorkerConfig,
  recycleLimits,
} from './part-settings.js';
import { RunningConfig } from './running-config.js';
import type { StartupPhases } from './startup-phases.js';
import { VERSION } from './version.js';
import { warmStart } from './warm-start.js';
import type { WorkerRuntimeOptions } from './worker-runtime.js';

/**
 * Every part of one worker, built and wired, with everything that must happen before anything
 * listens already done: config and agents loaded, the fleet store open, prewarm and warm start
 * started, the inference process up, the local dispatcher (dev) serving. Nothing here accepts a
 * connection yet: `WorkerRuntime` builds its control socket and HTTP endpoint over these parts,
 * then serves.
 */
export interface WorkerParts {
  running: RunningConfig;
  /** Epoch ms. */
  startedAt: number;
  /** This worker's id in the fleet: lease ids, heartbeats and audit records carry it. */
  fleetWorkerId: string;
  registry: SessionRegistry;
  events: RecentEvents;
  loop: LoopMonitor;
  load: LoadMonitor;
  metrics: WorkerMetrics;
  resolver: TenantConfigResolver;
  /** Set in fleet mode (`tenants.store: { redis }`). */
  fleet: FleetAdmission | undefined;
  heartbeat: FleetHeartbeat | undefined;
  admission: Admission;
  attribution: SessionAttribution;
  inference: SharedInference;
  sessions: SessionHost;
  recycle: RecycleMonitor;
  dispatcher: LocalDispatcher | undefined;
  /** The LiveKit server (or local dispatcher) the worker registers with. */
  url: string;
  worker: WorkerHost;
  socketPath: string;
  /** Closes whatever of the above holds a process, a socket or a timer, in reverse order. */
  opened: Cleanup;
}

/**
 * Builds the parts in dependency order. On failure it closes what it opened and rethrows, so a
 * worker that cannot start keeps no socket, port or process open.
 */
export async function buildWorkerParts(
  options: WorkerRuntimeOptions,
  phases: StartupPhases,
): Promise<WorkerParts> {
  const opened = new Cleanup(options.logger);
  try {
    return await build(options, phases, opened);
  } catch (err) {
    await opened.run();
    throw err;
  }
}

async function build(
  options: WorkerRuntimeOptions,
  phases: StartupPhases,
  opened: Cleanup,
): Promise<WorkerParts> {
  const { logger } = options;
  const startedAt = Date.now();
  knownSecrets.collectEnv(process.env);
  const running = new RunningConfig(
    await loadWorkerConfig(options.configFile, options.cwd, options.dev, options.redisUrl),
  );
  phases.mark('config');
  const config = running.config;
  setProcessLogger(logger);
  // agents-js logs through its own global logger; it must exist before any session runs.
  const framework = routeFrameworkLogs(logger, {
    ...(options.frameworkLogLevel !== undefined ? { level: options.frameworkLogLevel } : {}),
    ...(options.logFormat !== undefined ? { format: options.logFormat } : {}),
  });
  opened.add('process warning route', routeProcessWarnings(logger));

  const registry = new SessionRegistry();
  const events = new RecentEvents(200);
  const loop = new LoopMonitor();
  const load = new LoadMonitor({ settings: loadSettings(config) });
  const workerId = fleetWorkerId(process.env.OPENRTC_WORKER_NAME ?? 'openrtc');

  // The sources are read at scrape time, once every part below exists (nothing scrapes earlier).
  const metrics = new WorkerMetrics({
    maxTenants: config.metrics.maxTenants,
    configuredTenants: configuredTenants(config),
    sources: {
      tenantStats: () => admission.tenantStats(),
      liveSessions: () => registry.size,
      load: () => worker.currentLoad(),
      loopDelay: () => load.loopDelay(running.config.overload.windowMs),
      draining: () => admission.draining,
      jobUpdatesQueued: () => worker.queuedJobUpdates(),
      childProcesses: () => (inference.pid !== undefined ? 1 : 0),
      store: () => ({
        kind: fleet ? 'redis' : 'memory',
        up: storeState(fleet, startedAt).state === 'ok',
        leasesHeld: fleet?.heldLeases() ?? 0,
        ...(fleet?.counters ?? { leasesLost: 0, leasesReasserted: 0, fallbackDecisions: 0 }),
      }),
      recycle: () => {
        const status = recycle.status();
        return {
          sessionsServed: status.sessionsServed,
          rssMiBPer1000: status.memoryTrend.rssMiBPer1000,
          nativeMiBPer1000: status.memoryTrend.nativeMiBPer1000,
          conditions: recycle.conditions(),
          recycling: status.fired !== undefined,
        };
      },
    },
  });
  const resolver = new TenantConfigResolver({
    source: config.tenants.config,
    clock: systemClock,
    ...config.tenants.configCache,
    events: {
      cacheHit: (tenant) => metrics.configCacheHit({ tenant }),
      loaded: (tenant, result) => metrics.configLoaded({ tenant, result }),
    },
  });
  // The fleet reports caps only once it runs (after start-up), when admission exists.
  const fleetCaps = new FleetCaps();
  const fleet = (
    await openFleet(config, workerId, logger, {
      onCapOverrides: (caps) => fleetCaps.apply(admission, caps),
    })
  )?.fleet;
  if (fleet) {
    opened.add('fleet store', () => fleet.store.close());
    opened.add('fleet lease renewal', () => fleet.stop());
  }
  const admission = new Admission({
    ...admissionOptions(config),
    ...(fleet ? { fleet } : {}),
    clock: systemClock,
    resolver,
    loopDelayP99: (windowMs) => load.loopDelay(windowMs).p99Ms,
    events: {
      onAccept: (e) => metrics.admissionAccepted(e),
      onSessionEnd: (e) => metrics.sessionOutcome(e),
      onReject: (e) => {
        metrics.admissionRejected(e);
        logger.info(
          { tenant: e.tenant, job_id: e.jobId, reason: e.reason },
          `rejected job: ${e.reason}: ${e.message}`,
        );
        events.push({ kind: 'reject', tenant: e.tenant, message: `${e.reason}: ${e.message}` });
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
        events.push({
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
  const heartbeat =
    fleet && config.tenants.store !== 'memory'
      ? new FleetHeartbeat(fleet, workerId, config.tenants.store.renewIntervalMs, () => ({
          name: running.config.name,
          host: os.hostname(),
          pid: process.pid,
          draining: admission.draining,
          sessionsByTenant: heldByTenant(admission.tenantStats()),
          loopP99Ms: load.loopDelay(running.config.overload.windowMs).p99Ms,
          caps: configuredCaps(running.config, admission),
          breaker: running.config.circuitBreaker,
        }))
      : undefined;

  const agents = await loadAgents(running.loaded.file, config.agents);
  phases.mark('agents');
  const attribution = new SessionAttribution({
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
      events.push({
        kind: 'slow_session',
        tenant: e.tenant,
        message: `${e.sessionId} blocked the event loop for ${Math.round(e.durationMs)} ms`,
      });
    },
    onUnattributedBlock: (durationMs) => {
      const ms = Math.round(durationMs);
      logger.warn(
        { duration_ms: ms, catch_ms: attribution.catchMs },
        'event loop blocked between attribution samples; attributing every callback for a while to name the session',
      );
      events.push({
        kind: 'slow_session',
        message: `the event loop was blocked for at least ${ms} ms between samples; watching every callback`,
      });
    },
  });
  const inference = new SharedInference({
    enabled: config.inference.enabled,
    logger,
    logLevel: framework.level,
    onEvent: (message) => events.push({ kind: 'worker', message }),
  });
  opened.add('inference process', () => inference.close());
  const sessions = new SessionHost({
    agents,
    registry,
    logger,
    attribution,
    inference,
    shutdownGraceMs: config.shutdownGraceMs,
    maxSessionDurationMs: config.maxSessionDurationMs,
    roomReconnectTimeoutMs: config.roomReconnectTimeoutMs,
    onPrewarmed: (e) => metrics.processInitialized(e.durationMs),
    onSessionEnded: (e) => metrics.sessionEnded(e),
  });
  const recycle = new RecycleMonitor({
    limits: recycleLimits(config),
    clock: systemClock,
    memory: () => process.memoryUsage(),
    sessionsServed: () => sessions.sessionsServed,
  });
  sessions.subscribe({
    ended: (e) => {
      recycle.check();
      if (e.outcome.reason !== MAX_SESSION_DURATION_REASON) return;
      const limit = running.config.maxSessionDurationMs ?? 0;
      events.push({
        kind: 'session',
        tenant: e.tenant,
        message: `${e.sessionId} reached the ${limit} ms session limit after ${Math.round(e.durationMs / 1000)} s; ended`,
      });
    },
  });
  await sessions.prewarmAll();
  phases.mark('prewarm');
  // After the agents loaded and prewarmed (plugins register their runners then), before
  // registering with LiveKit, as stock: no session may start without it.
  await inference.start();
  phases.mark('inference');
  if (config.warmStart) {
    // Its close finishes in the background; stop waits for it.
    const { closed } = await warmStart(logger);
    opened.add('warm-start session', () => closed);
    phases.mark('warm_start');
  }

  let { url, apiKey, apiSecret } = config.livekit;
  let dispatcher: LocalDispatcher | undefined;
  if (!url) {
    if (!options.dev) {
      throw new Error(
        'no LiveKit URL: set LIVEKIT_URL (or livekit.url in the config), or use `openrtc dev` for a local dispatcher',
      );
    }
    const local = await LocalDispatcher.start({
      port: options.devPort ?? DEV_PORT,
      ...DEV_CREDENTIALS,
      logger,
    });
    opened.add('local dispatcher', () => local.close());
    dispatcher = local;
    url = local.url;
    apiKey = DEV_CREDENTIALS.apiKey;
    apiSecret = DEV_CREDENTIALS.apiSecret;
    logger.info({ url }, 'no LIVEKIT_URL: serving a local dispatcher (sessions run without media)');
  }
  if (!apiKey || !apiSecret)
    throw new Error(
      'LiveKit API key and secret are required (LIVEKIT_API_KEY, LIVEKIT_API_SECRET)',
    );

  const worker = new WorkerHost({
    url,
    apiKey,
    apiSecret,
    agentNames: Object.keys(agents),
    admission,
    sessions,
    logger,
    workerName: config.name,
    version: VERSION,
    load,
  });
  const socketPath =
    options.socketPath ??
    (await workerSocketPath(config.name, process.env, process.pid, (skipped, reason, using) =>
      logger.warn(
        { skipped, using },
        `${reason}; using ${using} instead (remove ${skipped}, or set OPENRTC_RUNTIME_DIR)`,
      ),
    ));

  return {
    running,
    startedAt,
    fleetWorkerId: workerId,
    registry,
    events,
    loop,
    load,
    metrics,
    resolver,
    fleet,
    heartbeat,
    admission,
    attribution,
    inference,
    sessions,
    recycle,
    dispatcher,
    url,
    worker,
    socketPath,
    opened,
  };
}

/**
 * A reloaded config reaching the parts that read it while running, through the same settings they
 * were built with; agents, credentials, the name, the listeners and inference stay bound at start.
 */
export function applyReloadedConfig(
  parts: Pick<WorkerParts, 'admission' | 'resolver' | 'load' | 'metrics' | 'recycle' | 'sessions'>,
  config: OpenrtcConfig,
): void {
  parts.admission.updateSettings(admissionOptions(config));
  parts.resolver.setSource(config.tenants.config);
  parts.load.model.updateSettings(loadSettings(config));
  parts.metrics.labels.setLimit(config.metrics.maxTenants);
  for (const t of configuredTenants(config)) parts.metrics.labels.claim(t);
  parts.recycle.setLimits(recycleLimits(config));
  parts.sessions.setLimits({
    shutdownGraceMs: config.shutdownGraceMs,
    maxSessionDurationMs: config.maxSessionDurationMs,
    roomReconnectTimeoutMs: config.roomReconnectTimeoutMs,
  });
}

/** Slots each tenant holds here (live and reserved), for the fleet view; keyed by tenant ids. */
/** Every cap this worker enforces by its config: the tenants it names and those it has seen. */
function configuredCaps(
  config: OpenrtcConfig,
  admission: Admission,
): Record<string, number | null> {
  const caps = Object.create(null) as Record<string, number | null>;
  const { maxSessions, config: tenantConfig } = config.tenants;
  const named = [
    ...Object.keys(maxSessions),
    ...(typeof tenantConfig === 'object' ? Object.keys(tenantConfig) : []),
  ];
  for (const t of named) if (t !== '*') caps[t] = admission.configuredCap(t);
  for (const t of admission.tenantStats())
    if (t.tenant !== OTHER_TENANTS_ROW) caps[t.tenant] = admission.configuredCap(t.tenant);
  return caps;
}

function heldByTenant(rows: TenantStats[]): Record<string, number> {
  const held = Object.create(null) as Record<string, number>;
  for (const t of rows) if (t.live + t.reserved > 0) held[t.tenant] = t.live + t.reserved;
  return held;
}
