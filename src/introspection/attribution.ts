import { createHook, type AsyncHook } from 'node:async_hooks';
import { sessionScope, type SessionScope } from '../scope/session-scope.js';

/**
 * Per-session CPU and event-loop-block attribution.
 *
 * Method. An async hook brackets every JS callback the event loop runs (`before` / `after`:
 * timers, I/O, immediates, promise reactions). In `before` the AsyncLocalStorage store of the
 * callback about to run is already current, so `sessionScope.getStore()` names the session whose
 * async tree the callback belongs to: the session that owns the code, not the last session seen.
 * The callback's synchronous duration (exclusive of nested callbacks) is added to that session's
 * CPU bucket; a duration over `blockThresholdMs` is an event-loop block charged to that session.
 *
 * CPU share = a session's callback time in the last completed interval / the interval's length,
 * as a percentage of one core. Error bounds, all of which make the figure an undercount:
 *  - time in native threads (libuv pool, the audio/ONNX worker threads, zlib, crypto) and in GC
 *    is not seen at all;
 *  - only callbacks inside the session's async tree count: the synchronous prologue of the
 *    session's entry, run from an unscoped callback, and work done by shared objects on behalf of
 *    several sessions (a shared socket, a shared prewarmed model) are charged to nobody;
 *  - each callback's timestamps are taken with `performance.now()` (sub-microsecond), so the
 *    per-callback error is well under 1 µs plus the hook's own cost, which lands in the bucket too.
 *
 * Memory share. V8 has no per-context heap accounting, so a per-session byte count can only be a
 * share: (heapUsed now - heapUsed when the worker was last idle) / live sessions, split evenly.
 * Even, not weighted by CPU, because a session's memory (its AgentSession, buffers, chat history)
 * does not track how busy it is. It is a share of growth, not a measurement: one leaking session
 * raises everyone's figure, and garbage not yet collected counts until the next GC.
 *
 * Cost: one `performance.now()` pair, one ALS lookup and one Map lookup per callback; no
 * allocation per callback (the nesting stack is preallocated). That is about 0.3 µs, but an audio
 * session runs thousands of promise reactions a second, so continuously it adds up to about 1 % of
 * a core per 10 sessions. Sampled mode (`sampleMs`) installs the hook for only part of each
 * interval: CPU shares become an estimate from that window, and a block outside it is caught by
 * a stall watchdog, which cannot name the session but turns the hook on continuously for
 * `catchMs` so that a repeat is named. `disable()` removes the hook entirely.
 */

export interface SlowSessionEvent {
  tenant: string;
  sessionId: string;
  agent: string;
  durationMs: number;
}

export interface SessionAttributionOptions {
  /** A single callback longer than this is an event-loop block. Default 50. */
  blockThresholdMs?: number;
  /** How long `slow` stays true after the last block. Default 5000. */
  slowFlagMs?: number;
  /** Length of one CPU-share interval. Default 1000. */
  intervalMs?: number;
  /**
   * Sampled mode: the hook runs only for the first `sampleMs` of each interval, which divides its
   * cost by `intervalMs / sampleMs`. CPU shares are then estimated from that window. A block in
   * the unsampled rest is still noticed (by a cheap timer that sees the loop stall), reported
   * through `onUnattributedBlock`, and the hook then runs continuously for `catchMs`, so a session
   * that blocks again is named. Unset: the hook runs all the time.
   */
  sampleMs?: number;
  /**
   * How long to run continuously after an unattributed block. Default 60000. The next catch can
   * start no sooner than five times this after the last one began.
   */
  catchMs?: number;
  /** Called (outside the hook, on a later tick) for each block. */
  onSlowSession?: (event: SlowSessionEvent) => void;
  /** Sampled mode: a block happened while the hook was off; `durationMs` is at least this long. */
  onUnattributedBlock?: (durationMs: number) => void;
  /** Monotonic ms. Default `performance.now`. */
  now?: () => number;
  /** Heap in use, for the memory baseline. Default `process.memoryUsage().heapUsed`. */
  heapUsed?: () => number;
}

export interface SessionUsage {
  /** Percentage of one core over the last completed interval. */
  cpuPct: number;
  slow: boolean;
  /** Duration of the most recent block, when there was one. */
  lastBlockMs?: number;
}

interface Bucket {
  tenant: string;
  agent: string;
  /** Callback time accumulated in the current interval. */
  cpuMs: number;
  /** Share over the last completed interval. */
  cpuPct: number;
  lastBlockMs: number;
  /** Monotonic ms of the last block, or -Infinity. */
  lastBlockAt: number;
}

const MAX_DEPTH = 256;
/** After a catch window, sampled mode waits this many windows' time before catching again. */
const CATCH_BACKOFF = 5;
const IDLE: SessionUsage = Object.freeze({ cpuPct: 0, slow: false });

export class SessionAttribution {
  readonly blockThresholdMs: number;
  readonly slowFlagMs: number;
  readonly intervalMs: number;
  #sampleMs: number | undefined;
  readonly catchMs: number;
  readonly #onSlow: ((e: SlowSessionEvent) => void) | undefined;
  readonly #onUnattributed: ((durationMs: number) => void) | undefined;
  readonly #now: () => number;
  readonly #heapUsed: () => number;
  readonly #buckets = new Map<string, Bucket>();

