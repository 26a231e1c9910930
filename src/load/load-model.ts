/**
 * What the worker tells LiveKit about itself. LiveKit picks a worker for each job by weighted
 * random over the workers that report `WS_AVAILABLE`, with weight `1 - load`, and never offers a
 * job to one that reports `WS_FULL` (livekit-server `selectWorkerWeightedByLoad`). It also sends a
 * job only while some available worker reports a load under its target load (`agents.target_load`,
 * 0.7 by default; `JobRequestAffinity` sums `target_load - load`), and drops the job otherwise. So
 * the load figure decides where the next call goes and whether it comes at all: a reported load at
 * the threshold already means "not me".
 *
 * The load is the largest of these, each 0..1:
 * - the measured load: the larger of event-loop utilisation (the share of wall time the main thread
 *   was busy) and p99 event-loop delay over the last sample divided by `loopDelayFullMs`, smoothed
 *   (it rises within about a second and falls over about five, so a worker does not flap between
 *   full and available). Reported only while overload protection is on: reporting it is what makes
 *   LiveKit stop sending, so with protection off the worker takes calls up to its cap;
 * - the session share: slots in use (running plus reserved) over `maxConcurrentSessions`, scaled by
 *   `threshold`, so the worker reaches the target load exactly at its cap and not at 70 % of it.
 *   It is an exact count and is never smoothed.
 *
 * Full (`WS_FULL`) when draining, when every slot is in use (load 1), or, with protection on, when
 * the smoothed measured load reaches `threshold` (stock agents-js: `load >= loadThreshold`, default
 * 0.7 in production, the same figure as LiveKit's target load).
 */
export interface LoadSettings {
  /**
   * The load at which this worker is full: the smoothed measured load at or above it reports
   * `WS_FULL`, and the session share reaches it at the cap. Keep it at the server's
   * `agents.target_load`.
   */
  threshold: number;
  /** Loop delay p99 that counts as a fully loaded worker (share 1). */
  loopDelayFullMs: number;
  /** False: the measured load is shown but neither reported to LiveKit nor makes the worker full. */
  protect: boolean;
}

export interface LoadObservation {
  /** Event-loop utilisation over the last sample, 0..1. */
  elu: number;
  /** Event-loop delay p99 over the last sample, in ms. */
  loopDelayP99Ms: number;
}

export interface LiveCounts {
  inUse: number;
  /** Global cap; null when unlimited. */
  capacity: number | null;
  draining: boolean;
}

export type FullReason = 'draining' | 'capacity' | 'load';

export interface LoadShares {
  eventLoopUtilization: number;
  loopDelay: number;
  /** Slots in use over the cap, unscaled (1 at the cap). */
  sessions: number;
}

export interface LoadReport {
  /** The figure sent in `updateWorker`, 0..1 (1 while draining or at the cap). */
  load: number;
  full: boolean;
  reason?: FullReason;
  /** Smoothed maximum of the two measured shares. */
  measured: number;
  /** Each share as last seen (measured ones unsmoothed). */
  shares: LoadShares;
  threshold: number;
}

/** Time constants of the smoothing: rise fast so a burst is seen, fall slowly so it does not flap. */
export const LOAD_RISE_MS = 1_000;
export const LOAD_FALL_MS = 5_000;

const clamp01 = (n: number): number => (Number.isFinite(n) ? Math.min(1, Math.max(0, n)) : 0);

/** Pure: fed observations with their time, answers what to report. No clock, no timers. */
export class LoadModel {
  #settings: LoadSettings;
  #smoothed = 0;
  #lastAt: number | undefined;
  #last: LoadObservation = { elu: 0, loopDelayP99Ms: 0 };

  constructor(settings: LoadSettings) {
    this.#settings = settings;
  }

  updateSettings(settings: LoadSettings): void {
    this.#settings = settings;
  }

  get settings(): LoadSettings {
    return this.#settings;
  }

  /** Folds one observation taken at `now` (ms) into the smoothed measured load. */
  observe(now: number, obs: LoadObservation): void {
    const raw = Math.max(
      clamp01(obs.elu),
      clamp01(obs.loopDelayP99Ms / this.#settings.loopDelayFullMs),
    );
    const dt = this.#lastAt === undefined ? LOAD_RISE_MS : Math.max(0, now - this.#lastAt);
    const tau = raw > this.#smoothed ? LOAD_RISE_MS : LOAD_FALL_MS;
    this.#smoothed += (1 - Math.exp(-dt / tau)) * (raw - this.#smoothed);
    this.#lastAt = now;
    this.#last = obs;
  }

  report(live: LiveCounts): LoadReport {
    const { threshold, loopDelayFullMs, protect } = this.#settings;
    const sessions =
      live.capacity === null ? 0 : live.capacity === 0 ? 1 : clamp01(live.inUse / live.capacity);
    const shares: LoadShares = {
      eventLoopUtilization: clamp01(this.#last.elu),
      loopDelay: clamp01(this.#last.loopDelayP99Ms / loopDelayFullMs),
      sessions,
    };
    const measured = clamp01(this.#smoothed);
    const base = { measured, shares, threshold };
    if (live.draining) return { ...base, load: 1, full: true, reason: 'draining' };
    if (live.capacity !== null && live.inUse >= live.capacity)
      return { ...base, load: 1, full: true, reason: 'capacity' };
    const load = round2(Math.max(protect ? measured : 0, sessions * threshold));
    if (protect && measured >= threshold) return { ...base, load, full: true, reason: 'load' };
    return { ...base, load, full: false };
  }
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}
