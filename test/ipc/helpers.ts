import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const silentLogger = { warn: () => undefined, error: () => undefined };

/** A private (0700) directory for sockets; short, because socket paths are length-limited. */
export function tempRuntimeDir(): { dir: string; remove(): void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ortc-ipc-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A raw client that sends lines and collects parsed response lines. */
export async function rawClient(socketPath: string): Promise<{
  socket: net.Socket;
  send(line: string): void;
  next(): Promise<Record<string, unknown>>;
  closed: Promise<void>;
}> {
  const socket = net.connect(socketPath);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.on('error', () => undefined);
  const queue: Record<string, unknown>[] = [];
  const waiters: ((m: Record<string, unknown>) => void)[] = [];
  let buf = '';
  socket.setEncoding('utf8');
  socket.on('data', (d: string) => {
    buf += d;
    let nl;
    while ((nl = buf.indexOf('\n')) !== -1) {
      const msg = JSON.parse(buf.slice(0, nl)) as Record<string, unknown>;
      buf = buf.slice(nl + 1);
      const w = waiters.shift();
      if (w) w(msg);
      else queue.push(msg);
    }
  });
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return {
    socket,
    send: (line) => socket.write(line),
    next: () => {
      const m = queue.shift();
      return m ? Promise.resolve(m) : new Promise((resolve) => waiters.push(resolve));
    },
    closed,
  };
}
