import { setTimeout as sleep } from 'node:timers/promises';
import { listWorkers } from '../../ipc/socket-path.js';
import { callWorker, findWorkerSocket, runCommand } from '../worker-connection.js';

export const drainCommand = (opts: { socket?: string; timeout?: number; wait: boolean }) =>
  runCommand(async () => {
    const socketPath = await findWorkerSocket(opts.socket);
    const result = (await callWorker(socketPath, 'drain', opts.timeout !== undefined ? { timeoutMs: opts.timeout * 1000 } : {})) as {
      alreadyDraining: boolean;
      activeSessions: number;
      timeoutMs: number;
    };
    process.stdout.write(
      `${result.alreadyDraining ? 'already draining' : 'draining'}: ${result.activeSessions} live sessions, up to ${result.timeoutMs / 1000} s\n`,
    );
    if (!opts.wait) return;
    // The worker removes its socket when it exits; that is the signal the drain is complete.
    const deadline = Date.now() + result.timeoutMs + 15_000;
    while (Date.now() < deadline) {
      const live = await listWorkers();
      if (!live.some((w) => w.socketPath === socketPath)) {
        process.stdout.write('worker drained and exited\n');
        return;
      }
      await sleep(250);
    }
    throw new Error('the worker is still running after the drain timeout');
  });
