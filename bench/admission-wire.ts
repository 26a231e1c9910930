// Admission over the wire: a burst of availability requests from the local dispatcher to a real
// `openrtc start` worker in its own process, all for one capped tenant. The dispatcher stands in
// for the LiveKit server; each answer's latency is what the server would see.
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { DEV_CREDENTIALS } from '../src/dispatcher/dev-defaults.js';
import { LocalDispatcher } from '../src/dispatcher/local-dispatcher.js';
import type { AvailabilityAnswered, DispatchOutcome } from '../src/dispatcher/types.js';
import type { SnapshotV1 } from '../src/introspection/snapshot-schema.js';
import {
  dispatcherTarget,
  launchWorker,
  type LaunchedWorker,
  type WorkerLaunch,
} from './launch-worker.js';
import type { WarmMode } from './startup.js';
import { median, percentile } from './stats.js';

const AGENT = 'held-call';
/** Generous: freeing 20 slots takes milliseconds; anything near this is a leak. */
const SETTLE_TIMEOUT_MS = 15_000;

export interface AdmissionWireOptions {
  /** Availability requests per burst. */
  requests?: number;
  /** The tenant's cap: exactly this many requests of a burst should be accepted. */
  cap?: number;
  bursts?: number;
  /** Fresh workers per warm-start mode whose first burst is compared (alternating). */
  coldRounds?: number;
}

/** The first burst a fresh worker answers, with agents-js warmed at start or not. */
export interface ColdBurst {
  warmStart: WarmMode;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  exact: boolean;
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
  /** How long the dispatcher took to write the whole burst (it reads answers in between). */
  sendMs: number;
  /** From the end of that write to the last answer: what was still queued once the burst was out. */
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
  cold: ColdBurst[];
  /** Medians over `cold`, per mode. */
  coldByMode: {
    warmStart: WarmMode;
    workers: number;
    medianP50Ms: number;
    medianP99Ms: number;
    medianMaxMs: number;
  }[];
}

export interface Rig {
  dispatcher: LocalDispatcher;
  worker: LaunchedWorker;
}

const SEND_CHUNK = 25;
/** As admission-wire.config.ts sets them. */
export const WIRE_TENANT = 'acme';
const GLOBAL_CAP = 1_000;
const CONFIG = path.join(path.dirname(fileURLToPath(import.meta.url)), 'admission-wire.config.ts');

/** A fresh dispatcher and a worker on this benchmark's config (the start-up benchmark uses it too). */
export async function startRig(
  cap: number,
  warmStart: WarmMode = 'on',
  { env, ...launch }: Pick<WorkerLaunch, 'logLevel' | 'onLogLine' | 'env'> = {},
): Promise<Rig> {
  const dispatcher = await LocalDispatcher.start({ port: 0, ...DEV_CREDENTIALS });
  const worker = await launchWorker({
    kind: 'openrtc',
    target: dispatcherTarget(dispatcher),
    credentials: DEV_CREDENTIALS,
    agentName: AGENT,
    entry: CONFIG,
    env: { BENCH_TENANT_CAP: String(cap), BENCH_WARM_START: warmStart, ...env },
    ...launch,
  });
  return { dispatcher, worker };
}

async function snapshotOf(rig: Rig): Promise<SnapshotV1> {
  const snap = await rig.worker.snapshot();
  if (!snap) throw new Error('admission-wire: the worker gave no snapshot');
  return snap;
}

async function until(
  what: string,
  done: () => Promise<boolean>,
  timeoutMs = SETTLE_TIMEOUT_MS,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline)
      throw new Error(`admission-wire: ${what} did not happen within ${timeoutMs} ms`);
    await sleep(20);
  }
}

function acceptedBy(snap: SnapshotV1, tenant: string): number {
  return snap.tenants.find((t) => t.tenant === tenant)?.accepted ?? 0;
}

function tally(keys: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const k of keys) counts[k] = (counts[k] ?? 0) + 1;
  return counts;
}

