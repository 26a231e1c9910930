import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { HealthResult } from './health.js';
import { errorMessage } from '../errors/describe-error.js';

export interface OpsRoutes {
  health(): HealthResult;
  /** The `/worker` document; serialised as JSON. */
  worker(): unknown;
  metrics(): Promise<{ contentType: string; body: string }>;
}

export interface OpsHttpServerOptions {
  host: string;
  /** 0 picks an ephemeral port. */
  port: number;
  routes: OpsRoutes;
  logger: Logger;
}

/** Probes and scrapers are few; anything past this is refused rather than queued. */
const MAX_CONNECTIONS = 64;

/**
 * The operations endpoint: `GET /` (health), `GET /worker` (JSON), `GET /metrics` (Prometheus).
 * Every other path is 404, as in stock agents-js; other methods on these paths are 405.
 */
export class OpsHttpServer {
  readonly #server: Server;
  readonly #opts: OpsHttpServerOptions;
  #address: { url: string; port: number } | undefined;

  /** Nothing listens until `listen()`, so a worker can build its endpoint before it serves. */
  constructor(opts: OpsHttpServerOptions) {
    this.#opts = opts;
    const server = createServer((req, res) => void handle(req, res, opts));
    server.maxConnections = MAX_CONNECTIONS;
    server.headersTimeout = 5_000;
    server.requestTimeout = 10_000;
    server.keepAliveTimeout = 5_000;
    this.#server = server;
  }

  /** Where probes reach it, once listening: an ephemeral port is known only then. */
  get url(): string {
    return this.#listening().url;
  }

  get port(): number {
    return this.#listening().port;
  }

  async listen(): Promise<void> {
    const opts = this.#opts;
    const server = this.#server;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => {
        reject(
          err.code === 'EADDRINUSE'
            ? new Error(
                `http.port ${opts.port} on ${opts.host} is already in use (set http.port in the config, 0 for any free port, or false for none)`,
              )
            : err,
        );
      };
      server.once('error', onError);
      server.listen(opts.port, opts.host, () => {
        server.off('error', onError);
        resolve();
      });
    });
    server.on('error', (err) => opts.logger.warn({ error: err.message }, 'http server error'));
    const { port, address } = server.address() as AddressInfo;
    const shown =
      address === '0.0.0.0' || address === '::'
        ? '127.0.0.1'
        : address.includes(':')
          ? `[${address}]`
          : address;
    this.#address = { url: `http://${shown}:${port}`, port };
  }

  #listening(): { url: string; port: number } {
    if (!this.#address) throw new Error('the http server is not listening');
    return this.#address;
  }

  close(): Promise<void> {
    if (!this.#server.listening) return Promise.resolve();
    return new Promise((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }
}

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  opts: OpsHttpServerOptions,
): Promise<void> {
  // Probes send no body; whatever arrives is not read.
  req.resume();
  const path = pathOf(req.url);
  const route = path === '/' || path === '/worker' || path === '/metrics' ? path : undefined;
  try {
    if (!route) return send(res, 404, 'text/plain; charset=utf-8', 'not found');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return send(res, 405, 'text/plain; charset=utf-8', 'method not allowed');
    }
    if (route === '/') {
      const health = opts.routes.health();
      return send(
        res,
        health.healthy ? 200 : 503,
        'text/plain; charset=utf-8',
        health.message,
        req.method === 'HEAD',
      );
    }
    if (route === '/worker')
      return send(
        res,
        200,
        'application/json',
        JSON.stringify(opts.routes.worker()),
        req.method === 'HEAD',
      );
    const metrics = await opts.routes.metrics();
    return send(res, 200, metrics.contentType, metrics.body, req.method === 'HEAD');
  } catch (err) {
    opts.logger.error({ path: route, error: errorMessage(err) }, 'http route failed');
    if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', 'internal error');
    else res.destroy();
  }
}

function pathOf(url: string | undefined): string {
  try {
    return new URL(url ?? '/', 'http://localhost').pathname;
  } catch {
    return '';
  }
}

function send(
  res: ServerResponse,
  status: number,
  contentType: string,
  body: string,
  headOnly = false,
): void {
  res.writeHead(status, {
    'content-type': contentType,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  });
  res.end(headOnly ? undefined : body);
}
