import { setTimeout as sleep } from 'node:timers/promises';
import { listWorkers, pidAlive, workerOfSocket } from '../../ipc/socket-path.js';
import { EXIT_GRACE_MS } from '../../runtime/exit-after-stop.js';
import { callWorker, findWorkerSocket, runCommand } from '../worker-connection.js';

/** Beyond the drain timeout: session teardown after the deadline, and the exit grace. */
const WAIT_SLACK_MS = 15_000 + EXIT_GRACE_MS;

export const drainCommand = (opts: { socket?: string; timeout?: number; wait: boolean }) =>
  runCommand(async () => {
    const socketPath = await findWorkerSocket(opts.socket);
    const result = await callWorker(
      socketPath,
      'drain',
      opts.timeout !== undefined ? { timeoutMs: opts.timeout * 1000 } : {},
    );
    process.stdout.write(
      `${result.alreadyDraining ? 'already draining' : 'draining'}: ${result.liveSessions} live sessions, up to ${result.timeoutMs / 1000} s\n`,
    );
    if (!opts.wait) return;
    // The worker removes its socket once it has stopped, and its process ends right after: only
    // then has it exited.
    const pid = workerOfSocket(socketPath)?.pid;
    const deadline = Date.now() + result.timeoutMs + WAIT_SLACK_MS;
    while (Date.now() < deadline) {
      const live = await listWorkers();
      const socketGone = !live.some((w) => w.socketPath === socketPath);
      if (socketGone && (pid === undefined || !pidAlive(pid))) {
        process.stdout.write('worker drained and exited\n');
        return;
      }
      await sleep(100);
    }
    throw new Error('the worker is still running after the drain timeout');
  });
