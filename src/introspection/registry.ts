export type SessionState = 'starting' | 'active' | 'closing';

export interface SessionRecord {
  sessionId: string;
  jobId: string;
  room: string;
  agent: string;
  tenant: string;
  state: SessionState;
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

  add(record: Omit<SessionRecord, 'state'> & { state?: SessionState }): void {
    this.#bySession.set(record.sessionId, { state: 'starting', ...record });
  }

  setState(sessionId: string, state: SessionState): void {
    const rec = this.#bySession.get(sessionId);
    if (rec) rec.state = state;
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
