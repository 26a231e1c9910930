/**
 * Time source for pure logic. Admission, caps and the breaker never read the wall clock or
 * schedule timers directly, so tests can drive every transition exactly with a fake clock.
 */
export interface Clock {
  /** Milliseconds, monotonic enough for windows and cooldowns. */
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

export interface TimerHandle {
  readonly id: number;
}

export const systemClock: Clock = (() => {
  const timers = new Map<number, NodeJS.Timeout>();
  let next = 1;
  return {
    now: () => performance.timeOrigin + performance.now(),
    setTimeout(fn, ms) {
      const id = next++;
      const t = setTimeout(() => {
        timers.delete(id);
        fn();
      }, ms);
      // A pending assignment timeout must never keep a draining worker alive.
      t.unref();
      timers.set(id, t);
      return { id };
    },
    clearTimeout(handle) {
      const t = timers.get(handle.id);
      if (t) {
        clearTimeout(t);
        timers.delete(handle.id);
      }
    },
  };
})();
