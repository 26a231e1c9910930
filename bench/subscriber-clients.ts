// Stand-in for many `openrtc top` windows: N control-socket clients subscribed at one rate, run
// in a process of their own (as real clients are) so that parsing the pushes costs the worker
// under test nothing. Started by `startSubscriberClients`; talks to it over the IPC channel.
//
// Arguments: <socket path> <clients> <interval ms>.
import { IpcClient } from '../src/ipc/ipc-client.js';

/** From the bench: `count` restarts the push count, `stop` reports it and exits. */
export type SubscriberCommand = { type: 'count' } | { type: 'stop' };

/** To the bench. `lost` is how many clients the worker closed on (a slow client is dropped). */
export type SubscriberReport =
  | { type: 'ready' }
  | { type: 'counted'; pushes: number; elapsedMs: number; lost: number }
  | { type: 'failed'; message: string };

/** Resolves once the message is handed over, so that disconnecting next cannot lose it. */
function report(msg: SubscriberReport): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send) return resolve();
    process.send(msg, undefined, undefined, () => resolve());
  });
}

function leave(): void {
  if (process.connected) process.disconnect();
}

function isCommand(msg: unknown): msg is SubscriberCommand {
  return (
    typeof msg === 'object' &&
    msg !== null &&
    ((msg as { type?: unknown }).type === 'count' || (msg as { type?: unknown }).type === 'stop')
  );
}

async function main(argv: string[]): Promise<void> {
  const [socketPath, clientsArg, intervalArg] = argv;
  const clients = Number(clientsArg);
  const intervalMs = Number(intervalArg);
  if (!socketPath || !Number.isInteger(clients) || clients < 1 || !Number.isInteger(intervalMs)) {
    throw new Error('usage: subscriber-clients <socket path> <clients> <interval ms>');
  }
  const connected: IpcClient[] = [];
  let pushes = 0;
  let lost = 0;
  let countingSince = performance.now();
  let stopping = false;
  for (let i = 0; i < clients; i++) {
    const c = await IpcClient.connect(socketPath);
    c.onClose(() => {
      if (!stopping) lost += 1;
    });
    await c.subscribe(intervalMs, () => (pushes += 1));
    connected.push(c);
  }
  process.on('message', (msg: unknown) => {
    if (!isCommand(msg)) return;
    if (msg.type === 'count') {
      pushes = 0;
      lost = 0;
      countingSince = performance.now();
      return;
    }
    stopping = true;
    for (const c of connected) c.close();
    void report({
      type: 'counted',
      pushes,
      elapsedMs: performance.now() - countingSince,
      lost,
    }).then(leave);
  });
  // Without the bench there is nobody to report to: do not linger as an orphan.
  process.on('disconnect', () => {
    stopping = true;
    for (const c of connected) c.close();
  });
  await report({ type: 'ready' });
}

main(process.argv.slice(2)).catch(async (err: unknown) => {
  process.exitCode = 1;
  const message = err instanceof Error ? err.message : String(err);
  if (!process.send) console.error(message);
  await report({ type: 'failed', message });
  leave();
});
