import { chmod, lstat, unlink } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { z } from 'zod';
import { assertPrivateDir, cleanStaleSockets, probeSocket } from './socket-path.js';
import {
  IpcRequest,
  PROTOCOL_VERSION,
  describeZodError,
  isPublicError,
  type CallContext,
  type Handler,
  type IpcErrorCode,
  type RequestId,
} from './protocol.js';

/** The logger calls the server makes (pino satisfies it). */
export interface IpcLogger {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface IpcServerOptions {
  socketPath: string;
  handlers: Record<string, Handler>;
  /** Longest request line accepted; a longer one is answered `line_too_long` and closed. */
  maxLineBytes?: number;
  maxConnections?: number;
  /** A client whose unsent output exceeds this is too slow to keep: it is dropped. */
  maxQueuedBytes?: number;
  logger: IpcLogger;
}

const SubscribeParams = z.strictObject({
  intervalMs: z.number().int().min(100).max(60_000),
  method: z.literal('snapshot').optional(),
});

interface Connection {
  socket: net.Socket;
  buffered: Buffer[];
  bufferedBytes: number;
  timers: Set<NodeJS.Timeout>;
  closed: boolean;
}

/**
 * The worker's control socket: newline-delimited JSON requests, bounded in line size, number of
 * connections and per-client output queue. Malformed input gets an error answer; one client's
 * mistakes never affect another.
 */
export class IpcServer {
  readonly #connections = new Set<Connection>();
  readonly #maxLineBytes: number;
  readonly #maxConnections: number;
  readonly #maxQueuedBytes: number;
  readonly #handlers: Record<string, Handler>;
  readonly #logger: IpcLogger;
  #closing: Promise<void> | undefined;
  /** Pushes due at about the same time share one result and its JSON (50 clients, one build). */
  readonly #pushCache = new Map<string, { at: number; json: string }>();

  private constructor(
    readonly socketPath: string,
    private readonly server: net.Server,
    opts: IpcServerOptions,
  ) {
    this.#maxLineBytes = opts.maxLineBytes ?? 64 * 1024;
    this.#maxConnections = opts.maxConnections ?? 64;
    this.#maxQueuedBytes = opts.maxQueuedBytes ?? 4 * 1024 * 1024;
    this.#handlers = opts.handlers;
    this.#logger = opts.logger;
  }

  static async listen(opts: IpcServerOptions): Promise<IpcServer> {
    const socketPath = path.resolve(opts.socketPath);
    const dir = path.dirname(socketPath);
    await assertPrivateDir(dir);
    await cleanStaleSockets(dir, socketPath);
    await takeOverOnlyIfDead(socketPath);

    const server = net.createServer();
    const ipc = new IpcServer(socketPath, server, opts);
    server.on('connection', (socket) => ipc.#accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => opts.logger.error({ err: err.message }, 'control socket error'));
    // The 0700 directory already keeps others out between listen and chmod.
    await chmod(socketPath, 0o600);
    return ipc;
  }

  get connectionCount(): number {
    return this.#connections.size;
  }

  #accept(socket: net.Socket): void {
    if (this.#closing || this.#connections.size >= this.#maxConnections) {
      socket.end(encode(null, { error: { code: 'too_many_connections', message: `the worker serves at most ${this.#maxConnections} control connections` } }));
      socket.destroySoon();
      return;
    }
    const conn: Connection = { socket, buffered: [], bufferedBytes: 0, timers: new Set(), closed: false };
    this.#connections.add(conn);
    socket.on('data', (chunk: Buffer) => this.#onData(conn, chunk));
    socket.on('error', () => this.#drop(conn));
    socket.on('close', () => this.#drop(conn));
  }

  #drop(conn: Connection): void {
    if (conn.closed) return;
    conn.closed = true;
    for (const t of conn.timers) clearInterval(t);
    conn.timers.clear();
    this.#connections.delete(conn);
    conn.socket.destroy();
  }

  #onData(conn: Connection, chunk: Buffer): void {
    let start = 0;
    let nl = chunk.indexOf(0x0a, start);
    while (nl !== -1 && !conn.closed) {
      const part = chunk.subarray(start, nl);
      if (conn.bufferedBytes + part.length > this.#maxLineBytes) return this.#tooLong(conn);
      const line = conn.bufferedBytes === 0 ? part : Buffer.concat([...conn.buffered, part]);
      conn.buffered = [];
      conn.bufferedBytes = 0;
      this.#onLine(conn, line.toString('utf8'));
      start = nl + 1;
      nl = chunk.indexOf(0x0a, start);
    }
    if (conn.closed || start >= chunk.length) return;
    const rest = chunk.subarray(start);
    if (conn.bufferedBytes + rest.length > this.#maxLineBytes) return this.#tooLong(conn);
    conn.buffered.push(Buffer.from(rest));
    conn.bufferedBytes += rest.length;
  }

  #tooLong(conn: Connection): void {
    this.#send(conn, null, { error: { code: 'line_too_long', message: `request line longer than ${this.#maxLineBytes} bytes` } });
    conn.socket.end();
    conn.closed = true;
    this.#connections.delete(conn);
    for (const t of conn.timers) clearInterval(t);
  }

  #onLine(conn: Connection, line: string): void {
    if (line.trim() === '') return;
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch {
      this.#error(conn, null, 'bad_json', 'request is not valid JSON');
      return;
    }
    const id = idOf(raw);
    if (isObject(raw) && raw.v !== PROTOCOL_VERSION) {
      this.#error(conn, id, 'unsupported_version', `unsupported protocol version ${JSON.stringify(raw.v ?? null)}; this worker speaks v${PROTOCOL_VERSION}`);
      return;
    }
    const parsed = IpcRequest.safeParse(raw);
    if (!parsed.success) {
      this.#error(conn, id, 'bad_request', describeZodError(parsed.error, 'request'));
      return;
    }
    const req = parsed.data;
    if (req.method === 'subscribe') return this.#subscribe(conn, req.id, req.params);
    const handler = Object.hasOwn(this.#handlers, req.method) ? this.#handlers[req.method] : undefined;
    if (!handler) {
      this.#error(conn, req.id, 'unknown_method', `unknown method "${req.method}"`);
      return;
    }
    void this.#call(handler, req.params, { uid: process.getuid?.() }).then(
      (result) => this.#send(conn, req.id, { result: result ?? null }),
      (err: unknown) => this.#failed(conn, req.id, req.method, err),
    );
  }

  async #call(handler: Handler, params: unknown, ctx: CallContext): Promise<unknown> {
    return handler(params, ctx);
  }

