// Admission over the wire: a burst of availability requests from the local dispatcher to our
// real worker client, all for one capped tenant, in one process. The dispatcher and the worker
// share this process's event loop, so each answer's latency also holds the dispatcher's own work
// (writing the burst, reading answers, signing tokens for the accepted jobs).
import { initializeLogger, loggerOptions } from '@livekit/agents';
import { pino } from 'pino';
import { Admission } from '../src/admission/admission.js';
import { systemClock } from '../src/admission/clock.js';
import { DEV_CREDENTIALS } from '../src/dispatcher/dev-defaults.js';
import { LocalDispatcher } from '../src/dispatcher/local-dispatcher.js';
import type { AvailabilityAnswered, DispatchOutcome } from '../src/dispatcher/types.js';
import { SessionRegistry } from '../src/introspection/registry.js';
import { SessionHost } from '../src/session/session-host.js';
import { TenantConfigResolver } from '../src/tenancy/config-resolver.js';
import { WorkerHost } from '../src/worker/worker-host.js';
import heldCall from './held-call-agent.js';
import { median, percentile } from './stats.js';

const AGENT = 'held-call';
/** Generous: freeing 20 slots takes milliseconds; anything near this is a leak. */
const SETTLE_TIMEOUT_MS = 15_000;

export interface AdmissionWireOptions {
  /** Availability requests per burst. */
  requests?: number;
  tenant?: string;
  /** The tenant's cap: exactly this many requests of a burst should be accepted. */
  cap?: number;
  /** Worker-wide cap, set well above the tenant's so only the tenant cap can bind. */
  globalCap?: number;
  bursts?: number;
}

export interface BurstResult {
  requests: number;
  /** Requests the dispatcher got an availability answer for. */
  answered: number;
  unanswered: number;
  /** Jobs the dispatcher assigned. */
  accepted: number;
  /** Accepts counted by the worker's admission, to check the dispatcher's view against. */
  workerAccepted: number;
  /** Sessions running on the worker once the burst settled. */
  sessionsRunning: number;
  exact: boolean;
  rejected: number;
  /** Rejections by the reason the worker gave, as the dispatcher reported them. */
  rejectReasons: Record<string, number>;
  /** Rejected jobs the dispatcher recorded as failed with the worker's reason. */
  rejectedRecordedFailed: number;
  /** Outcomes other than assigned or rejected (timeout, no_worker). */
  otherOutcomes: Record<string, number>;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** How long the dispatcher took to write the whole burst; no answer is read before it ends. */
  sendMs: number;
  /** From the end of that write to the last answer: the worker's (and dispatcher's) serial work. */
  drainMs: number;
  /** Answers per second over `drainMs`. */
  answersPerSecond: number;
  /** First request written to last dispatch settled (assignments included). */
  wallMs: number;
}

export interface AdmissionWireResult {
  requests: number;
  tenant: string;
  cap: number;
  globalCap: number;
  bursts: BurstResult[];
  medianP50Ms: number;
  medianP99Ms: number;
  allExact: boolean;
  allAnswered: boolean;
}

interface Rig {
  dispatcher: LocalDispatcher;
  admission: Admission;
  sessions: SessionHost;
  worker: WorkerHost;
}

async function startRig(tenant: string, cap: number, globalCap: number): Promise<Rig> {
  const logger = pino({ level: 'silent' });
  const dispatcher = await LocalDispatcher.start({ port: 0, ...DEV_CREDENTIALS });
  const resolver = new TenantConfigResolver({ source: {}, clock: systemClock, ttlMs: 60_000, missTtlMs: 60_000, loadTimeoutMs: 1_000 });
  const admission = new Admission({
    clock: systemClock,
    resolver,
    maxConcurrentSessions: globalCap,
    tenants: { metadataKey: 'tenant', defaultTenant: 'default', requireConfig: false, maxSessions: { [tenant]: cap } },
    breaker: { enabled: true, failureRatio: 0.5, minSamples: 5, windowMs: 60_000, cooldownMs: 30_000, halfOpenProbes: 1 },
    assignmentTimeoutMs: 15_000,
  });
  const sessions = new SessionHost({ agents: { [AGENT]: heldCall }, registry: new SessionRegistry(), logger });
  await sessions.prewarmAll();
  const worker = new WorkerHost({
    url: dispatcher.url,
    ...DEV_CREDENTIALS,
    agentNames: [AGENT],
    admission,
    sessions,
    logger,
    version: 'bench',
  });
  await worker.start();
  return { dispatcher, admission, sessions, worker };
}

