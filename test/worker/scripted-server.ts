import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { RegisterWorkerResponse, ServerMessage, WorkerMessage } from '@livekit/protocol';
import { WebSocketServer, type WebSocket } from 'ws';

type Case = NonNullable<WorkerMessage['message']['case']>;
type Value<C extends Case> = Extract<WorkerMessage['message'], { case: C }>['value'];

/**
 * The server end of the agent protocol, driven by hand: it registers every worker that connects
 * and records what each sends, so a test can send exactly the frames a real server might
 * (including ones the local dispatcher never would) and read the answers.
 */
export class ScriptedServer {
  readonly received: { agentName: string; message: WorkerMessage }[] = [];
  readonly #sockets = new Map<string, WebSocket>();
  #waiters: { test: () => boolean; resolve: () => void }[] = [];

  private constructor(readonly wss: WebSocketServer) {
    wss.on('connection', (ws) => {
      let agentName: string | undefined;
      ws.on('message', (data: Buffer) => {
        const message = WorkerMessage.fromBinary(new Uint8Array(data));
        if (message.message.case === 'register' && agentName === undefined) {
          agentName = message.message.value.agentName;
          this.#sockets.set(agentName, ws);
          ws.send(
            new ServerMessage({
              message: {
                case: 'register',
                value: new RegisterWorkerResponse({ workerId: `AW_scripted_${agentName}` }),
              },
            }).toBinary(),
          );
        } else if (agentName !== undefined) {
          this.received.push({ agentName, message });
        }
        this.#waiters = this.#waiters.filter((w) => (w.test() ? (w.resolve(), false) : true));
      });
      ws.on('close', () => {
        if (agentName !== undefined && this.#sockets.get(agentName) === ws)
          this.#sockets.delete(agentName);
      });
    });
  }

  static async listen(port = 0): Promise<ScriptedServer> {
    const wss = new WebSocketServer({ port, host: '127.0.0.1' });
    await once(wss, 'listening');
    return new ScriptedServer(wss);
  }

  get url(): string {
    return `ws://127.0.0.1:${(this.wss.address() as AddressInfo).port}`;
  }

  registered(agentName: string): boolean {
    return this.#sockets.has(agentName);
  }

  send(agentName: string, message: ServerMessage['message']): void {
    const ws = this.#sockets.get(agentName);
    if (!ws) throw new Error(`no worker registered as "${agentName}"`);
    ws.send(new ServerMessage({ message }).toBinary());
  }

  /** Messages of one kind received so far. */
  all<C extends Case>(kind: C): Value<C>[] {
    return this.received.flatMap((r) =>
      r.message.message.case === kind ? [r.message.message.value as Value<C>] : [],
    );
  }

  /** Resolves once `test` holds (checked after every frame), or rejects after `timeoutMs`. */
  until(test: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    if (test()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${what}: not within ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.#waiters.push({ test, resolve: () => (clearTimeout(timer), resolve()) });
    });
  }

  close(): Promise<void> {
    for (const ws of this.wss.clients) ws.terminate();
    return new Promise((resolve) => this.wss.close(() => resolve()));
  }
}
