import { setTimeout as sleep } from 'node:timers/promises';

/** Polls `fn` until it returns a value (not undefined or false): tests wait on conditions, not sleeps. */
export async function until<T>(
  what: string,
  fn: () => T | undefined | false,
  timeoutMs = 30_000,
  context?: () => string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = fn();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${context ? `:\n${context()}` : ''}`);
    await sleep(20);
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
