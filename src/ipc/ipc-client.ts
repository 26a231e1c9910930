import net from 'node:net';
import { ControlError } from './control-error.js';
import { IpcResponse, PROTOCOL_VERSION, type RequestId } from './protocol.js';

export interface IpcClientOptions {
  connectTimeoutMs?: number;
  requestTimeoutMs?: number;
  /** Largest response line accepted (a snapshot of 1,000 sessions is a few hundred KB). */
  maxLineBytes?: number;
}

interface Pending {
  resolve(result: unknown): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout | undefined;
  /** Subscriptions stay registered after the first answer. */
  onPush?: (result: unknown) => void;
  onPushError?: (err: ControlError) => void;
}

/** One connection to a worker's control socket. */
export class IpcClient {
  readonly #pending = new Map<RequestId, Pending>();
  readonly #closeListeners = new Set<(err?: Error) => void>();
  readonly #requestTimeoutMs: number;
  readonly #maxLineBytes: number;
  #nextId = 1;
  #buffer = '';
  #closed = false;
  /** A connection-level error the worker sent before closing (e.g. too many connections). */
  #serverError: ControlError | undefined;

  private constructor(
    private readonly socket: net.Socket,
    opts: IpcClientOptions,
  ) {
    this.#requestTimeoutMs = opts.requestTimeoutMs ?? 5_000;
    this.#maxLineBytes = opts.maxLineBytes ?? 32 * 1024 * 1024;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.#onData(chunk));
    socket.on('error', (err) =>
      this.#shutdown(
        new ControlError('connection_lost', `connection to the worker failed: ${err.message}`),
      ),
    );
    socket.on('close', () =>
      this.#shutdown(new ControlError('connection_lost', 'the worker closed the connection')),
    );
  }

  static connect(socketPath: string, opts: IpcClientOptions = {}): Promise<IpcClient> {
    const timeoutMs = opts.connectTimeoutMs ?? 2_000;
    return new Promise((resolve, reject) => {
      const socket = net.connect(socketPath);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(
          new ControlError(
            'connect_timeout',
            `no answer from ${socketPath} within ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new IpcClient(socket, opts));
      });
      socket.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        const why =
          err.code === 'ENOENT'
            ? 'no such socket'
            : err.code === 'ECONNREFUSED'
              ? 'nothing is listening (the worker is gone)'
              : err.code === 'EACCES'
                ? 'permission denied'
                : err.message;
        reject(new ControlError('connect_failed', `cannot connect to ${socketPath}: ${why}`));
      });
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Called once when the connection ends, for whatever reason. */
  onClose(listener: (err?: Error) => void): () => void {
    this.#closeListeners.add(listener);
    return () => this.#closeListeners.delete(listener);
  }

  request(
    method: string,
    params: Record<string, unknown> = {},
    timeoutMs = this.#requestTimeoutMs,
  ): Promise<unknown> {
    return new Promise((resolve, reject) =>
      this.#send(method, params, timeoutMs, { resolve, reject }),
    );
  }

  /**
   * Asks the worker to push a snapshot every `intervalMs`. Resolves after the first one arrives
   * (which is also passed to `onSnapshot`); pushes continue until `close()`.
   */
  subscribe(
    intervalMs: number,
    onSnapshot: (snapshot: unknown) => void,
    onError?: (err: ControlError) => void,
  ): Promise<void> {
    return new Promise((resolve, reject) =>
      this.#send('subscribe', { intervalMs, method: 'snapshot' }, this.#requestTimeoutMs, {
        resolve: (first) => {
          onSnapshot(first);
          resolve();
        },
        reject,
        onPush: onSnapshot,
        onPushError: (err) => onError?.(err),
      }),
    );
  }

  /** Writes one request; its answer (and, for a subscription, its pushes) go to `pending`. */
  #send(
    method: string,
    params: Record<string, unknown>,
    timeoutMs: number,
    pending: Omit<Pending, 'timer'>,
  ): void {
    if (this.#closed) {
      pending.reject(new ControlError('connection_lost', 'the connection to the worker is closed'));
      return;
    }
    const id = this.#nextId++;
    const timer = setTimeout(() => {
      this.#pending.delete(id);
      pending.reject(
        new ControlError('timeout', `the worker did not answer "${method}" within ${timeoutMs} ms`),
      );
    }, timeoutMs);
    this.#pending.set(id, { ...pending, timer });
    this.socket.write(`${JSON.stringify({ v: PROTOCOL_VERSION, id, method, params })}\n`);
  }

  close(): void {
    this.socket.destroy();
    this.#shutdown();
  }

  #onData(chunk: string): void {
    this.#buffer += chunk;
    let nl = this.#buffer.indexOf('\n');
    while (nl !== -1) {
      const line = this.#buffer.slice(0, nl);
      this.#buffer = this.#buffer.slice(nl + 1);
      this.#onLine(line);
      nl = this.#buffer.indexOf('\n');
    }
    if (this.#buffer.length > this.#maxLineBytes) {
      this.socket.destroy();
      this.#shutdown(new ControlError('line_too_long', 'the worker sent an oversized message'));
    }
  }

  #onLine(line: string): void {
    let msg: IpcResponse;
    try {
      msg = IpcResponse.parse(JSON.parse(line));
    } catch {
      return; // Not ours to understand; the request will time out with a clear error.
    }
    if (msg.id === null) {
      // A connection-level error (too many connections, line too long): fails everything.
      if ('error' in msg) {
        this.#serverError = new ControlError(msg.error.code, msg.error.message);
        this.#failAll(this.#serverError);
      }
      return;
    }
    const p = this.#pending.get(msg.id);
    if (!p) return;
    const first = p.timer !== undefined;
    if (first) {
      clearTimeout(p.timer);
      p.timer = undefined;
    }
    if ('error' in msg) {
      const err = new ControlError(msg.error.code, msg.error.message);
      if (first) {
        this.#pending.delete(msg.id);
        p.reject(err);
      } else p.onPushError?.(err);
      return;
    }
    if (first) {
      if (!p.onPush) this.#pending.delete(msg.id);
      p.resolve(msg.result);
    } else p.onPush?.(msg.result);
  }

  #failAll(err: Error): void {
    for (const [id, p] of this.#pending) {
      clearTimeout(p.timer);
      this.#pending.delete(id);
      if (p.timer !== undefined || !p.onPush) p.reject(err);
    }
  }

  #shutdown(err?: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    const reason =
      this.#serverError ??
      err ??
      new ControlError('connection_lost', 'the connection to the worker is closed');
    this.#failAll(reason);
    for (const l of this.#closeListeners) l(reason);
  }
}
