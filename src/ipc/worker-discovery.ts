import { errorMessage } from '../errors/describe-error.js';
import { listWorkers, type WorkerSocket } from './socket-path.js';

/** What every command says when it finds no worker, with the command that starts one. */
export const NO_WORKER_HINT = 'no openrtc worker is running (start one with: npx openrtc dev)';

/**
 * Why no single worker was found: `none` running (a runtime failure), `several` running with no
 * `--socket` to choose (a usage error), or the runtime folder could not be read.
 */
export class WorkerDiscoveryError extends Error {
  constructor(
    readonly reason: 'none' | 'several' | 'unreadable',
    message: string,
  ) {
    super(message);
  }
}

/**
 * The one live worker on this machine, for commands run without `--socket`. With several, one named
 * `preferName` wins (a live view reconnecting to the worker it was showing); else the error lists
 * each worker with the `--socket` flag that picks it.
 */
export async function discoverWorker(
  opts: { env?: NodeJS.ProcessEnv; preferName?: string | undefined } = {},
): Promise<WorkerSocket> {
  let workers: WorkerSocket[];
  try {
    workers = await listWorkers(opts.env);
  } catch (err) {
    throw new WorkerDiscoveryError('unreadable', errorMessage(err));
  }
  if (workers.length === 0) throw new WorkerDiscoveryError('none', NO_WORKER_HINT);
  if (workers.length === 1) return workers[0]!;
  const same = workers.filter((w) => w.name === opts.preferName);
  if (opts.preferName !== undefined && same.length === 1) return same[0]!;
  const list = workers
    .map((w) => `  ${w.name} (pid ${w.pid}): --socket ${w.socketPath}`)
    .join('\n');
  throw new WorkerDiscoveryError(
    'several',
    `several openrtc workers are running; pick one with --socket:\n${list}`,
  );
}
