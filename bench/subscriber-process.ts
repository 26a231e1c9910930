// The bench side of `subscriber-clients.ts`: starts that process and drives it.
import { fork, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SubscriberCommand, SubscriberReport } from './subscriber-clients.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '..');

export interface PushCount {
  pushes: number;
  elapsedMs: number;
  /** Clients the worker closed while counting. */
  lost: number;
}

export interface SubscriberClients {
  /** Restarts the push count. */
  count(): void;
  /** The pushes since `count()`; then the clients disconnect and the process exits. */
  stop(): Promise<PushCount>;
}

/** Resolves once all `clients` have subscribed and received their first push. */
export async function startSubscriberClients(
  socketPath: string,
  clients: number,
  intervalMs: number,
): Promise<SubscriberClients> {
  const child = fork(
    path.join(HERE, 'subscriber-clients.ts'),
    [socketPath, String(clients), String(intervalMs)],
    {
      cwd: REPO,
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    },
  );
  // Lowest priority: on a small machine the kernel otherwise runs a client woken by a push on the
  // worker's own core, mid-write, and the client's parsing shows up as the worker's loop delay.
  if (child.pid !== undefined) os.setPriority(child.pid, 19);
  const send = (cmd: SubscriberCommand) => child.send(cmd);
  await nextReport(child, 'ready');
  return {
    count: () => send({ type: 'count' }),
    async stop() {
      if (child.exitCode !== null)
        throw new Error(`subscriber clients exited early with ${child.exitCode}`);
      const counted = nextReport(child, 'counted');
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      send({ type: 'stop' });
      const { pushes, elapsedMs, lost } = await counted;
      await exited;
      return { pushes, elapsedMs, lost };
    },
  };
}

function nextReport<T extends Exclude<SubscriberReport['type'], 'failed'>>(
  child: ChildProcess,
  type: T,
): Promise<Extract<SubscriberReport, { type: T }>> {
  return new Promise((resolve, reject) => {
    const onMessage = (msg: unknown) => {
      if (!isReport(msg)) return;
      if (msg.type === 'failed')
        return done(() => reject(new Error(`subscriber clients failed: ${msg.message}`)));
      if (msg.type === type) done(() => resolve(msg as Extract<SubscriberReport, { type: T }>));
    };
    const onExit = (code: number | null) =>
      done(() => reject(new Error(`subscriber clients exited with ${code} before "${type}"`)));
    const done = (settle: () => void) => {
      child.off('message', onMessage);
      child.off('exit', onExit);
      settle();
    };
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}

function isReport(msg: unknown): msg is SubscriberReport {
  const type =
    typeof msg === 'object' && msg !== null ? (msg as { type?: unknown }).type : undefined;
  return type === 'ready' || type === 'counted' || type === 'failed';
}
