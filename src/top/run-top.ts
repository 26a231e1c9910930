import { IpcClient } from '../ipc/ipc-client.js';
import { discoverWorker, WorkerDiscoveryError } from '../ipc/worker-discovery.js';
import type { WorkerSocket } from '../ipc/socket-path.js';
import { errorMessage } from '../errors/describe-error.js';
import { readSnapshot } from '../control/contract.js';
import type { SnapshotV1 } from '../introspection/snapshot-schema.js';
import { parseTopOptions, type TopOptions } from './options.js';
import { renderPlainFrame } from './plain-frame.js';
import { ipcSnapshotSource } from './snapshot-source.js';

export interface RunTopOptions {
  /** Explicit socket (`--socket`); otherwise the only live worker is used. */
  socketPath?: string | undefined;
  socket?: string | undefined;
  tenant?: string | undefined;
  sort?: string | undefined;
  status?: string | undefined;
  refreshRate?: number | undefined;
  once?: boolean | undefined;
  json?: boolean | undefined;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WritableStream;
  stdin?: NodeJS.ReadStream;
  env?: NodeJS.ProcessEnv;
  /** Delay between reconnect attempts of the live view. */
  retryMs?: number;
  /** Colours and styles (the caller applies NO_COLOR and the terminal check). Default on. */
  color?: boolean;
}

class TopFailure extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

async function discover(env: NodeJS.ProcessEnv, preferName?: string): Promise<WorkerSocket> {
  try {
    return await discoverWorker({ env, preferName });
  } catch (err) {
    if (!(err instanceof WorkerDiscoveryError)) throw err;
    throw new TopFailure(err.message, err.reason === 'several' ? 2 : 1);
  }
}

/**
 * Ink draws nothing but a final frame when it believes it runs in CI (it checks `CI`,
 * `CONTINUOUS_INTEGRATION` and any `CI_*` variable once, as it loads). A live view on a terminal
 * is a person watching, even in a shell inside a CI container, so those variables go before Ink
 * loads.
 */
export function forgetContinuousIntegration(env: NodeJS.ProcessEnv): void {
  for (const key of Object.keys(env))
    if (key === 'CI' || key === 'CONTINUOUS_INTEGRATION' || key.startsWith('CI_')) delete env[key];
}

/** `openrtc top`: returns the exit code; every failure is one line on stderr, never a stack. */
export async function runTop(opts: RunTopOptions): Promise<number> {
  const parsed = parseTopOptions({
    socket: opts.socketPath ?? opts.socket,
    tenant: opts.tenant,
    sort: opts.sort,
    status: opts.status,
    refreshRate: opts.refreshRate,
    once: opts.once,
    json: opts.json,
  });
  if (!parsed.ok) {
    opts.stderr.write(`openrtc: ${parsed.error}\n`);
    return 2;
  }
  const o = parsed.options;
  const env = opts.env ?? process.env;
  try {
    const socketPath = o.socket ?? (await discover(env)).socketPath;
    // A live view needs a terminal; into a pipe or a file goes one plain frame, with no escape codes.
    if (o.json || o.once || opts.stdout.isTTY !== true)
      return await printOnce(socketPath, o.json === true, o, opts);

    let workerName: string | undefined;
    const source = ipcSnapshotSource({
      intervalMs: 1000 / o.refreshRate,
      retryMs: opts.retryMs ?? 1_000,
      resolveSocket: async () => {
        if (o.socket) return o.socket;
        const w = await discover(env, workerName);
        workerName = w.name;
        return w.socketPath;
      },
    });
    if (opts.stdout === process.stdout) forgetContinuousIntegration(process.env);
    // Ink and React load only for the live view: a plain frame, --json and every other command
    // start without them.
    const { runLiveView } = await import('./live-view.js');
    await runLiveView({
      source,
      tenant: o.tenant,
      sort: o.sort,
      status: o.status,
      color: opts.color ?? true,
      stdout: opts.stdout,
      stdin: opts.stdin ?? process.stdin,
    });
    return 0;
  } catch (err) {
    const code = err instanceof TopFailure ? err.exitCode : 1;
    opts.stderr.write(`openrtc: ${errorMessage(err)}\n`);
    return code;
  }
}

async function printOnce(
  socketPath: string,
  json: boolean,
  o: TopOptions,
  opts: RunTopOptions,
): Promise<number> {
  let client: IpcClient;
  try {
    client = await IpcClient.connect(socketPath);
  } catch (err) {
    throw new TopFailure(`cannot reach the worker: ${errorMessage(err)}`, 1);
  }
  let raw: unknown;
  try {
    raw = await client.request('snapshot');
  } finally {
    client.close();
  }
  let snap: SnapshotV1;
  try {
    snap = readSnapshot(raw);
  } catch (err) {
    throw new TopFailure(errorMessage(err), 1);
  }
  if (json) {
    // As the worker sent it: a newer worker's added fields included.
    opts.stdout.write(`${JSON.stringify(raw, null, 2)}\n`);
    return 0;
  }
  opts.stdout.write(
    renderPlainFrame(snap, {
      tenant: o.tenant,
      sort: o.sort,
      status: o.status,
      width: opts.stdout.columns || 80,
    }),
  );
  return 0;
}