  /** Sessions with CPU and loop-block state. */
  get trackedSessions(): number {
    return this.#buckets.size;
  }
  // Nesting stack, preallocated so the hot path does not allocate.
  readonly #ids = new Float64Array(MAX_DEPTH);
  readonly #starts = new Float64Array(MAX_DEPTH);
  readonly #childMs = new Float64Array(MAX_DEPTH);
  readonly #scopes: (SessionScope | undefined)[] = new Array<SessionScope | undefined>(
    MAX_DEPTH,
  ).fill(undefined);
  #depth = 0;
  #hook: AsyncHook | undefined;
  /** Whether the hook is installed right now (in sampled mode, only part of each interval). */
  #hooked = false;
  /** Hooked time within the current interval, up to the moment the hook was last removed. */
  #sampledMs = 0;
  #hookedAt = 0;
  #catchUntil = -Infinity;
  /**
   * A saturated loop makes every timer late without any one block; catching then finds nobody and
   * only adds cost. So a catch is followed by a quiet spell before the next one.
   */
  #nextCatchAt = -Infinity;
  #timer: NodeJS.Timeout | undefined;
  #sampleTimer: NodeJS.Timeout | undefined;
  #watchdog: NodeJS.Timeout | undefined;
  #watchdogAt = 0;
  #pendingSlow: SlowSessionEvent[] = [];
  #flushScheduled = false;
  #heapBaseline: number | undefined;

  constructor(options: SessionAttributionOptions = {}) {
    this.blockThresholdMs = options.blockThresholdMs ?? 50;
    this.slowFlagMs = options.slowFlagMs ?? 5_000;
    this.intervalMs = options.intervalMs ?? 1_000;
    this.#sampleMs = this.#validSample(options.sampleMs);
    this.catchMs = options.catchMs ?? 60_000;
    this.#onSlow = options.onSlowSession;
    this.#onUnattributed = options.onUnattributedBlock;
    this.#now = options.now ?? (() => performance.now());
    this.#heapUsed = options.heapUsed ?? (() => process.memoryUsage().heapUsed);
  }

  get enabled(): boolean {
    return this.#hook !== undefined;
  }

  get sampleMs(): number | undefined {
    return this.#sampleMs;
  }

  /** Switches between sampled (`sampleMs`) and continuous (`undefined`) on a live worker. */
  setSampleMs(sampleMs: number | undefined): void {
    this.#sampleMs = this.#validSample(sampleMs);
    if (!this.#hook) return;
    if (this.#sampleMs === undefined) {
      clearTimeout(this.#sampleTimer);
      this.#hookOn();
    } else {
      this.#scheduleSampleEnd();
    }
  }

  #validSample(sampleMs: number | undefined): number | undefined {
    return sampleMs !== undefined && sampleMs > 0 && sampleMs < this.intervalMs
      ? sampleMs
      : undefined;
  }

  /** Whether the attribution hook runs continuously now (always, unless sampled and not catching). */
  get continuous(): boolean {
    return this.#sampleMs === undefined || this.#now() < this.#catchUntil;
  }

  enable(): void {
    if (this.#hook) return;
    this.#sampledMs = 0;
    this.#heapBaseline ??= this.#heapUsed();
    this.#hook = createHook({
      before: (asyncId) => this.#before(asyncId),
      after: (asyncId) => this.#after(asyncId),
    });
    this.#hookOn();
    this.#timer = setInterval(() => this.roll(), this.intervalMs);
    this.#timer.unref();
    this.#scheduleSampleEnd();
  }

  disable(): void {
    this.#hookOff();
    this.#hook = undefined;
    clearInterval(this.#timer);
    clearTimeout(this.#sampleTimer);
    this.#stopWatchdog();
    this.#timer = undefined;
    this.#sampleTimer = undefined;
  }

  #hookOn(): void {
    if (this.#hooked || !this.#hook) return;
    this.#depth = 0;
    this.#hookedAt = this.#now();
    this.#hook.enable();
    this.#hooked = true;
    this.#stopWatchdog();
  }

  #hookOff(): void {
    if (!this.#hooked) return;
    this.#hook?.disable();
    this.#hooked = false;
    // Called from inside a callback whose `after` will now never arrive: start the stack afresh.
    this.#depth = 0;
    this.#sampledMs += this.#now() - this.#hookedAt;
  }

  #scheduleSampleEnd(): void {
    const sampleMs = this.#sampleMs;
    if (sampleMs === undefined) return;
    clearTimeout(this.#sampleTimer);
    this.#sampleTimer = setTimeout(() => {
      if (this.continuous) return;
      this.#hookOff();
      this.#startWatchdog();
    }, sampleMs);
    this.#sampleTimer.unref();
  }

  /**
   * While the hook is off, a timer that fires much later than asked means something held the
   * loop. Which session did is unknown; the hook then stays on for `catchMs` to find out next time.
   */
  #startWatchdog(): void {
    const every = Math.max(5, Math.min(20, this.blockThresholdMs / 2));
    this.#watchdogAt = this.#now();
    this.#watchdog = setInterval(() => {
      const now = this.#now();
      const stalled = now - this.#watchdogAt - every;
      this.#watchdogAt = now;
      if (stalled <= this.blockThresholdMs || now < this.#nextCatchAt) return;
      this.#catchUntil = now + this.catchMs;
      this.#nextCatchAt = now + this.catchMs * CATCH_BACKOFF;
      this.#hookOn();
      if (this.#onUnattributed) {
        const report = this.#onUnattributed;
        sessionScope.exit(() => setImmediate(() => report(stalled)));
      }
    }, every);
    this.#watchdog.unref();
  }

  #stopWatchdog(): void {
    clearInterval(this.#watchdog);
    this.#watchdog = undefined;
  }

  #before(asyncId: number): void {
    const d = this.#depth++;
    if (d >= MAX_DEPTH) return;
    this.#ids[d] = asyncId;
    this.#scopes[d] = sessionScope.getStore();
    this.#childMs[d] = 0;
    this.#starts[d] = this.#now();
  }

  #after(asyncId: number): void {
    const end = this.#now();
    // An uncaught exception can skip `after` for inner frames: unwind to the matching frame.
    let d = this.#depth - 1;
    while (d >= MAX_DEPTH) d--;
    while (d >= 0 && this.#ids[d] !== asyncId) d--;
    if (d < 0) {
      this.#depth = 0;
      return;
    }
    this.#depth = d;
    const elapsed = end - this.#starts[d]!;
    if (d > 0) this.#childMs[d - 1]! += elapsed;
    const scope = this.#scopes[d];
    this.#scopes[d] = undefined;
    if (!scope) return;
    const own = elapsed - this.#childMs[d]!;
    let bucket = this.#buckets.get(scope.sessionId);
    if (!bucket) {
      bucket = {
        tenant: scope.tenant,
        agent: scope.agent,
        cpuMs: 0,
        cpuPct: 0,
        lastBlockMs: 0,
        lastBlockAt: -Infinity,
      };
      this.#buckets.set(scope.sessionId, bucket);
    }
    bucket.cpuMs += own;
    if (own > this.blockThresholdMs) {
      bucket.lastBlockMs = own;
      bucket.lastBlockAt = end;
      this.#reportSlow({
        tenant: scope.tenant,
        sessionId: scope.sessionId,
        agent: scope.agent,
        durationMs: own,
      });
    }
  }

  #reportSlow(event: SlowSessionEvent): void {
    if (!this.#onSlow) return;
    this.#pendingSlow.push(event);
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    // Never log from inside the hook; and the flush must not be charged to the session.
    sessionScope.exit(() => setImmediate(() => this.#flushSlow()));
  }

  #flushSlow(): void {
    this.#flushScheduled = false;
    const pending = this.#pendingSlow;
    this.#pendingSlow = [];
    for (const e of pending) {
      try {
        this.#onSlow?.(e);
      } catch {
        // A failing log sink must not break attribution.
      }
    }
  }

  /** Closes the current CPU interval. Runs on its own timer while enabled; exposed for tests. */
  roll(): void {
    const now = this.#now();
    // The share is of the time the hook actually watched: all of the interval, or its sample.
    const watched = this.#sampledMs + (this.#hooked ? now - this.#hookedAt : 0);
    const length = Math.max(watched, 1);
    this.#sampledMs = 0;
    if (this.#hooked) this.#hookedAt = now;
    else if (this.#hook) this.#hookOn();
    this.#scheduleSampleEnd();
    for (const [sessionId, b] of this.#buckets) {
      b.cpuPct = Math.min(100, (b.cpuMs / length) * 100);
      const idle = b.cpuMs === 0;
      b.cpuMs = 0;
      if (idle && now - b.lastBlockAt > this.slowFlagMs) this.#buckets.delete(sessionId);
    }
  }

  usage(sessionId: string): SessionUsage {
    const b = this.#buckets.get(sessionId);
    if (!b) return IDLE;
    const usage: SessionUsage = {
      cpuPct: Math.round(b.cpuPct * 10) / 10,
      slow: this.#now() - b.lastBlockAt <= this.slowFlagMs,
    };
    if (b.lastBlockAt !== -Infinity) usage.lastBlockMs = Math.round(b.lastBlockMs);
    return usage;
  }

  /** Drops a finished session's bucket. */
  forget(sessionId: string): void {
    this.#buckets.delete(sessionId);
  }

  /**
   * Each live session's even share of the heap grown since the worker was last idle (see the
   * method note at the top of this file). An idle worker resets the baseline.
   */
  memoryShare(heapUsed: number, liveSessions: number): number {
    if (liveSessions <= 0) {
      this.#heapBaseline = heapUsed;
      return 0;
    }
    const baseline = this.#heapBaseline ?? heapUsed;
    return Math.floor(Math.max(0, heapUsed - baseline) / liveSessions);
  }
}
