import { IpcClient } from '../ipc/ipc-client.js';
import { pidAlive } from '../ipc/socket-path.js';
import { readSnapshot } from '../control/contract.js';
import type { SnapshotV1 } from '../introspection/snapshot-schema.js';
import { errorMessage } from '../errors/describe-error.js';

export type ConnectionState =
  | { status: 'connecting' }
  | { status: 'connected'; socketPath: string }
  /** `workerGone`: the process of the last worker seen has exited (not just its socket). */
  | { status: 'disconnected'; reason: string; workerGone: boolean };

/** Where the TUI gets its snapshots; tests feed it directly, the CLI uses the worker socket. */
export interface SnapshotSource {
  subscribe(
    onSnapshot: (snapshot: SnapshotV1) => void,
    onState: (state: ConnectionState) => void,
  ): () => void;
}

export interface IpcSnapshotSourceOptions {
  /** Finds the socket on each (re)connect: a restarted worker has a new pid, hence a new path. */
  resolveSocket(): Promise<string>;
  intervalMs: number;
  retryMs?: number;
  /** Whether a pid still runs; injected by tests. */
  isAlive?: (pid: number) => boolean;
}

/** Subscribes over the control socket; on loss, reports `disconnected` and retries until stopped. */
export function ipcSnapshotSource(opts: IpcSnapshotSourceOptions): SnapshotSource {
  return {
    subscribe(onSnapshot, onState) {
      let stopped = false;
      let client: IpcClient | undefined;
      let retry: NodeJS.Timeout | undefined;
      let lastPid: number | undefined;
      const isAlive = opts.isAlive ?? pidAlive;

      // Asked again at every retry: the socket closes a moment before the process ends.
      const lost = (reason: string) => {
        if (stopped) return;
        client?.close();
        client = undefined;
        onState({
          status: 'disconnected',
          reason,
          workerGone: lastPid !== undefined && !isAlive(lastPid),
        });
        clearTimeout(retry);
        retry = setTimeout(() => void connect(), opts.retryMs ?? 1_000);
      };

      const connect = async () => {
        if (stopped) return;
        try {
          const socketPath = await opts.resolveSocket();
          const c = await IpcClient.connect(socketPath);
          if (stopped) return c.close();
          client = c;
          c.onClose((err) => {
            if (client === c) lost(err?.message ?? 'connection closed');
          });
          await c.subscribe(Math.max(100, Math.round(opts.intervalMs)), (raw) => {
            let snapshot: SnapshotV1;
            try {
              snapshot = readSnapshot(raw);
            } catch (err) {
              return lost(errorMessage(err));
            }
            lastPid = snapshot.worker.pid;
            onSnapshot(snapshot);
          });
          if (!stopped && client === c) onState({ status: 'connected', socketPath });
        } catch (err) {
          lost(errorMessage(err));
        }
      };

      onState({ status: 'connecting' });
      void connect();
      return () => {
        stopped = true;
        clearTimeout(retry);
        client?.close();
        client = undefined;
      };
    },
  };
}
