import { chmod, lstat, unlink } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { z } from 'zod';
import { PushGroups, type Subscriber } from './push-groups.js';
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
  subscriptions: Set<Subscription>;
  closed: boolean;
}

interface Subscription extends Subscriber {
  readonly conn: Connection;
  readonly id: RequestId;
  /** The push line up to its result, `{"v":1,"id":…,"result":`; the shared encoded result follows. */
  readonly head: Buffer;
}

/** One build of a method's result for pushing: the encoded tail of the line, or the error to answer. */
type PushResult = { ok: true; tail: Buffer } | { ok: false; code: IpcErrorCode; message: string };

interface PushCacheEntry {
  /** `performance.now()` when built; unset while building. */
  at: number | undefined;
  result: Promise<PushResult>;
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
  readonly #pushGroups = new PushGroups<Subscription>((method, due) => this.#push(method, due));
  /**
   * The latest push result per method. Pushes due at about the same time (other intervals, new
   * subscribers) share it; `at` is unset while it is being built, so concurrent pushes wait for
   * that one build instead of starting another.
   */
  readonly #pushCache = new Map<string, PushCacheEntry>();

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
    const conn: Connection = { socket, buffered: [], bufferedBytes: 0, subscriptions: new Set(), closed: false };
    this.#connections.add(conn);
    socket.on('data', (chunk: Buffer) => this.#onData(conn, chunk));
    socket.on('error', () => this.#drop(conn));
    socket.on('close', () => this.#drop(conn));
  }

  #drop(conn: Connection): void {
    if (conn.closed) return;
    conn.closed = true;
    this.#unsubscribeAll(conn);
    this.#connections.delete(conn);
    conn.socket.destroy();
  }

  #unsubscribeAll(conn: Connection): void {
    for (const sub of conn.subscriptions) this.#pushGroups.delete(sub);
    conn.subscriptions.clear();
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
    this.#unsubscribeAll(conn);
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
      (result) => this.#send(conn, req.id, { result: result ?? null }, req.method),
      (err: unknown) => this.#failed(conn, req.id, req.method, err),
    );
  }

  async #call(handler: Handler, params: unknown, ctx: CallContext): Promise<unknown> {
    return handler(params, ctx);
  }

  #failed(conn: Connection, id: RequestId, method: string, err: unknown): void {
    const { code, message } = this.#publicFailure(method, err);
    this.#error(conn, id, code, message);
  }

  /** What the client may see of a handler's failure; anything unintended is logged here, once. */
  #publicFailure(method: string, err: unknown): { code: IpcErrorCode; message: string } {
    if (isPublicError(err)) return { code: err.code, message: err.message };
    this.#logger.error({ method, err: err instanceof Error ? err.message : String(err) }, 'control method failed');
    return { code: 'internal', message: `internal error in "${method}"` };
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
    const sub: Subscription = {
      conn,
      id,
      method,
      intervalMs: parsed.data.intervalMs,
      head: Buffer.from(`{"v":${PROTOCOL_VERSION},"id":${JSON.stringify(id)},"result":`),
      lastPushAt: performance.now(),
    };
    conn.subscriptions.add(sub);
    this.#pushGroups.add(sub);
    void this.#push(method, [sub]);
  }

  /** Sends every subscriber in `due` the same result: one build, one encoding, shared bytes. */
  async #push(method: string, due: Subscription[]): Promise<void> {
    const result = await this.#latest(method);
    let written = 0;
    for (const sub of due) {
      // Each socket write still copies the bytes into the kernel; many large ones in a row would
      // hold the loop for as long as all of them, so the loop gets a turn between slices.
      if (written >= PUSH_SLICE_BYTES) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        written = 0;
      }
      if (sub.conn.closed) continue;
      if (result.ok) {
        this.#sendRaw(sub.conn, { id: sub.id, method }, sub.head, result.tail);
        written += result.tail.length;
      } else this.#error(sub.conn, sub.id, result.code, result.message);
    }
  }

  #latest(method: string): Promise<PushResult> {
    const cached = this.#pushCache.get(method);
    if (cached && (cached.at === undefined || performance.now() - cached.at < PUSH_SHARE_MS)) return cached.result;
    const entry: PushCacheEntry = {
      at: undefined,
      result: this.#build(method).then((result) => {
        // A failure is answered but not shared: the next push tries again.
        if (result.ok) entry.at = performance.now();
        else if (this.#pushCache.get(method) === entry) this.#pushCache.delete(method);
        return result;
      }),
    };
    this.#pushCache.set(method, entry);
    return entry.result;
  }

  async #build(method: string): Promise<PushResult> {
    const handler = Object.hasOwn(this.#handlers, method) ? this.#handlers[method] : undefined;
    if (!handler) return { ok: false, code: 'unknown_method', message: `unknown method "${method}"` };
    let result: unknown;
    try {
      result = await this.#call(handler, {}, { uid: process.getuid?.() });
    } catch (err) {
      return { ok: false, ...this.#publicFailure(method, err) };
    }
    let json: string;
    try {
      json = JSON.stringify(result ?? null);
    } catch {
      return { ok: false, code: 'internal', message: 'result could not be encoded' };
    }
    // Encoded once into bytes that every subscriber's socket then writes as they are.
    return { ok: true, tail: Buffer.from(`${json}}\n`) };
  }

  #error(conn: Connection, id: RequestId | null, code: IpcErrorCode, message: string): void {
    this.#send(conn, id, { error: { code, message } });
  }

  /** `method` names what is answered, for the error when the answer is too large to queue. */
  #send(conn: Connection, id: RequestId | null, body: { result: unknown } | { error: { code: string; message: string } }, method?: string): void {
    if (conn.closed || conn.socket.destroyed) return;
    let line: string;
    try {
      line = encode(id, body);
    } catch {
      line = encode(id, { error: { code: 'internal', message: 'result could not be encoded' } });
    }
    this.#sendRaw(conn, method !== undefined ? { id, method } : undefined, line);
  }

  /** Writes one line given in parts; a push's parts are shared buffers, written without copying. */
  #sendRaw(conn: Connection, answer: { id: RequestId | null; method: string } | undefined, ...parts: (string | Buffer)[]): void {
    if (conn.closed || conn.socket.destroyed) return;
    let length = 0;
    for (const part of parts) length += Buffer.byteLength(part);
    const queued = conn.socket.writableLength;
    if (queued + length > this.#maxQueuedBytes) {
      if (queued === 0 && answer) {
        // Not a slow client: this one answer alone is over the limit. Say so to the client.
        this.#logger.warn({ method: answer.method, bytes: length, limit_bytes: this.#maxQueuedBytes }, 'a control answer is larger than the per-client output limit; answered response_too_large');
        const message = `the answer to "${answer.method}" is ${length} bytes, more than the ${this.#maxQueuedBytes} bytes a control client may have queued`;
        this.#sendRaw(conn, undefined, encode(answer.id, { error: { code: 'response_too_large', message } }));
        return;
      }
      this.#logger.warn({ queued_bytes: queued, line_bytes: length, limit_bytes: this.#maxQueuedBytes }, 'dropping a control client that does not read its output');
      this.#drop(conn);
      return;
    }
    if (parts.length === 1) {
      conn.socket.write(parts[0]!);
      return;
    }
    // Corked, the parts leave in one vectored write rather than one syscall each.
    conn.socket.cork();
    for (const part of parts) conn.socket.write(part);
    conn.socket.uncork();
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

/** Push bytes written per turn of the event loop (a few large snapshots, a fraction of a millisecond). */
const PUSH_SLICE_BYTES = 512 * 1024;

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
