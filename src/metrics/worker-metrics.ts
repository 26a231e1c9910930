import os from 'node:os';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { RejectReason } from '../admission/reasons.js';
import type { BreakerStateName, SessionOutcome, TenantStats } from '../admission/types.js';
import type { LoadReport } from '../load/load-model.js';
import type { RecycleCondition } from '../recycle/recycle-policy.js';
import { OTHER_TENANT_LABEL, TenantLabels } from './tenant-labels.js';

/** What the scrape reads live; counters and histograms are fed by events instead. */
export interface MetricsSources {
  tenantStats(): TenantStats[];
  /** Sessions that started and have not ended. */
  liveSessions(): number;
  load(): LoadReport;
  loopDelay(): { p99Ms: number; maxMs: number };
  draining(): boolean;
  jobUpdatesQueued(): number;
  /** Child processes this worker runs (none for sessions; an inference process would be one). */
  childProcesses(): number;
  /** The fleet store's health and this worker's lease counters; absent: memory, always up. */
  store?(): {
    kind: 'memory' | 'redis';
    up: boolean;
    leasesHeld: number;
    leasesLost: number;
    leasesReasserted: number;
    fallbackDecisions: number;
  };
  /** Sessions served, the memory trend and the recycle conditions (see src/recycle/). */
  recycle?(): RecycleMetrics;
}

export interface RecycleMetrics {
  sessionsServed: number;
  /** MiB per 1,000 sessions; undefined until enough sessions were served. */
  rssMiBPer1000: number | undefined;
  nativeMiBPer1000: number | undefined;
  /** Every configured condition, with its reading. */
  conditions: RecycleCondition[];
  /** A condition fired: the worker is handing over or draining. */
  recycling: boolean;
}

export interface WorkerMetricsOptions {
  sources: MetricsSources;
  maxTenants: number;
  /** Tenants that get a label at start, before any traffic. */
  configuredTenants?: Iterable<string>;
  /** The Python agents framework's `nodename` label; default: the host name. */
  nodename?: string;
  defaultMetrics?: boolean;
}

export type ConfigLoadResult = 'found' | 'missing' | 'error' | 'timeout';

const BREAKER_VALUE: Record<BreakerStateName, number> = { closed: 0, half_open: 1, open: 2 };

/**
 * Prometheus metrics for one worker, in its own registry. Names the Python agents framework
 * exposes keep its names and its `nodename` label, so existing LiveKit dashboards work; openrtc's
 * own series are per tenant, with the tenant label bounded by `TenantLabels`.
 */
export class WorkerMetrics {
  readonly registry = new Registry();
  readonly labels: TenantLabels;
  readonly #admissions: Counter<'tenant' | 'decision' | 'reason'>;
  readonly #admissionLatency: Histogram<'tenant'>;
  readonly #outcomes: Counter<'tenant' | 'outcome'>;
  readonly #duration: Histogram<'tenant'>;
  readonly #configLoads: Counter<'tenant' | 'result'>;
  readonly #configHits: Counter<'tenant'>;
  readonly #procInit: Histogram<'nodename'>;
  readonly #nodename: string;

  constructor(options: WorkerMetricsOptions) {
    const { sources } = options;
    const nodename = (this.#nodename = options.nodename ?? os.hostname());
    const labels = (this.labels = new TenantLabels(options.maxTenants));
    for (const t of options.configuredTenants ?? []) labels.claim(t);
    const registers = [this.registry];
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });

