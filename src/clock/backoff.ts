export interface BackoffOptions {
  baseMs?: number;
  capMs?: number;
  /** Uniform source in [0, 1); injected so tests are exact. */
  random?: () => number;
}

/**
 * Delay before reconnect attempt `attempt` (1-based): exponential growth capped at `capMs`, with
 * "equal jitter" (half fixed, half random) so a fleet of workers that lost the same server does
 * not reconnect in lockstep, while the delay never collapses to zero.
 */
export function reconnectDelay(attempt: number, options: BackoffOptions = {}): number {
  const { baseMs = 250, capMs = 10_000, random = Math.random } = options;
  const exp = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt - 1));
  const half = exp / 2;
  return Math.round(half + random() * half);
}
