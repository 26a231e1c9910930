/**
 * How long the process may stay up after `worker stopped` before it exits regardless. Our own
 * sockets, timers and connections are closed by then; what is left was opened by agent code.
 */
export const EXIT_GRACE_MS = 1_000;

/** The logger calls made here (pino satisfies it). */
export interface ExitLogger {
  warn(obj: object, msg: string): void;
  flush?(): void;
}

export interface ExitAfterStopOptions {
  code: number;
  logger: ExitLogger;
  graceMs?: number;
  /** Injected by tests; the real one is `process.exit`. */
  exit?: (code: number) => void;
  /** Injected by tests; the real one is `process.getActiveResourcesInfo`. */
  activeResources?: () => string[];
}

/** `['Timeout', 'TCPSocketWrap', 'Timeout']` -> `{ Timeout: 2, TCPSocketWrap: 1 }`. */
export function countResources(resources: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = Object.create(null) as Record<string, number>;
  for (const r of resources) counts[r] = (counts[r] ?? 0) + 1;
  return counts;
}

/**
 * Makes the process end once the worker has stopped. Agent code can leave a timer or a socket
 * behind (a forgotten `setTimeout`, a provider client's keep-alive), and Node would then stay up
 * for as long as they do, leaving systemd or Kubernetes waiting until they send SIGKILL. When
 * nothing is left open, the process ends at once by itself: the timer set here does not hold it.
 * Otherwise, after `graceMs`, it logs what was still open and exits with `code`.
 */
export function exitAfterStop(opts: ExitAfterStopOptions): NodeJS.Timeout {
  const graceMs = opts.graceMs ?? EXIT_GRACE_MS;
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  const activeResources = opts.activeResources ?? (() => process.getActiveResourcesInfo());
  const timer = setTimeout(() => {
    const open = countResources(activeResources());
    opts.logger.warn(
      { open, grace_ms: graceMs, exit_code: opts.code },
      'still open after the worker stopped (left by agent code); exiting anyway',
    );
    opts.logger.flush?.();
    exit(opts.code);
  }, graceMs);
  timer.unref();
  return timer;
}
