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
 * The live sessions of this worker. The session host is the only writer; introspection and
 * the snapshot read it.
 */
export class SessionRegistry {
  readonly #sessions = new Map<string, SessionRecord>();

  add(record: Omit<SessionRecord, 'state'> & { state?: SessionState }): void {
    this.#sessions.set(record.sessionId, { state: 'starting', ...record });
  }

  setState(sessionId: string, state: SessionState): void {
    const rec = this.#sessions.get(sessionId);
    if (rec) rec.state = state;
  }

  remove(sessionId: string): void {
    this.#sessions.delete(sessionId);
  }

  get(sessionId: string): SessionRecord | undefined {
    return this.#sessions.get(sessionId);
  }

  list(): SessionRecord[] {
    return [...this.#sessions.values()];
  }

  get size(): number {
    return this.#sessions.size;
  }
}
