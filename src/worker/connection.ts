import { EventEmitter } from 'node:events';
import type { ServerMessage, WorkerMessage } from '@livekit/protocol';
import { AccessToken } from 'livekit-server-sdk';
import type { Logger } from 'pino';
import WebSocket from 'ws';
import { reconnectDelay } from '../clock/backoff.js';
import { parseServerMessage, pingMessage, registerMessage } from './messages.js';
import { errorMessage } from '../errors/describe-error.js';

/** How long the WebSocket upgrade may take. */
const HANDSHAKE_TIMEOUT_MS = 10_000;
/** How long after the upgrade the server may take to answer `register` (LiveKit's own limit is 10 s). */
const REGISTER_TIMEOUT_MS = 10_000;

export interface AgentConnectionOptions {
  url: string;
  apiKey: string;
  apiSecret: string;
  agentName: string;
  version: string;
  namespace?: string;
  logger: Logger;
  pingIntervalMs?: number;
  /** No frame for this long means the server is gone even if TCP has not noticed. */
  pingTimeoutMs?: number;
  random?: () => number;
}

export interface AgentConnectionEvents {
  registered: [workerId: string];
  disconnected: [reason: string];
  message: [message: ServerMessage];
}

/** `http(s)://host[/path]` or `ws(s)://…` to the server's agent endpoint. */
export function agentEndpoint(url: string): string {
  const u = new URL(url);
  u.protocol = u.protocol.replace(/^http/, 'ws');
  u.pathname = `${u.pathname.replace(/\/+$/, '')}/agent`;
  return u.toString();
}

/**
 * One registration of one agent name: connects, registers, keeps the link alive with pings, and
 * reconnects with backoff when it drops, until `close()`.
 */
export class AgentConnection extends EventEmitter<AgentConnectionEvents> {
  readonly agentName: string;
  workerId: string | undefined;
  readonly #opts: AgentConnectionOptions;
  #ws: WebSocket | undefined;
  #closed = false;
  #attempt = 0;
  #retryTimer: NodeJS.Timeout | undefined;
  #pingTimer: NodeJS.Timeout | undefined;
  #lastFrameAt = 0;

  constructor(options: AgentConnectionOptions) {
    super();
    this.#opts = options;
    this.agentName = options.agentName;
  }

  get registered(): boolean {
    return this.workerId !== undefined && this.#ws?.readyState === WebSocket.OPEN;
  }

  start(): void {
    this.#closed = false;
    void this.#connect();
  }

  /**
   * Resolves true once the message has been handed to the operating system, false when it could
   * not be sent: what must reach the server before something else the worker does.
   */
  sendFlushed(message: WorkerMessage): Promise<boolean> {
    const ws = this.#ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return Promise.resolve(false);
    return new Promise((resolve) => {
      try {
        ws.send(message.toBinary(), (err) => resolve(!err));
      } catch {
        resolve(false);
      }
    });
  }

