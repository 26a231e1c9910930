import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  AvailabilityRequest,
  Job,
  JobAssignment,
  RegisterWorkerResponse,
  Room,
  ServerInfo,
  ServerMessage,
  WorkerMessage,
} from '@livekit/protocol';
import { WebSocketServer, type WebSocket } from 'ws';

type WorkerCase = NonNullable<WorkerMessage['message']['case']>;
type WorkerValue<C extends WorkerCase> = Extract<WorkerMessage['message'], { case: C }>['value'];

/**
 * A hand-driven agent-protocol server: it registers whatever worker connects and then sends only
 * what the test tells it to, so a test can repeat an availability request or an assignment, or
 * send frames LiveKit's dispatcher never would.
 */
export class RawAgentServer {
  readonly received: WorkerMessage[] = [];
  #socket: WebSocket | undefined;
  #registered: Promise<WebSocket>;
  #onRegistered!: (ws: WebSocket) => void;
  #waiters: { test: (m: WorkerMessage) => boolean; resolve: (m: WorkerMessage) => void }[] = [];

  private constructor(
    private readonly server: Server,
    private readonly wss: WebSocketServer,
    readonly url: string,
  ) {
    this.#registered = new Promise((resolve) => (this.#onRegistered = resolve));
    wss.on('connection', (ws) => {
      ws.on('message', (data: Buffer) => {
        let msg: WorkerMessage;
        try {
          msg = WorkerMessage.fromBinary(new Uint8Array(data));
        } catch {
          return;
        }
        if (msg.message.case === 'register') {
          this.#socket = ws;
          const reply = new ServerMessage({
            message: {
              case: 'register',
              value: new RegisterWorkerResponse({
                workerId: 'AW_raw',
                serverInfo: new ServerInfo({ version: 'raw', protocol: 16 }),
              }),
            },
          });
          ws.send(reply.toBinary());
          this.#onRegistered(ws);
          return;
        }
        if (msg.message.case === 'ping') return;
        this.received.push(msg);
        this.#waiters = this.#waiters.filter((w) => {
          if (!w.test(msg)) return true;
          w.resolve(msg);
          return false;
        });
      });
    });
  }

  static async start(): Promise<RawAgentServer> {
    const server = createServer();
    const wss = new WebSocketServer({ server, path: '/agent' });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    return new RawAgentServer(server, wss, `ws://127.0.0.1:${port}`);
  }

  registered(): Promise<WebSocket> {
    return this.#registered;
  }

  send(message: ServerMessage['message']): void {
    if (!this.#socket) throw new Error('no worker registered yet');
    this.#socket.send(new ServerMessage({ message }).toBinary());
  }

  sendRaw(bytes: Uint8Array): void {
    if (!this.#socket) throw new Error('no worker registered yet');
    this.#socket.send(bytes);
  }

  availability(job: Job): void {
    this.send({ case: 'availability', value: new AvailabilityRequest({ job }) });
  }

  assign(job: Job): void {
    this.send({ case: 'assignment', value: new JobAssignment({ job, url: '', token: '' }) });
  }

  /** Resolves with the next message of `kind` (already received ones count) that `test` accepts. */
  async next<C extends WorkerCase>(
    kind: C,
    test: (v: WorkerValue<C>) => boolean = () => true,
    timeoutMs = 10_000,
  ): Promise<WorkerValue<C>> {
    const matches = (m: WorkerMessage) =>
      m.message.case === kind && test(m.message.value as WorkerValue<C>);
    const found =
      this.received.find(matches) ??
      (await new Promise<WorkerMessage>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no ${kind} message within ${timeoutMs} ms`)),
          timeoutMs,
        );
        this.#waiters.push({
          test: matches,
          resolve: (m) => {
            clearTimeout(timer);
            resolve(m);
          },
        });
      }));
    return found.message.value as WorkerValue<C>;
  }

  messages<C extends WorkerCase>(kind: C): WorkerValue<C>[] {
    return this.received
      .filter((m) => m.message.case === kind)
      .map((m) => m.message.value as WorkerValue<C>);
  }

  async close(): Promise<void> {
    for (const ws of this.wss.clients) ws.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** A job as LiveKit would offer it, with the openrtc local flag so it runs without media. */
export function rawJob(
  id: string,
  agentName: string,
  metadata: string,
  roomName = `room-${id}`,
): Job {
  return new Job({
    id,
    agentName,
    metadata,
    room: new Room({ name: roomName, sid: `RM_${id.slice(0, 8)}` }),
    attributes: { 'openrtc.local': 'true' },
  });
}
