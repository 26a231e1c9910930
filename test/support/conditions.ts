import { setTimeout as sleep } from 'node:timers/promises';

/** Most conditions hold within a few milliseconds: check soon, then back off to a cheap poll. */
const POLL_MS = [1, 2, 5, 10, 20];

/**
 * Polls `fn` until it returns a value (not undefined or false): tests wait on conditions, not
 * sleeps. `timeoutMs` only bounds a failure; `context` is added to the error (the last frame, the
 * last log lines).
 */
export async function until<T>(
  what: string,
  fn: () => T | undefined | false,
  timeoutMs = 30_000,
  context?: () => string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let polls = 0; ; polls++) {
    const value = fn();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${context ? `:\n${context()}` : ''}`);
    await sleep(POLL_MS[Math.min(polls, POLL_MS.length - 1)]);
  }
}

/** Whether a process with this pid exists. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
