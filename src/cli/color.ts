/**
 * Whether to style output written to `stream` (https://no-color.org): never when `NO_COLOR` is
 * set and not empty; when `FORCE_COLOR` is set, as it says; otherwise only on a terminal. Logs
 * piped to a file or a collector, and `top` under `NO_COLOR`, carry no escape codes.
 */
export function colorEnabled(
  stream: { isTTY?: boolean },
  env: NodeJS.ProcessEnv = process.env,
): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  const force = env.FORCE_COLOR;
  if (force !== undefined) return force !== '0' && force !== 'false';
  return stream.isTTY === true && env.TERM !== 'dumb';
}
