import { chmod, lstat, unlink } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { z } from 'zod';
import { redactText } from '../secrets/redact-text.js';
import type { ControlErrorCode } from './control-error.js';
import { peerCredentials, type PeerCredentials } from './peer-credentials.js';
import { PushGroups, type Subscriber } from './push-groups.js';
import { refuseConnection } from './refuse-connection.js';
import { assertPrivateDir, cleanStaleSockets, probeSocket } from './socket-path.js';
import {
  IpcRequest,
  PROTOCOL_VERSION,
  describeZodError,
  isPublicError,
  requestIdOf,
  type CallContext,
  type Handler,
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
  /** Connections served at once for any method (`top`, scripts, the CLI). */
  maxConnections?: number;
  /**
   * Further connections kept for the operator when the others are all taken: they may call only
   * `operatorMethods`, one request each, so an incident is never locked out by stuck viewers.
   */
  operatorConnections?: number;
  operatorMethods?: ReadonlySet<string>;
  /** A connection that has no request in flight and no subscription is closed after this long. */
  idleTimeoutMs?: number;
  maxSubscriptionsPerConnection?: number;
  /** A client whose unsent output exceeds this is too slow to keep: it is dropped. */
  maxQueuedBytes?: number;
  logger: IpcLogger;
}

export const DEFAULT_MAX_CONNECTIONS = 64;
export const DEFAULT_IDLE_TIMEOUT_MS = 10_000;
export const DEFAULT_MAX_SUBSCRIPTIONS = 4;
/** An operator's connection is for one command typed now: it gets less time to send it. */
const OPERATOR_IDLE_TIMEOUT_MS = 2_000;

const SubscribeParams = z.strictObject({
  intervalMs: z.number().int().min(100).max(60_000),
  method: z.literal('snapshot').optional(),
});

interface Connection {
  socket: net.Socket;
  /** `operator`: one of the reserved connections, for one control request. */
  kind: 'general' | 'operator';
  buffered: Buffer[];
  bufferedBytes: number;
  subscriptions: Set<Subscription>;
  /** Requests read and not yet answered. */
  inFlight: number;
  idleTimer: NodeJS.Timeout | undefined;
  /** Set once an operator connection has its one request; it closes after the answer. */
  ending: boolean;
  closed: boolean;
  /** Asked of the kernel once, the first time a method needs to know who is calling. */
  peer?: Promise<PeerCredentials | undefined>;
}

interface Subscription extends Subscriber {
  readonly conn: Connection;
  readonly id: RequestId;
  /** The push line up to its result, `{"v":1,"id":…,"result":`; the shared encoded result follows. */
  readonly head: Buffer;
}

