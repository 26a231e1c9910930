import { chmod, lstat, unlink } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { z } from 'zod';
import { encodeLine, LineReader } from './line-framing.js';
import { MethodRouter, unknownMethod, type IpcLogger } from './method-router.js';
import { peerCredentials, type PeerCredentials } from './peer-credentials.js';
import { PushCache, type PushResult } from './push-cache.js';
import { PushGroups, type Subscriber } from './push-groups.js';
import { refuseConnection } from './refuse-connection.js';
import { assertPrivateDir, cleanStaleSockets, probeSocket } from './socket-path.js';
import type { ControlErrorCode } from './control-error.js';
import {
  PROTOCOL_VERSION,
  describeZodError,
  type CallContext,
  type Handler,
  type RequestId,
} from './protocol.js';

export type { IpcLogger } from './method-router.js';

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
  lines: LineReader;
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

/**
 * The worker's control socket: newline-delimited JSON requests, bounded in line size, number of
 * connections and per-client output queue. Malformed input gets an error answer; one client's
 * mistakes never affect another. Lines are framed by `LineReader`, requests routed to their
 * method by `MethodRouter`, and pushes to subscribers shared through `PushCache`.
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
  readonly #router: MethodRouter;
  readonly #logger: IpcLogger;
  #closing: Promise<void> | undefined;
  readonly #pushGroups = new PushGroups<Subscription>((method, due) => this.#push(method, due));
  readonly #pushCache = new PushCache((method) => this.#build(method));

  readonly socketPath: string;
  readonly #server = net.createServer();
  /** Set once the socket file is ours: only then may close remove it. */
  #listening = false;

  /** Nothing listens until `listen()`, so a worker can build its socket before it serves. */
  constructor(opts: IpcServerOptions) {
    this.socketPath = path.resolve(opts.socketPath);
    this.#maxLineBytes = opts.maxLineBytes ?? 64 * 1024;
    this.#maxConnections = opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
    this.#operatorMethods = opts.operatorMethods ?? new Set();
    this.#operatorConnections =
      this.#operatorMethods.size > 0 ? (opts.operatorConnections ?? 1) : 0;
    this.#idleTimeoutMs = opts.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    this.#maxSubscriptions = opts.maxSubscriptionsPerConnection ?? DEFAULT_MAX_SUBSCRIPTIONS;
    this.#maxQueuedBytes = opts.maxQueuedBytes ?? 4 * 1024 * 1024;
    this.#router = new MethodRouter(opts.handlers, opts.logger);
    this.#logger = opts.logger;
  }

  static async listen(opts: IpcServerOptions): Promise<IpcServer> {
    const ipc = new IpcServer(opts);
    await ipc.listen();
    return ipc;
  }

  /** Takes the socket path (refusing one a live worker serves) and accepts connections. */
  async listen(): Promise<void> {
    const { socketPath } = this;
    const server = this.#server;
    const dir = path.dirname(socketPath);
    await assertPrivateDir(dir);
    await cleanStaleSockets(dir, socketPath);
    await takeOverOnlyIfDead(socketPath);

    server.on('connection', (socket) => this.#accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.#listening = true;
    server.on('error', (err) => this.#logger.error({ err: err.message }, 'control socket error'));
    // The 0700 directory already keeps others out between listen and chmod.
    await chmod(socketPath, 0o600);
  }

  get connectionCount(): number {
    return this.#connections.size;
  }

  /** Connections, their subscriptions, and the cached pushes shared between subscribers. */
  footprint(): Record<string, number> {
    let subscriptions = 0;
    for (const conn of this.#connections) subscriptions += conn.subscriptions.size;
    return {
      'ipc.connections': this.#connections.size,
      'ipc.subscriptions': subscriptions,
      'ipc.pushGroups': this.#pushGroups.size,
      'ipc.pushCache': this.#pushCache.size,
    };
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
      lines: new LineReader(this.#maxLineBytes),
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
    // With no subscriber left, the last encoded push (a whole snapshot) has no one to share it.
    if (this.#pushGroups.size === 0) this.#pushCache.clear();
  }

  #onData(conn: Connection, chunk: Buffer): void {
    const read = conn.lines.push(chunk, (line) => {
      this.#onLine(conn, line);
      return !conn.closed;
    });
    if (read === 'too_long' && !conn.closed) this.#tooLong(conn);
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
    const read = this.#router.read(line);
    if (!read.ok) return this.#error(conn, read.id, read.code, read.message);
    const req = read.request;
    if (conn.kind === 'operator' && !this.#operatorMethods.has(req.method)) {
      const message = `${this.#limitReached()}; the connection left is reserved for control commands (openrtc tenant, drain, config reload), not "${req.method}"`;
      this.#error(conn, req.id, 'too_many_connections', message);
      return;
    }
    if (req.method === 'subscribe') return this.#subscribe(conn, req.id, req.params);
    if (!this.#router.handler(req.method)) {
      const { code, message } = unknownMethod(req.method);
      return this.#error(conn, req.id, code, message);
    }
    conn.inFlight += 1;
    void this.#router
      .call(req.method, req.params, { peer: () => (conn.peer ??= peerCredentials(conn.socket)) })
      .then((outcome) => {
        if (outcome.ok) this.#send(conn, req.id, { result: outcome.result ?? null }, req.method);
        else this.#error(conn, req.id, outcome.code, outcome.message);
      })
      .finally(() => {
        conn.inFlight -= 1;
        this.#armIdle(conn);
      });
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
    if (!this.#router.handler(method)) {
      const { code, message } = unknownMethod(method);
      return this.#error(conn, id, code, message);
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
    const result = await this.#pushCache.latest(method);
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

  /** One build and one encoding of a method's result, shared by every subscriber it is pushed to. */
  async #build(method: string): Promise<PushResult> {
    const outcome = await this.#router.call(method, {}, NO_PEER);
    if (!outcome.ok) return outcome;
    let json: string;
    try {
      json = JSON.stringify(outcome.result ?? null);
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
      line = encodeLine(id, body);
    } catch {
      line = encodeLine(id, {
        error: { code: 'internal', message: 'result could not be encoded' },
      });
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
          encodeLine(answer.id, { error: { code: 'response_too_large', message } }),
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
      // A server that never listened owns no socket file: the path may be another worker's.
      if (!this.#listening) return;
      await new Promise<void>((resolve) => this.#server.close(() => resolve()));
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

/** Push bytes written per turn of the event loop (a few large snapshots, a fraction of a millisecond). */
const PUSH_SLICE_BYTES = 512 * 1024;

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
