import type { Clock, TimerHandle } from '../clock/clock.js';
import { MemoryTrendTracker, nativeBytes, type MemoryTrend } from './memory-trend.js';
import type { RecycleSnapshot } from '../introspection/snapshot-schema.js';
import {
  decideRecycle,
  describeCondition,
  recycleConditions,
  type RecycleCondition,
  type RecycleLimits,
  type RecycleReadings,
} from './recycle-policy.js';

const MIB = 1024 * 1024;
/** Between sessions the worker still reads RSS and uptime this often (an idle worker ends no session). */
export const RECYCLE_CHECK_INTERVAL_MS = 30_000;

export type MemoryReader = () => Pick<NodeJS.MemoryUsage, 'rss' | 'heapTotal' | 'external'>;

export interface RecycleMonitorOptions {
  limits: RecycleLimits;
  clock: Clock;
  memory: MemoryReader;
  /** Sessions served so far: read from where sessions end (the session host), not counted twice. */
  sessionsServed: () => number;
  intervalMs?: number;
}

/** Called once, with the condition that fired and the readings it fired on. */
export type RecycleHandler = (condition: RecycleCondition, readings: RecycleReadings) => void;

export interface RecycleStatus {
  sessionsServed: number;
  memoryTrend: MemoryTrend;
  nearest: RecycleCondition | undefined;
  /** The condition that fired; the worker is handing over or draining. */
  fired: RecycleCondition | undefined;
}

/**
 * Samples memory against sessions served, and tells the worker once when a recycle condition is
 * exceeded. Checked at each session end (`check()`) and on a slow timer, never inside a call;
 * nothing fires before `start()` names who is told.
 */
export class RecycleMonitor {
  readonly #opts: RecycleMonitorOptions;
  readonly #trend = new MemoryTrendTracker();
  readonly startedAt: number;
  #limits: RecycleLimits;
  #onExceeded: RecycleHandler | undefined;
  #nativeAtStart: number;
  #timer: TimerHandle | undefined;
  #fired: RecycleCondition | undefined;

  constructor(opts: RecycleMonitorOptions) {
    this.#opts = opts;
    this.#limits = opts.limits;
    this.startedAt = opts.clock.now();
    this.#nativeAtStart = nativeBytes(opts.memory());
  }

  /** Native growth is measured from here: after prewarm and warm start, not from process start. */
  start(onExceeded: RecycleHandler): void {
    this.#onExceeded = onExceeded;
    this.#nativeAtStart = nativeBytes(this.#opts.memory());
    this.#sample();
    this.#arm();
  }

  stop(): void {
    if (this.#timer) this.#opts.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  setLimits(limits: RecycleLimits): void {
    this.#limits = limits;
    this.check();
  }

  /** Reads memory now and tells the handler the first time a condition is exceeded. */
  check(): RecycleCondition | undefined {
    const readings = this.#readings();
    const { exceeded } = decideRecycle(this.#limits, readings);
    if (exceeded && !this.#fired && this.#onExceeded) {
      this.#fired = exceeded;
      this.#onExceeded(exceeded, readings);
    }
    return exceeded;
  }

  status(): RecycleStatus {
    return {
      sessionsServed: this.#opts.sessionsServed(),
      memoryTrend: this.#trend.trend(),
      nearest: decideRecycle(this.#limits, this.#readings()).nearest,
      fired: this.#fired,
    };
  }

  /** Every configured condition with its reading now, for `/metrics`. */
  conditions(): RecycleCondition[] {
    return recycleConditions(this.#limits, this.#readings());
  }

  #readings(): RecycleReadings {
    const m = this.#opts.memory();
    return {
      sessionsServed: this.#opts.sessionsServed(),
      rssMiB: m.rss / MIB,
      nativeGrowthMiB: Math.max(0, nativeBytes(m) - this.#nativeAtStart) / MIB,
      now: this.#opts.clock.now(),
      startedAt: this.startedAt,
    };
  }

  #sample(): void {
    const m = this.#opts.memory();
    this.#trend.add({
      sessionsServed: this.#opts.sessionsServed(),
      rssBytes: m.rss,
      nativeBytes: nativeBytes(m),
    });
  }

  #arm(): void {
    this.#timer = this.#opts.clock.setTimeout(() => {
      this.#sample();
      this.check();
      this.#arm();
    }, this.#opts.intervalMs ?? RECYCLE_CHECK_INTERVAL_MS);
  }
}

export type RecycleState = RecycleSnapshot['state'];

/** The snapshot's `worker.recycle`: figures rounded for display, the nearest condition labelled. */
export function recycleSnapshot(status: RecycleStatus, state: RecycleState): RecycleSnapshot {
  const shown = status.fired ?? status.nearest;
  const round1 = (n: number | undefined) => (n === undefined ? null : Math.round(n * 10) / 10);
  return {
    sessionsServed: status.sessionsServed,
    rssMiBPer1000Sessions: round1(status.memoryTrend.rssMiBPer1000),
    nativeMiBPer1000Sessions: round1(status.memoryTrend.nativeMiBPer1000),
    state,
    ...(shown
      ? {
          nearest: {
            name: shown.name,
            value: Math.max(0, Math.round(shown.value * 10) / 10),
            limit: shown.limit,
            label: describeCondition(shown),
          },
        }
      : {}),
  };
}
