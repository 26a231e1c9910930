/** Exit codes shared by every command, so scripts and runbooks can branch on them. */
export const EXIT = {
  ok: 0,
  /** Runtime failure: no worker running, a request the worker refused, a connection lost. */
  failure: 1,
  /** The invocation or the config is wrong: nothing was started or changed. */
  usage: 2,
} as const;