  #failed(conn: Connection, id: RequestId, method: string, err: unknown): void {
    if (isPublicError(err)) {
      this.#error(conn, id, err.code, err.message);
      return;
    }
    this.#logger.error({ method, err: err instanceof Error ? err.message : String(err) }, 'control method failed');
    this.#error(conn, id, 'internal', `internal error in "${method}"`);
  }

  #subscribe(conn: Connection, id: RequestId, params: unknown): void {
    const parsed = SubscribeParams.safeParse(params ?? {});
    if (!parsed.success) {
      this.#error(conn, id, 'bad_request', describeZodError(parsed.error, 'params'));
      return;
    }
    const method = parsed.data.method ?? 'snapshot';
    const handler = Object.hasOwn(this.#handlers, method) ? this.#handlers[method] : undefined;
    if (!handler) {
      this.#error(conn, id, 'unknown_method', `unknown method "${method}"`);
      return;
    }
    let inFlight = false;
    const push = () => {
      // A push still being produced is not stacked with another one.
      if (inFlight || conn.closed) return;
      const cached = this.#pushCache.get(method);
      if (cached && performance.now() - cached.at < PUSH_SHARE_MS) {
        this.#sendRaw(conn, `{"v":${PROTOCOL_VERSION},"id":${JSON.stringify(id)},"result":${cached.json}}\n`);
        return;
      }
      inFlight = true;
      void this.#call(handler, {}, { uid: process.getuid?.() }).then(
        (result) => {
          inFlight = false;
          let json: string;
          try {
            json = JSON.stringify(result ?? null);
          } catch {
            this.#error(conn, id, 'internal', 'result could not be encoded');
            return;
          }
          this.#pushCache.set(method, { at: performance.now(), json });
          this.#sendRaw(conn, `{"v":${PROTOCOL_VERSION},"id":${JSON.stringify(id)},"result":${json}}\n`);
        },
        (err: unknown) => {
          inFlight = false;
          this.#failed(conn, id, method, err);
        },
      );
    };
    const timer = setInterval(push, parsed.data.intervalMs);
    conn.timers.add(timer);
    push();
  }

  #error(conn: Connection, id: RequestId | null, code: IpcErrorCode, message: string): void {
    this.#send(conn, id, { error: { code, message } });
  }

  #send(conn: Connection, id: RequestId | null, body: { result: unknown } | { error: { code: string; message: string } }): void {
    if (conn.closed || conn.socket.destroyed) return;
    let line: string;
    try {
      line = encode(id, body);
    } catch {
      line = encode(id, { error: { code: 'internal', message: 'result could not be encoded' } });
    }
    this.#sendRaw(conn, line);
  }

  #sendRaw(conn: Connection, line: string): void {
    if (conn.closed || conn.socket.destroyed) return;
    if (conn.socket.writableLength + line.length > this.#maxQueuedBytes) {
      this.#logger.warn({ queued_bytes: conn.socket.writableLength }, 'dropping a control client that does not read its output');
      this.#drop(conn);
      return;
    }
    conn.socket.write(line);
  }

  /** Stops listening, drops every client and removes the socket file. Safe to call twice. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      for (const conn of [...this.#connections]) this.#drop(conn);
      await new Promise<void>((resolve) => this.server.close(() => resolve()));
      try {
        if ((await lstat(this.socketPath)).isSocket()) await unlink(this.socketPath);
      } catch {
        // Already gone.
      }
    })();
    return this.#closing;
  }
}

/** Subscribers whose pushes fall within this window get the same snapshot. */
const PUSH_SHARE_MS = 50;

function encode(id: RequestId | null, body: object): string {
  return `${JSON.stringify({ v: PROTOCOL_VERSION, id, ...body })}\n`;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function idOf(raw: unknown): RequestId | null {
  if (!isObject(raw)) return null;
  const id = raw.id;
  if (typeof id === 'string' && id.length <= 128) return id;
  if (typeof id === 'number' && Number.isInteger(id)) return id;
  return null;
}

/** The exact path may only be reused when nothing answers there: a live worker keeps its socket. */
async function takeOverOnlyIfDead(socketPath: string): Promise<void> {
  let st;
  try {
    st = await lstat(socketPath);
  } catch {
    return;
  }
  if (!st.isSocket()) throw new Error(`${socketPath} exists and is not a socket; refusing to replace it`);
  if ((await probeSocket(socketPath)) === 'live') {
    throw new Error(`another worker is already listening on ${socketPath}`);
  }
  await unlink(socketPath);
}
