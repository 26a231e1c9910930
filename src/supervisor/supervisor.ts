import type { ChildProcess } from 'node:child_process';
import type { Logger } from 'pino';
import { EXIT } from '../protocol/exit-codes.js';
import { reconnectDelay } from '../clock/backoff.js';
import { WorkerToSupervisorSchema } from './protocol.js';

/** A worker that ran this long before it died restarts after the shortest delay again. */
export const STABLE_RUN_MS = 60_000;
export const RESTART_BASE_MS = 500;
export const RESTART_CAP_MS = 30_000;

export interface SupervisorOptions {
  count: number;
  /** Forks one worker process with the fork IPC channel open. */
  fork: (slot: number) => ChildProcess;
  logger: Logger;
  random?: () => number;
}

interface WorkerProc {
  child: ChildProcess;
  slot: number;
  startedAt: number;
  ready: boolean;
  /** Told to go ahead with its recycle: its exit is expected, and it is no longer the slot's. */
  retired: boolean;
}

interface Slot {
  index: number;
  current: WorkerProc | undefined;
  /** Started for a recycling `current`, not yet serving. */
  replacement: WorkerProc | undefined;
  restarts: number;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Keeps `count` workers serving. It restarts one that exits unexpectedly (with backoff), hands a
 * recycling worker over to a replacement that is already serving, and on stop passes the signal to
 * every worker and waits for all of them. It holds no session state: each worker has its own
 * admission, control socket and LiveKit registration.
 */
export class Supervisor {
  readonly #opts: SupervisorOptions;
  readonly #slots: Slot[] = [];
  readonly #live = new Set<WorkerProc>();
  #stopping = false;
  #failed = false;
  #resolveDone!: (code: number) => void;
  /** Resolves with the exit code once stopping and every worker has exited. */
  readonly done = new Promise<number>((resolve) => (this.#resolveDone = resolve));

  constructor(opts: SupervisorOptions) {
    this.#opts = opts;
  }

  start(): void {
    for (let i = 0; i < this.#opts.count; i++) {
      const slot: Slot = {
        index: i,
        current: undefined,
        replacement: undefined,
        restarts: 0,
        timer: undefined,
      };
      this.#slots.push(slot);
      slot.current = this.#spawn(slot);
    }
  }

  /** Worker pids, current and recycling: what the supervisor forwards signals to. */
  pids(): number[] {
    return [...this.#live].flatMap((w) => (w.child.pid !== undefined ? [w.child.pid] : []));
  }

  /** Passes `signal` to every worker; SIGTERM and SIGINT also stop the supervisor once they exit. */
  signal(signal: NodeJS.Signals): void {
    if (signal === 'SIGTERM' || signal === 'SIGINT') {
      this.#stopping = true;
      for (const slot of this.#slots) clearTimeout(slot.timer);
    }
    this.#opts.logger.info(
      { signal, workers: this.pids() },
      `passing ${signal} to ${this.#live.size} worker(s)`,
    );
    for (const w of this.#live) w.child.kill(signal);
    this.#maybeDone();
  }

  #spawn(slot: Slot): WorkerProc {
    const child = this.#opts.fork(slot.index);
    const proc: WorkerProc = {
      child,
      slot: slot.index,
      startedAt: Date.now(),
      ready: false,
      retired: false,
    };
    this.#live.add(proc);
    this.#opts.logger.info({ slot: slot.index, pid: child.pid }, 'worker started');
    child.on('message', (raw) => this.#onMessage(slot, proc, raw));
    child.once('exit', (code, signal) => this.#onExit(slot, proc, code, signal));
    return proc;
  }

  #onMessage(slot: Slot, proc: WorkerProc, raw: unknown): void {
    const parsed = WorkerToSupervisorSchema.safeParse(raw);
    if (!parsed.success) return;
    const msg = parsed.data;
    if (msg.type === 'openrtc:ready') {
      proc.ready = true;
      if (proc === slot.replacement) this.#handOver(slot, proc);
      return;
    }
    // openrtc:recycle
    if (proc !== slot.current || this.#stopping || slot.replacement) return;
    this.#opts.logger.info(
      { slot: slot.index, pid: proc.child.pid, condition: msg.condition },
      `worker ${proc.child.pid} wants to recycle (${msg.condition}): starting its replacement first`,
    );
    slot.replacement = this.#spawn(slot);
  }

  #handOver(slot: Slot, next: WorkerProc): void {
    const old = slot.current;
    slot.current = next;
    slot.replacement = undefined;
    if (!old) return;
    old.retired = true;
    this.#opts.logger.info(
      { slot: slot.index, old_pid: old.child.pid, new_pid: next.child.pid },
      `replacement ${next.child.pid} is serving: worker ${old.child.pid} drains and exits`,
    );
    if (old.child.connected) old.child.send({ type: 'openrtc:recycle-go' });
  }

  #onExit(slot: Slot, proc: WorkerProc, code: number | null, signal: NodeJS.Signals | null): void {
    this.#live.delete(proc);
    const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
    if (this.#stopping) {
      // The supervisor's own exit says whether the stop drained cleanly, as a worker's does.
      if (code !== EXIT.ok && code !== EXIT.recycle) this.#failed = true;
      this.#opts.logger.info(
        { slot: slot.index, pid: proc.child.pid, code, signal },
        `worker ${how}`,
      );
      this.#maybeDone();
      return;
    }
    if (proc.retired) {
      this.#opts.logger.info(
        { slot: slot.index, pid: proc.child.pid, code, signal },
        `recycled worker ${how}`,
      );
      return;
    }
    const wasReplacement = proc === slot.replacement;
    if (wasReplacement) slot.replacement = undefined;
    else if (proc === slot.current) slot.current = undefined;
    // A worker that recycled on its own (its handover timed out) has no replacement yet: start one now.
    const delay = code === EXIT.recycle && !wasReplacement ? 0 : this.#restartDelay(slot, proc);
    this.#opts.logger.warn(
      { slot: slot.index, pid: proc.child.pid, code, signal, restart_in_ms: delay },
      `worker ${proc.child.pid} ${how} unexpectedly; restarting in ${delay} ms`,
    );
    slot.timer = setTimeout(() => {
      slot.timer = undefined;
      if (this.#stopping) return;
      const next = this.#spawn(slot);
      // A restarted replacement still stands in for the recycling worker.
      if (wasReplacement && slot.current) slot.replacement = next;
      else slot.current = next;
    }, delay);
  }

  #restartDelay(slot: Slot, proc: WorkerProc): number {
    if (Date.now() - proc.startedAt >= STABLE_RUN_MS) slot.restarts = 0;
    slot.restarts += 1;
    return reconnectDelay(slot.restarts, {
      baseMs: RESTART_BASE_MS,
      capMs: RESTART_CAP_MS,
      ...(this.#opts.random ? { random: this.#opts.random } : {}),
    });
  }

  #maybeDone(): void {
    if (this.#stopping && this.#live.size === 0)
      this.#resolveDone(this.#failed ? EXIT.failure : EXIT.ok);
  }
}