/** One burst of `requests` availability requests for `tenant` at once, then its slots freed. */
export async function burstOverWire(
  rig: Rig,
  tenant: string,
  requests: number,
  cap: number,
): Promise<BurstResult> {
  const { dispatcher } = rig;
  const acceptedBefore = acceptedBy(await snapshotOf(rig), tenant);
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
  // It yields every few requests: a dispatcher written in JS cannot read answers while it writes,
  // and without the yield its own send time would be charged to the worker's answers.
  for (let i = 0; i < requests; i++) {
    pending.push(dispatcher.dispatch({ agentName: AGENT, metadata }));
    if (i % SEND_CHUNK === SEND_CHUNK - 1) await new Promise((r) => setImmediate(r));
  }
  const written = performance.now();
  const outcomes = await Promise.all(pending);
  const wallMs = performance.now() - t0;
  dispatcher.off('availability_answered', onAnswer);

  const assigned = outcomes.filter((o) => o.status === 'assigned');
  const rejected = outcomes.flatMap((o) => (o.status === 'rejected' ? [o] : []));
  const other = outcomes.filter((o) => o.status !== 'assigned' && o.status !== 'rejected');
  // Accepted jobs must be running sessions, so their slots stay taken for the whole burst.
  let settled = await snapshotOf(rig);
  await until('accepted sessions starting', async () => {
    settled = await snapshotOf(rig);
    return settled.sessions.length >= assigned.length;
  });
  const sessionsRunning = settled.sessions.length;
  const workerAccepted = acceptedBy(settled, tenant) - acceptedBefore;
  const rejectedRecordedFailed = rejected.filter((o) => {
    const job = dispatcher.job(o.jobId);
    return job?.state === 'failed' && job.error.startsWith(`rejected: ${o.reason ?? ''}`);
  }).length;

  for (const o of assigned) dispatcher.terminate(o.jobId);
  await until('slots freeing after termination', async () => {
    const snap = await snapshotOf(rig);
    return snap.worker.live + snap.worker.reserved === 0 && snap.sessions.length === 0;
  });

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
export async function benchAdmissionOverWire(
  opts: AdmissionWireOptions = {},
): Promise<AdmissionWireResult> {
  const requests = opts.requests ?? 1_000;
  const tenant = WIRE_TENANT;
  const cap = opts.cap ?? 20;
  const globalCap = GLOBAL_CAP;
  const count = opts.bursts ?? 3;
  const rig = await startRig(cap);
  const bursts: BurstResult[] = [];
  try {
    for (let i = 0; i < count; i++) bursts.push(await burstOverWire(rig, tenant, requests, cap));
  } finally {
    await rig.worker.stop();
    await rig.dispatcher.close();
  }
  // Before and after warm start: the first burst of fresh workers, alternating modes so a noisy
  // neighbour hits both alike.
  const cold: ColdBurst[] = [];
  for (let i = 0; i < (opts.coldRounds ?? 3); i++) {
    for (const warmStart of ['off', 'on'] as const) {
      const fresh = await startRig(cap, warmStart);
      try {
        const b = await burstOverWire(fresh, tenant, requests, cap);
        cold.push({ warmStart, p50Ms: b.p50Ms, p99Ms: b.p99Ms, maxMs: b.maxMs, exact: b.exact });
      } finally {
        await fresh.worker.stop();
        await fresh.dispatcher.close();
      }
    }
  }
  const coldByMode = (['off', 'on'] as const).map((warmStart) => {
    const mine = cold.filter((c) => c.warmStart === warmStart);
    return {
      warmStart,
      workers: mine.length,
      medianP50Ms: median(mine.map((c) => c.p50Ms)),
      medianP99Ms: median(mine.map((c) => c.p99Ms)),
      medianMaxMs: median(mine.map((c) => c.maxMs)),
    };
  });
  return {
    cold,
    coldByMode,
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