  /** Sends when registered; returns false when the message could not be handed to the socket. */
  send(message: WorkerMessage): boolean {
    const ws = this.#ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    try {
      ws.send(message.toBinary());
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    this.#stopPing();
    const ws = this.#ws;
    this.#ws = undefined;
    if (!ws || ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        ws.terminate();
        resolve();
      }, 1000);
      ws.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
      else ws.close(1000, 'worker closing');
    });
  }

  async #connect(): Promise<void> {
    if (this.#closed) return;
    const { apiKey, apiSecret, logger, agentName } = this.#opts;
    let jwt: string;
    try {
      const token = new AccessToken(apiKey, apiSecret);
      token.addGrant({ agent: true });
      jwt = await token.toJwt();
    } catch (err) {
      logger.error(
        { agent_name: agentName, error: errorMessage(err) },
        'could not sign the worker token',
      );
      this.#scheduleRetry('token error');
      return;
    }
    if (this.#closed) return;
    // A server that is still starting can accept the TCP connection and never answer: without
    // these bounds the worker would wait on that one attempt forever instead of retrying.
    const ws = new WebSocket(agentEndpoint(this.#opts.url), {
      headers: { authorization: `Bearer ${jwt}` },
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
    });
    this.#ws = ws;
    ws.binaryType = 'nodebuffer';
    let registeredHere = false;
    const registerTimer = setTimeout(() => {
      if (registeredHere) return;
      logger.warn(
        { agent_name: agentName, timeout_ms: REGISTER_TIMEOUT_MS },
        'no register response from the server; reconnecting',
      );
      ws.terminate();
    }, REGISTER_TIMEOUT_MS);
    ws.once('close', () => clearTimeout(registerTimer));

    ws.on('open', () => {
      this.#lastFrameAt = Date.now();
      ws.send(
        registerMessage({
          agentName,
          version: this.#opts.version,
          ...(this.#opts.namespace !== undefined ? { namespace: this.#opts.namespace } : {}),
        }).toBinary(),
      );
    });
    ws.on('message', (data, isBinary) => {
      this.#lastFrameAt = Date.now();
      if (!isBinary) return;
      const bytes = Array.isArray(data)
        ? Buffer.concat(data)
        : Buffer.isBuffer(data)
          ? data
          : Buffer.from(data);
      const msg = parseServerMessage(bytes);
      if (!msg) {
        logger.warn({ agent_name: agentName }, 'undecodable frame from server; ignored');
        return;
      }
      if (!registeredHere) {
        if (msg.message.case !== 'register') {
          logger.warn(
            { agent_name: agentName, got: msg.message.case },
            'expected a register response first; reconnecting',
          );
          ws.terminate();
          return;
        }
        registeredHere = true;
        clearTimeout(registerTimer);
        this.#attempt = 0;
        this.workerId = msg.message.value.workerId;
        this.#startPing(ws);
        this.emit('registered', this.workerId);
        return;
      }
      if (msg.message.case === 'pong') return;
      this.emit('message', msg);
    });
    // Any frame proves the server is alive, including transport-level pongs to our own pings,
    // which every WebSocket server answers even if it ignores protocol pings.
    ws.on('ping', () => {
      this.#lastFrameAt = Date.now();
    });
    ws.on('pong', () => {
      this.#lastFrameAt = Date.now();
    });
    ws.on('error', (err) => {
      logger.debug({ agent_name: agentName, error: err.message }, 'worker socket error');
    });
    ws.on('close', (code, reason) => {
      if (this.#ws === ws) this.#ws = undefined;
      this.#stopPing();
      const wasRegistered = registeredHere;
      this.workerId = undefined;
      const why = `socket closed (${code}${reason.length ? ` ${reason.toString()}` : ''})`;
      // A close we asked for is not a lost connection: nothing to warn about, nothing to retry.
      if (wasRegistered && !this.#closed) this.emit('disconnected', why);
      if (!this.#closed) this.#scheduleRetry(why);
    });
  }

  #scheduleRetry(why: string): void {
    if (this.#closed) return;
    this.#attempt += 1;
    const delay = reconnectDelay(
      this.#attempt,
      this.#opts.random ? { random: this.#opts.random } : {},
    );
    this.#opts.logger.warn(
      { agent_name: this.agentName, attempt: this.#attempt, retry_in_ms: delay, reason: why },
      'not connected to LiveKit; retrying',
    );
    clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => void this.#connect(), delay);
  }

  #startPing(ws: WebSocket): void {
    const interval = this.#opts.pingIntervalMs ?? 10_000;
    const timeout = this.#opts.pingTimeoutMs ?? interval * 3;
    this.#stopPing();
    this.#pingTimer = setInterval(() => {
      if (Date.now() - this.#lastFrameAt > timeout) {
        this.#opts.logger.warn(
          { agent_name: this.agentName, silent_ms: Date.now() - this.#lastFrameAt },
          'server went silent; reconnecting',
        );
        ws.terminate();
        return;
      }
      this.send(pingMessage(Date.now()));
      try {
        ws.ping();
      } catch {
        // closing; the close handler reconnects
      }
    }, interval);
  }

  #stopPing(): void {
    clearInterval(this.#pingTimer);
    this.#pingTimer = undefined;
  }
}
