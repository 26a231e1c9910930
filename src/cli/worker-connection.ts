import { setTimeout as sleep } from 'node:timers/promises';
import {
  readResult,
  type ControlMethod,
  type ControlParams,
  type ControlResult,
} from '../control/contract.js';
import { ControlError } from '../ipc/control-error.js';
import { IpcClient } from '../ipc/ipc-client.js';
import { listWorkers } from '../ipc/socket-path.js';
import { redactText } from '../secrets/redact-text.js';
import { EXIT } from './exit-codes.js';

export const NO_WORKER_HINT = 'no openrtc worker is running (start one with: npx openrtc dev)';

/** A one-line failure for the terminal, with the exit code the command should return. */
export class CommandFailure extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.failure,
  ) {
    super(message);
  }
}

/** The socket of the worker to talk to: the one given, or the only one running. */
export async function findWorkerSocket(explicit: string | undefined): Promise<string> {
  if (explicit) return explicit;
  const workers = await listWorkers();
  if (workers.length === 0) throw new CommandFailure(NO_WORKER_HINT);
  if (workers.length > 1) {
    const list = workers
      .map((w) => `  ${w.name} (pid ${w.pid}): --socket ${w.socketPath}`)
      .join('\n');
    throw new CommandFailure(
      `several openrtc workers are running; pick one with --socket:\n${list}`,
      EXIT.usage,
    );
  }
  return workers[0]!.socketPath;
}

/** Calls one method on the live worker and reads its answer by the control contract. */
export async function callWorker<M extends ControlMethod>(
  socket: string | undefined,
  method: M,
  params?: ControlParams<M>,
): Promise<ControlResult<M>> {
  const socketPath = await findWorkerSocket(socket);
  for (let attempt = 1; ; attempt++) {
    try {
      return readResult(method, await callOnce(socketPath, method, params ?? {}));
    } catch (err) {
      // The worker's last connections free up within moments (discovery's own probe held one).
      if (
        !(err instanceof ControlError && err.code === 'too_many_connections') ||
        attempt >= CONNECT_ATTEMPTS
      )
        throw err;
      await sleep(250);
    }
  }
}

const CONNECT_ATTEMPTS = 3;

async function callOnce(
  socketPath: string,
  method: string,
  params: Record<string, unknown>,
): Promise<unknown> {
  let client: IpcClient;
  try {
    client = await IpcClient.connect(socketPath);
  } catch (err) {
    throw new CommandFailure(
      `cannot reach the worker at ${socketPath}: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  try {
    return await client.request(method, params);
  } finally {
    client.close();
  }
}

/** Runs a command body and turns failures into one stderr line and an exit code. */
export async function runCommand(body: () => Promise<void>): Promise<number> {
  try {
    await body();
    return EXIT.ok;
  } catch (err) {
    const code = err instanceof CommandFailure ? err.exitCode : EXIT.failure;
    process.stderr.write(
      `openrtc: ${redactText(err instanceof Error ? err.message : String(err))}\n`,
    );
    return code;
  }
}
