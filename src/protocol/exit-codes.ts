/** Exit codes shared by every command, so scripts and runbooks can branch on them. */
export const EXIT = {
  ok: 0,
  /** Runtime failure: no worker running, a request the worker refused, a connection lost. */
  failure: 1,
  /** The invocation or the config is wrong: nothing was started or changed. */
  usage: 2,
  /**
   * A worker recycled (a `recycle` condition fired; it drained and exited so a fresh process takes
   * over): EX_TEMPFAIL, "try again". systemd and Kubernetes restart it; the supervisor does not,
   * since it started the replacement first.
   */
  recycle: 75,
} as const;