/** One build of a method's result for pushing: the encoded tail of the line, or the error to answer. */
type PushResult =
  { ok: true; tail: Buffer } | { ok: false; code: ControlErrorCode; message: string };

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
  #operatorCount = 0;
  readonly #maxLineBytes: number;
  readonly #maxConnections: number;
  readonly #operatorConnections: number;
  readonly #operatorMethods: ReadonlySet<string>;
  readonly #idleTimeoutMs: number;
  readonly #maxSubscriptions: number;
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
    this.#maxConnections = opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
    this.#operatorMethods = opts.operatorMethods ?? new Set();
    this.#operatorConnections =
      this.#operatorMethods.size > 0 ? (opts.operatorConnections ?? 1) : 0;
    this.#idleTimeoutMs = opts.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    this.#maxSubscriptions = opts.maxSubscriptionsPerConnection ?? DEFAULT_MAX_SUBSCRIPTIONS;
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
    if (this.#closing)
      return refuseConnection(socket, 'worker_closing', 'the worker is shutting down');
    const general = this.#connections.size - this.#operatorCount;
    let kind: Connection['kind'] = 'general';
    if (general >= this.#maxConnections) {
      if (this.#operatorCount >= this.#operatorConnections) {
        return refuseConnection(
          socket,
          'too_many_connections',
          `${this.#limitReached()}; try again shortly`,
        );
      }
      kind = 'operator';
      this.#operatorCount += 1;
    }
    const conn: Connection = {
      socket,
      kind,
      buffered: [],
      bufferedBytes: 0,
      subscriptions: new Set(),
      inFlight: 0,
      idleTimer: undefined,
      ending: false,
      closed: false,
    };
    this.#connections.add(conn);
    socket.on('data', (chunk: Buffer) => this.#onData(conn, chunk));
    socket.on('error', () => this.#drop(conn));
    socket.on('close', () => this.#drop(conn));
    this.#armIdle(conn);
  }

  #limitReached(): string {
    return `the worker is serving its limit of ${this.#maxConnections} control connections (close idle "openrtc top" windows or scripts)`;
  }

  /** Idle means no request in flight and no subscription: then the connection has this long to send one. */
  #armIdle(conn: Connection): void {
    clearTimeout(conn.idleTimer);
    conn.idleTimer = undefined;
    if (conn.closed || conn.inFlight > 0 || conn.subscriptions.size > 0) return;
    const ms =
      conn.kind === 'operator'
        ? Math.min(this.#idleTimeoutMs, OPERATOR_IDLE_TIMEOUT_MS)
        : this.#idleTimeoutMs;
    conn.idleTimer = setTimeout(() => {
      this.#error(
        conn,
        null,
        'idle_timeout',
        `no request within ${ms} ms; closing this control connection`,
      );
      this.#end(conn);
    }, ms);
    conn.idleTimer.unref();
  }

  /** Closes after what was written so far has been sent. */
  #end(conn: Connection): void {
    if (conn.closed) return;
    this.#forget(conn);
    conn.socket.end();
  }

  #drop(conn: Connection): void {
    if (conn.closed) return;
    this.#forget(conn);
    conn.socket.destroy();
  }

  #forget(conn: Connection): void {
    conn.closed = true;
    clearTimeout(conn.idleTimer);
    this.#unsubscribeAll(conn);
    if (this.#connections.delete(conn) && conn.kind === 'operator') this.#operatorCount -= 1;
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
    this.#send(conn, null, {
      error: {
        code: 'line_too_long',
        message: `request line longer than ${this.#maxLineBytes} bytes`,
      },
    });
    this.#end(conn);
  }

  #onLine(conn: Connection, line: string): void {
    if (line.trim() === '' || conn.ending) return;
    if (conn.kind === 'operator') conn.ending = true;
    clearTimeout(conn.idleTimer);
    conn.inFlight += 1;
    try {
      this.#handleLine(conn, line);
    } finally {
      conn.inFlight -= 1;
    }
    this.#armIdle(conn);
  }

  #handleLine(conn: Connection, line: string): void {
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch {
      this.#error(conn, null, 'bad_json', 'request is not valid JSON');
      return;
    }
    const id = requestIdOf(raw);
    if (isObject(raw) && raw.v !== PROTOCOL_VERSION) {
      this.#error(
        conn,
        id,
        'unsupported_version',
        `unsupported protocol version ${JSON.stringify(raw.v ?? null)}; this worker speaks v${PROTOCOL_VERSION}`,
      );
      return;
    }
    const parsed = IpcRequest.safeParse(raw);
    if (!parsed.success) {
      this.#error(conn, id, 'bad_request', describeZodError(parsed.error, 'request'));
      return;
    }
    const req = parsed.data;
    if (conn.kind === 'operator' && !this.#operatorMethods.has(req.method)) {
      const message = `${this.#limitReached()}; the connection left is reserved for control commands (openrtc tenant, drain, config reload), not "${req.method}"`;
      this.#error(conn, req.id, 'too_many_connections', message);
      return;
    }
    if (req.method === 'subscribe') return this.#subscribe(conn, req.id, req.params);
    const handler = Object.hasOwn(this.#handlers, req.method)
      ? this.#handlers[req.method]
      : undefined;
    if (!handler) {
      this.#error(conn, req.id, 'unknown_method', `unknown method "${req.method}"`);
      return;
    }
    conn.inFlight += 1;
    void this.#call(handler, req.params, {
      peer: () => (conn.peer ??= peerCredentials(conn.socket)),
    })
      .then(
        (result) => this.#send(conn, req.id, { result: result ?? null }, req.method),
        (err: unknown) => this.#failed(conn, req.id, req.method, err),
      )
      .finally(() => {
        conn.inFlight -= 1;
        this.#armIdle(conn);
      });
  }

  async #call(handler: Handler, params: unknown, ctx: CallContext): Promise<unknown> {
    return handler(params, ctx);
  }

  #failed(conn: Connection, id: RequestId, method: string, err: unknown): void {
    const { code, message } = this.#publicFailure(method, err);
    this.#error(conn, id, code, message);
  }

  /** What the client may see of a handler's failure; anything unintended is logged here, once. */
  #publicFailure(method: string, err: unknown): { code: ControlErrorCode; message: string } {
    if (isPublicError(err)) return { code: err.code, message: redactText(err.message) };
    this.#logger.error(
      { method, err: redactText(err instanceof Error ? err.message : String(err)) },
      'control method failed',
    );
    return { code: 'internal', message: `internal error in "${method}"` };
  }

  #subscribe(conn: Connection, id: RequestId, params: unknown): void {
    const parsed = SubscribeParams.safeParse(params ?? {});
    if (!parsed.success) {
      this.#error(conn, id, 'bad_request', describeZodError(parsed.error, 'params'));
      return;
    }
    if (conn.subscriptions.size >= this.#maxSubscriptions) {
      this.#error(
        conn,
        id,
        'too_many_subscriptions',
        `a control connection may hold at most ${this.#maxSubscriptions} subscriptions`,
      );
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
    if (cached && (cached.at === undefined || performance.now() - cached.at < PUSH_SHARE_MS))
      return cached.result;
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
    if (!handler)
      return { ok: false, code: 'unknown_method', message: `unknown method "${method}"` };
    let result: unknown;
    try {
      result = await this.#call(handler, {}, NO_PEER);
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

  #error(conn: Connection, id: RequestId | null, code: ControlErrorCode, message: string): void {
    this.#send(conn, id, { error: { code, message } });
  }

  /** `method` names what is answered, for the error when the answer is too large to queue. */
  #send(
    conn: Connection,
    id: RequestId | null,
    body: { result: unknown } | { error: { code: string; message: string } },
    method?: string,
  ): void {
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
  #sendRaw(
    conn: Connection,
    answer: { id: RequestId | null; method: string } | undefined,
    ...parts: (string | Buffer)[]
  ): void {
    if (conn.closed || conn.socket.destroyed) return;
    let length = 0;
    for (const part of parts) length += Buffer.byteLength(part);
    const queued = conn.socket.writableLength;
    if (queued + length > this.#maxQueuedBytes) {
      if (queued === 0 && answer) {
        // Not a slow client: this one answer alone is over the limit. Say so to the client.
        this.#logger.warn(
          { method: answer.method, bytes: length, limit_bytes: this.#maxQueuedBytes },
          'a control answer is larger than the per-client output limit; answered response_too_large',
        );
        const message = `the answer to "${answer.method}" is ${length} bytes, more than the ${this.#maxQueuedBytes} bytes a control client may have queued`;
        this.#sendRaw(
          conn,
          undefined,
          encode(answer.id, { error: { code: 'response_too_large', message } }),
        );
        return;
      }
      this.#logger.warn(
        { queued_bytes: queued, line_bytes: length, limit_bytes: this.#maxQueuedBytes },
        'dropping a control client that does not read its output',
      );
      this.#drop(conn);
      return;
    }
    if (parts.length === 1) {
      conn.socket.write(parts[0]!);
    } else {
      // Corked, the parts leave in one vectored write rather than one syscall each.
      conn.socket.cork();
      for (const part of parts) conn.socket.write(part);
      conn.socket.uncork();
    }
    // An operator connection carries one answer.
    if (conn.ending) this.#end(conn);
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

/** Pushes are built once for many subscribers: no single caller to name. */
const NO_PEER: CallContext = { peer: () => Promise.resolve(undefined) };

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

/** The exact path may only be reused when nothing answers there: a live worker keeps its socket. */
async function takeOverOnlyIfDead(socketPath: string): Promise<void> {
  let st;
  try {
    st = await lstat(socketPath);
  } catch {
    return;
  }
  if (!st.isSocket())
    throw new Error(`${socketPath} exists and is not a socket; refusing to replace it`);
  if ((await probeSocket(socketPath)) === 'live') {
    throw new Error(`another worker is already listening on ${socketPath}`);
  }
  await unlink(socketPath);
}
