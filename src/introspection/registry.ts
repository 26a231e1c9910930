import type { SessionStatus } from './snapshot-schema.js';

export type { SessionStatus };

export interface SessionRecord {
  sessionId: string;
  jobId: string;
  room: string;
  agent: string;
  tenant: string;
  status: SessionStatus;
  /** Epoch ms. */
  startedAt: number;
}

/**
 * The live sessions of this worker, keyed by session id (the session host keys its own map by job
 * id, as the agent protocol names jobs). The session host is the only writer; introspection and
 * the snapshot read it.
 */
export class SessionRegistry {
  readonly #bySession = new Map<string, SessionRecord>();

  add(record: Omit<SessionRecord, 'status'> & { status?: SessionStatus }): void {
    this.#bySession.set(record.sessionId, { status: 'starting', ...record });
  }

  setStatus(sessionId: string, status: SessionStatus): void {
    const rec = this.#bySession.get(sessionId);
    if (rec) rec.status = status;
  }

  remove(sessionId: string): void {
    this.#bySession.delete(sessionId);
  }

  get(sessionId: string): SessionRecord | undefined {
    return this.#bySession.get(sessionId);
  }

  list(): SessionRecord[] {
    return [...this.#bySession.values()];
  }

  get size(): number {
    return this.#bySession.size;
  }
}
