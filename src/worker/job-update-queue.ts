import type { WorkerMessage } from '@livekit/protocol';

/**
 * `updateJob` messages that could not be sent because the registration was down, kept until it
 * is back. Only the latest status of a job matters (a job that ran and ended while disconnected
 * is reported as ended), so the queue holds one message per job, and at most `limit` jobs: past
 * that the oldest is dropped and counted.
 */
export class JobUpdateQueue {
  readonly #byJob = new Map<string, WorkerMessage>();
  #dropped = 0;

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1)
      throw new RangeError('limit must be a positive integer');
  }

  get size(): number {
    return this.#byJob.size;
  }

  /** Updates dropped for room since the last `take()`. */
  get dropped(): number {
    return this.#dropped;
  }

  put(jobId: string, message: WorkerMessage): void {
    // Re-inserting moves the job to the back: its latest status is the newest entry.
    this.#byJob.delete(jobId);
    if (this.#byJob.size >= this.limit) {
      const oldest = this.#byJob.keys().next().value;
      if (oldest !== undefined) this.#byJob.delete(oldest);
      this.#dropped += 1;
    }
    this.#byJob.set(jobId, message);
  }

  /** Everything queued, oldest first; the queue is empty afterwards. */
  take(): [jobId: string, message: WorkerMessage][] {
    const all = [...this.#byJob];
    this.#byJob.clear();
    this.#dropped = 0;
    return all;
  }
}