    new Gauge({
      name: 'lk_agents_active_job_count',
      help: 'Active jobs',
      labelNames: ['nodename'],
      registers,
      collect() {
        this.set({ nodename }, sources.liveSessions());
      },
    });
    new Gauge({
      name: 'lk_agents_worker_load',
      help: 'Worker load percentage (the load reported to LiveKit, 0..1)',
      labelNames: ['nodename'],
      registers,
      collect() {
        this.set({ nodename }, sources.load().load);
      },
    });
    new Gauge({
      name: 'lk_agents_child_process_count',
      help: 'Total number of child processes (sessions run in-process)',
      labelNames: ['nodename'],
      registers,
      collect() {
        this.set({ nodename }, sources.childProcesses());
      },
    });
    this.#procInit = new Histogram({
      name: 'lk_agents_proc_initialize_duration_seconds',
      help: 'Time taken to initialize a process (here: each agent prewarm, once per worker)',
      labelNames: ['nodename'],
      buckets: [0.1, 0.5, 1, 2, 5, 10],
      registers,
    });

    const perTenant = (
      collect: (stats: TenantStats[], set: (tenant: string, value: number) => void) => void,
    ) =>
      function (this: Gauge<'tenant'>) {
        this.reset();
        const sums = new Map<string, number>();
        collect(sources.tenantStats(), (tenant, value) =>
          sums.set(tenant, (sums.get(tenant) ?? 0) + value),
        );
        for (const [tenant, value] of sums) this.set({ tenant }, value);
      };
    const live = perTenant((stats, set) => {
      for (const t of stats)
        if (t.live > 0 || labels.owns(t.tenant)) set(labels.peek(t.tenant), t.live);
    });
    new Gauge({
      name: 'openrtc_sessions_live',
      help: 'Sessions that started and have not ended, per tenant',
      labelNames: ['tenant'],
      registers,
      collect: live,
    });
    // The old name stays for dashboards built on it, until a release that says it goes.
    new Gauge({
      name: 'openrtc_sessions_active',
      help: 'Deprecated: use openrtc_sessions_live (the same series)',
      labelNames: ['tenant'],
      registers,
      collect: live,
    });
    new Gauge({
      name: 'openrtc_sessions_reserved',
      help: 'Sessions accepted and waiting for their assignment, per tenant',
      labelNames: ['tenant'],
      registers,
      collect: perTenant((stats, set) => {
        for (const t of stats)
          if (t.reserved > 0 || labels.owns(t.tenant)) set(labels.peek(t.tenant), t.reserved);
      }),
    });
    new Gauge({
      name: 'openrtc_tenant_cap',
      help: 'Session cap per tenant (+Inf: no cap); tenants folded into _other are not listed',
      labelNames: ['tenant'],
      registers,
      collect: perTenant((stats, set) => {
        for (const t of stats)
          if (labels.owns(t.tenant)) set(t.tenant, t.cap ?? Number.POSITIVE_INFINITY);
      }),
    });
    new Gauge({
      name: 'openrtc_breaker_state',
      help: 'Circuit breaker per tenant: 0 closed, 1 half-open, 2 open',
      labelNames: ['tenant'],
      registers,
      collect: perTenant((stats, set) => {
        for (const t of stats)
          if (labels.owns(t.tenant)) set(t.tenant, BREAKER_VALUE[t.breaker.state]);
      }),
    });
    const store = () =>
      sources.store?.() ?? {
        kind: 'memory' as const,
        up: true,
        leasesHeld: 0,
        leasesLost: 0,
        leasesReasserted: 0,
        fallbackDecisions: 0,
      };
    new Gauge({
      name: 'openrtc_store_up',
      help: 'Whether the fleet store answers: 1 ok, 0 degraded (label kind: memory or redis)',
      labelNames: ['kind'],
      registers,
      collect() {
        const s = store();
        this.reset();
        this.set({ kind: s.kind }, s.up ? 1 : 0);
      },
    });
    new Gauge({
      name: 'openrtc_store_leases_held',
      help: 'Fleet leases this worker holds and renews',
      registers,
      collect() {
        this.set(store().leasesHeld);
      },
    });
    for (const [name, help, key] of [
      [
        'openrtc_store_leases_lost',
        'Leases found expired while their session still ran (since start)',
        'leasesLost',
      ],
      [
        'openrtc_store_leases_reasserted',
        'Leases put back after the store lost its data or was down',
        'leasesReasserted',
      ],
      [
        'openrtc_store_fallback_decisions',
        'Admission decisions made without the store, under store.onUnavailable',
        'fallbackDecisions',
      ],
    ] as const) {
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(store()[key]);
        },
      });
    }
    const recycle = sources.recycle?.bind(sources);
    if (recycle) {
      new Gauge({
        name: 'openrtc_sessions_served',
        help: 'Sessions that ended since the worker started, however they ended',
        registers,
        collect() {
          this.set(recycle().sessionsServed);
        },
      });
      new Gauge({
        name: 'openrtc_memory_growth_mib_per_1000_sessions',
        help: 'Memory growth per 1,000 sessions (least-squares slope over recent samples): rss, or native (RSS outside the V8 heap and external buffers); absent until enough sessions were served',
        labelNames: ['kind'],
        registers,
        collect() {
          this.reset();
          const r = recycle();
          if (r.rssMiBPer1000 !== undefined) this.set({ kind: 'rss' }, r.rssMiBPer1000);
          if (r.nativeMiBPer1000 !== undefined) this.set({ kind: 'native' }, r.nativeMiBPer1000);
        },
      });
      new Gauge({
        name: 'openrtc_recycle_condition_share',
        help: 'Each configured recycle condition: its reading over its limit (1 or more fires a recycle)',
        labelNames: ['condition'],
        registers,
        collect() {
          this.reset();
          for (const c of recycle().conditions) this.set({ condition: c.name }, c.share);
        },
      });
      new Gauge({
        name: 'openrtc_recycling',
        help: '1 once a recycle condition fired (the worker hands over, drains and exits 75), else 0',
        registers,
        collect() {
          this.set(recycle().recycling ? 1 : 0);
        },
      });
    }
    new Gauge({
      name: 'openrtc_metrics_tenants_folded',
      help: `Distinct tenants counted under tenant="${OTHER_TENANT_LABEL}" (metrics.maxTenants reached)`,
      registers,
      collect() {
        this.set(labels.foldedCount);
      },
    });

    this.#admissions = new Counter({
      name: 'openrtc_admissions_total',
      help: 'Job requests decided, per tenant, by decision (accepted, rejected) and rejection reason',
      labelNames: ['tenant', 'decision', 'reason'],
      registers,
    });
    this.#admissionLatency = new Histogram({
      name: 'openrtc_admission_latency_seconds',
      help: 'From a job request reaching admission to its decision (tenant config load included), per tenant',
      labelNames: ['tenant'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.#outcomes = new Counter({
      name: 'openrtc_session_outcomes_total',
      help: 'Accepted sessions that ended, per tenant: success, failed (counts toward the breaker), cancelled (never started)',
      labelNames: ['tenant', 'outcome'],
      registers,
    });
    this.#duration = new Histogram({
      name: 'openrtc_session_duration_seconds',
      help: 'How long started sessions ran, per tenant',
      labelNames: ['tenant'],
      buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600],
      registers,
    });
    this.#configLoads = new Counter({
      name: 'openrtc_tenant_config_loads_total',
      help: 'Tenant config loads from the config source, per tenant and result (found, missing, error, timeout)',
      labelNames: ['tenant', 'result'],
      registers,
    });
    this.#configHits = new Counter({
      name: 'openrtc_tenant_config_cache_hits_total',
      help: 'Tenant configs served from the cache, per tenant',
      labelNames: ['tenant'],
      registers,
    });

    new Gauge({
      name: 'openrtc_loop_delay_seconds',
      help: 'Event-loop delay over the overload window: p99 (what the overload gate compares) and max',
      labelNames: ['stat'],
      registers,
      collect() {
        const d = sources.loopDelay();
        this.set({ stat: 'p99' }, d.p99Ms / 1000);
        this.set({ stat: 'max' }, d.maxMs / 1000);
      },
    });
    new Gauge({
      name: 'openrtc_load_share',
      help: 'The shares the reported load is the maximum of: event_loop_utilization, loop_delay, sessions; measured is the smoothed maximum of the first two',
      labelNames: ['share'],
      registers,
      collect() {
        const r = sources.load();
        this.set({ share: 'event_loop_utilization' }, r.shares.eventLoopUtilization);
        this.set({ share: 'loop_delay' }, r.shares.loopDelay);
        this.set({ share: 'sessions' }, r.shares.sessions);
        this.set({ share: 'measured' }, r.measured);
      },
    });
    new Gauge({
      name: 'openrtc_worker_full',
      help: '1 while the worker reports WS_FULL to LiveKit (draining, at its cap, or load past load.threshold)',
      registers,
      collect() {
        this.set(sources.load().full ? 1 : 0);
      },
    });
    new Gauge({
      name: 'openrtc_worker_draining',
      help: '1 while the worker drains',
      registers,
      collect() {
        this.set(sources.draining() ? 1 : 0);
      },
    });
    new Gauge({
      name: 'openrtc_job_updates_queued',
      help: 'Job status updates waiting for LiveKit to be reachable again',
      registers,
      collect() {
        this.set(sources.jobUpdatesQueued());
      },
    });
  }

  admissionAccepted(e: { tenant: string; elapsedMs: number }): void {
    const tenant = this.labels.claim(e.tenant);
    this.#admissions.inc({ tenant, decision: 'accepted' });
    this.#admissionLatency.observe({ tenant }, e.elapsedMs / 1000);
  }

  /** A rejection decided before any tenant was known (malformed id, draining, …) has no tenant label: it is the worker's. */
  admissionRejected(e: {
    tenant?: string | undefined;
    reason: RejectReason;
    elapsedMs: number;
  }): void {
    const tenant = e.tenant === undefined ? {} : { tenant: this.labels.claim(e.tenant) };
    this.#admissions.inc({ ...tenant, decision: 'rejected', reason: e.reason });
    this.#admissionLatency.observe(tenant, e.elapsedMs / 1000);
  }

  sessionOutcome(e: { tenant: string; outcome: SessionOutcome }): void {
    this.#outcomes.inc({ tenant: this.labels.claim(e.tenant), outcome: e.outcome.kind });
  }

  sessionEnded(e: { tenant: string; durationMs: number }): void {
    this.#duration.observe({ tenant: this.labels.claim(e.tenant) }, e.durationMs / 1000);
  }

  configLoaded(e: { tenant: string; result: ConfigLoadResult }): void {
    this.#configLoads.inc({ tenant: this.labels.claim(e.tenant), result: e.result });
  }

  configCacheHit(e: { tenant: string }): void {
    this.#configHits.inc({ tenant: this.labels.claim(e.tenant) });
  }

  processInitialized(durationMs: number): void {
    this.#procInit.observe({ nodename: this.#nodename }, durationMs / 1000);
  }

  metrics(): Promise<{ contentType: string; body: string }> {
    return this.registry
      .metrics()
      .then((body) => ({ contentType: this.registry.contentType, body }));
  }
}
