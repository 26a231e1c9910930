import { SUPERVISED_ENV, SupervisorToWorkerSchema, type WorkerToSupervisor } from './protocol.js';

/** How long a worker waits for its replacement before it recycles anyway. */
export const HANDOVER_TIMEOUT_MS = 120_000;

/** The worker's end of the supervisor's fork IPC channel. */
export class SupervisorLink {
  readonly #go = new Set<() => void>();
  #onLost: (() => void) | undefined;
  readonly #onMessage = (raw: unknown) => {
    const msg = SupervisorToWorkerSchema.safeParse(raw);
    if (!msg.success) return;
    for (const resolve of this.#go) resolve();
    this.#go.clear();
  };
  readonly #onDisconnect = () => this.#onLost?.();

  private constructor() {
    process.on('message', this.#onMessage);
    process.on('disconnect', this.#onDisconnect);
  }

  /** The link when this process was forked by `openrtc start --workers`, else undefined. */
  static fromProcess(env: NodeJS.ProcessEnv = process.env): SupervisorLink | undefined {
    if (env[SUPERVISED_ENV] !== '1' || typeof process.send !== 'function') return undefined;
    return new SupervisorLink();
  }

  /** Called when the supervisor goes away (it was killed): the worker drains on its own. */
  onLost(fn: () => void): void {
    this.#onLost = fn;
  }

  ready(): void {
    this.#send({ type: 'openrtc:ready', pid: process.pid });
  }

  /** Asks for a replacement; resolves once it is serving, or after `timeoutMs`, whichever first. */
  requestRecycle(condition: string, timeoutMs = HANDOVER_TIMEOUT_MS): Promise<'go' | 'timeout'> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#go.delete(go);
        resolve('timeout');
      }, timeoutMs);
      timer.unref();
      const go = () => {
        clearTimeout(timer);
        resolve('go');
      };
      this.#go.add(go);
      if (!this.#send({ type: 'openrtc:recycle', condition })) go();
    });
  }

  /** Lets the process exit: an open IPC channel would keep it alive. */
  close(): void {
    process.off('message', this.#onMessage);
    process.off('disconnect', this.#onDisconnect);
    if (process.connected) process.disconnect();
  }

  #send(msg: WorkerToSupervisor): boolean {
    if (!process.connected || !process.send) return false;
    process.send(msg);
    return true;
  }
}
