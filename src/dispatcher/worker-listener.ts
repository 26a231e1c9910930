import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import { bearerToken, type TokenCheck } from './auth.js';

const MAX_FRAME_BYTES = 1 << 20;

export interface Listener {
  server: Server;
  wss: WebSocketServer;
  url: string;
}

/** Binds the dispatcher's one HTTP server (Twirp requests and the `/agent` WebSocket upgrade). */
export async function listen(host: string, port: number): Promise<Listener> {
  const server = createServer();
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
  return { server, wss, url: `ws://${urlHost}:${bound}` };
}

export interface UpgradeOptions {
  tokens: TokenCheck;
  logger: Logger;
  closing: () => boolean;
  onWorker: (ws: WebSocket) => void;
}

/** As LiveKit: only `/agent`, and only with a valid token carrying the agent grant. */
export function acceptWorkers(listener: Listener, opts: UpgradeOptions): void {
  const upgrade = async (req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname.replace(/\/+$/, '');
    if (path !== '/agent') {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const grant = await opts.tokens.videoGrant(bearerToken(req));
    if (!grant?.agent) {
      opts.logger.warn('worker connection refused: bad token or no agent grant');
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    if (opts.closing()) {
      socket.destroy();
      return;
    }
    listener.wss.handleUpgrade(req, socket, head, opts.onWorker);
  };
  listener.server.on('upgrade', (req, socket, head) => void upgrade(req, socket, head));
}

/** Closes every worker socket and the HTTP server, keep-alive connections included. */
export async function closeListener({ server, wss }: Listener): Promise<void> {
  await new Promise<void>((resolve) => wss.close(() => resolve()));
  for (const client of wss.clients) client.terminate();
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    // fetch keeps connections alive; without this close() waits for them to time out.
    server.closeAllConnections();
  });
}
