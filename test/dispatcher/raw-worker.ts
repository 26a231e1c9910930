import {
  AvailabilityResponse,
  JobType,
  RegisterWorkerRequest,
  ServerMessage,
  UpdateJobStatus,
  UpdateWorkerStatus,
  WorkerMessage,
  WorkerPing,
  type JobStatus,
  type WorkerStatus,
} from '@livekit/protocol';
import { AccessToken } from 'livekit-server-sdk';
import { WebSocket } from 'ws';

export const API_KEY = 'testkey';
export const API_SECRET = 'test-secret-that-is-long-enough-000';

export async function agentToken(
  key = API_KEY,
  secret = API_SECRET,
  agent = true,
): Promise<string> {
  const at = new AccessToken(key, secret);
  at.addGrant(agent ? { agent: true } : { roomList: true });
  return at.toJwt();
}

type Case = NonNullable<ServerMessage['message']['case']>;
type Value<C extends Case> = Extract<ServerMessage['message'], { case: C }>['value'];

/** A hand-driven worker speaking raw protobuf frames, to test the dispatcher message by message. */
export class RawWorker {
  readonly received: ServerMessage[] = [];
  #waiters: Array<{ test: (m: ServerMessage) => boolean; resolve: (m: ServerMessage) => void }> =
    [];
  #seen = 0;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      const msg = ServerMessage.fromBinary(new Uint8Array(data));
      this.received.push(msg);
      this.#waiters = this.#waiters.filter((w) => {
        if (!w.test(msg)) return true;
        w.resolve(msg);
        return false;
      });
    });
  }

  static async connect(url: string, token?: string): Promise<RawWorker> {
    const ws = new WebSocket(`${url}/agent`, {
      headers: { authorization: `Bearer ${token ?? (await agentToken())}` },
    });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return new RawWorker(ws);
  }

  /** Connects and registers; resolves with the worker id the dispatcher gave. */
  static async register(
    url: string,
    agentName: string,
  ): Promise<{ worker: RawWorker; workerId: string }> {
    const worker = await RawWorker.connect(url);
    worker.send({
      case: 'register',
      value: new RegisterWorkerRequest({ type: JobType.JT_ROOM, agentName, version: 'test' }),
    });
    const res = await worker.next('register');
    return { worker, workerId: res.workerId };
  }

  send(message: WorkerMessage['message']): void {
    this.ws.send(new WorkerMessage({ message }).toBinary());
  }

  /** The next message of this kind not yet consumed by an earlier `next`. */
  async next<C extends Case>(kind: C, timeoutMs = 3_000): Promise<Value<C>> {
    const m = await this.#nextMessage(kind, timeoutMs);
    this.#seen = Math.max(this.#seen, this.received.indexOf(m) + 1);
    return m.message.value as unknown as Value<C>;
  }

  #nextMessage(kind: Case, timeoutMs: number): Promise<ServerMessage> {
    const pick = (m: ServerMessage) => m.message.case === kind;
    const found = this.received.find((m, i) => i >= this.#seen && pick(m));
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no ${kind} message within ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.#waiters.push({
        test: pick,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
      });
    });
  }

  accept(jobId: string, identity: string, attributes: Record<string, string> = {}): void {
    this.send({
      case: 'availability',
      value: new AvailabilityResponse({
        jobId,
        available: true,
        participantIdentity: identity,
        participantName: 'agent',
        participantAttributes: attributes,
      }),
    });
  }

  reject(jobId: string, attributes: Record<string, string> = {}): void {
    this.send({
      case: 'availability',
      value: new AvailabilityResponse({
        jobId,
        available: false,
        participantAttributes: attributes,
      }),
    });
  }

  updateWorker(status: WorkerStatus, load: number): void {
    this.send({ case: 'updateWorker', value: new UpdateWorkerStatus({ status, load }) });
  }

  updateJob(jobId: string, status: JobStatus, error = ''): void {
    this.send({ case: 'updateJob', value: new UpdateJobStatus({ jobId, status, error }) });
  }

  ping(timestamp: bigint): void {
    this.send({ case: 'ping', value: new WorkerPing({ timestamp }) });
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      this.ws.once('close', () => resolve());
      this.ws.close();
    });
  }
}
