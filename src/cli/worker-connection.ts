import { setTimeout as sleep } from 'node:timers/promises';
import {
  readResult,
  type ControlMethod,
  type ControlParams,
  type ControlResult,
} from '../control/contract.js';
import { errorMessage } from '../errors/describe-error.js';
import { ControlError } from '../ipc/control-error.js';
import { IpcClient } from '../ipc/ipc-client.js';
import { discoverWorker, WorkerDiscoveryError } from '../ipc/worker-discovery.js';
import { EXIT } from '../protocol/exit-codes.js';

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
  try {
    return (await discoverWorker()).socketPath;
  } catch (err) {
    if (!(err instanceof WorkerDiscoveryError)) throw err;
    throw new CommandFailure(err.message, err.reason === 'several' ? EXIT.usage : EXIT.failure);
  }
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
    throw new CommandFailure(`cannot reach the worker at ${socketPath}: ${errorMessage(err)}`);
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
    process.stderr.write(`openrtc: ${errorMessage(err)}\n`);
    return code;
  }
}