async function until(what: string, done: () => boolean, timeoutMs = SETTLE_TIMEOUT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`admission-wire: ${what} did not happen within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function tally(keys: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const k of keys) counts[k] = (counts[k] ?? 0) + 1;
  return counts;
}

async function burst(rig: Rig, tenant: string, requests: number, cap: number): Promise<BurstResult> {
  const { dispatcher, admission, sessions } = rig;
  const acceptedBefore = admission.tenantStat(tenant)?.accepted ?? 0;
  const latency = new Map<string, number>();
  let lastAnswerAt = Number.NaN;
  const onAnswer = (a: AvailabilityAnswered) => {
    latency.set(a.jobId, a.latencyMs);
    lastAnswerAt = performance.now();
  };
  dispatcher.on('availability_answered', onAnswer);

  const metadata = JSON.stringify({ tenant });
  const t0 = performance.now();
  const pending: Promise<DispatchOutcome>[] = [];
  // Each dispatch() writes its availability request before returning, so this loop is the burst.
  for (let i = 0; i < requests; i++) pending.push(dispatcher.dispatch({ agentName: AGENT, metadata }));
  const written = performance.now();
  const outcomes = await Promise.all(pending);
  const wallMs = performance.now() - t0;
  dispatcher.off('availability_answered', onAnswer);

  const assigned = outcomes.filter((o) => o.status === 'assigned');
  const rejected = outcomes.flatMap((o) => (o.status === 'rejected' ? [o] : []));
  const other = outcomes.filter((o) => o.status !== 'assigned' && o.status !== 'rejected');
  // Accepted jobs must be running sessions, so their slots stay taken for the whole burst.
  await until('accepted sessions starting', () => sessions.active().length >= assigned.length);
  const sessionsRunning = sessions.active().length;
  const workerAccepted = (admission.tenantStat(tenant)?.accepted ?? 0) - acceptedBefore;
  const rejectedRecordedFailed = rejected.filter((o) => {
    const job = dispatcher.job(o.jobId);
    return job?.state === 'failed' && job.error.startsWith(`rejected: ${o.reason ?? ''}`);
  }).length;

  for (const o of assigned) dispatcher.terminate(o.jobId);
  await until('slots freeing after termination', () => admission.inUse() === 0 && sessions.active().length === 0);

  const latencies = [...latency.values()];
  return {
    requests,
    answered: latency.size,
    unanswered: requests - latency.size,
    accepted: assigned.length,
    workerAccepted,
    sessionsRunning,
    exact: assigned.length === cap && workerAccepted === cap && sessionsRunning === cap,
    rejected: rejected.length,
    rejectReasons: tally(rejected.map((o) => o.reason ?? '(none)')),
    rejectedRecordedFailed,
    otherOutcomes: tally(other.map((o) => o.status)),
    p50Ms: median(latencies),
    p99Ms: percentile(latencies, 99),
    maxMs: Math.max(...latencies),
    sendMs: written - t0,
    drainMs: lastAnswerAt - written,
    answersPerSecond: Math.round(latency.size / ((lastAnswerAt - written) / 1000)),
    wallMs,
  };
}

/**
 * Fires `requests` availability requests for one tenant at once, `bursts` times, and reports
 * per burst how fast they were answered and whether exactly `cap` were accepted. Between bursts
 * the accepted jobs are terminated and their slots must come back.
 */
export async function benchAdmissionOverWire(opts: AdmissionWireOptions = {}): Promise<AdmissionWireResult> {
  const requests = opts.requests ?? 1_000;
  const tenant = opts.tenant ?? 'acme';
  const cap = opts.cap ?? 20;
  const globalCap = opts.globalCap ?? 1_000;
  const count = opts.bursts ?? 3;
  // agents-js warns on every model-less session it closes; twenty of those a burst would bury the table.
  const agentsLog = loggerOptions();
  initializeLogger({ pretty: false, level: 'error' });
  const rig = await startRig(tenant, cap, globalCap);
  const bursts: BurstResult[] = [];
  try {
    for (let i = 0; i < count; i++) bursts.push(await burst(rig, tenant, requests, cap));
  } finally {
    await rig.worker.stop();
    await rig.dispatcher.close();
    if (agentsLog) initializeLogger(agentsLog);
  }
  return {
    requests,
    tenant,
    cap,
    globalCap,
    bursts,
    medianP50Ms: median(bursts.map((b) => b.p50Ms)),
    medianP99Ms: median(bursts.map((b) => b.p99Ms)),
    allExact: bursts.every((b) => b.exact),
    allAnswered: bursts.every((b) => b.unanswered === 0),
  };
}
