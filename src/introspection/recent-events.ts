import { redactText } from '../secrets/redact-text.js';
import { fitText, type EventKind, type EventSnapshot } from './snapshot-schema.js';

export interface RecentEventInput {
  kind: EventKind;
  tenant?: string | undefined;
  message: string;
  /** Epoch ms; defaults to now. */
  at?: number;
}

const MAX_MESSAGE = 300;

/** The last N notable events (breaker moves, rejections, slow sessions, audit), oldest first. */
export class RecentEvents {
  readonly #ring: (EventSnapshot | undefined)[];
  #next = 0;
  #size = 0;

  constructor(
    readonly capacity = 200,
    private readonly now: () => number = Date.now,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError('capacity must be a positive integer');
    this.#ring = new Array<EventSnapshot | undefined>(capacity);
  }

  /** Messages are masked here, the one way into the snapshot's free text. */
  push(event: RecentEventInput): void {
    const message = fitText(redactText(event.message), MAX_MESSAGE);
    const entry: EventSnapshot = { at: event.at ?? this.now(), kind: event.kind, message };
    if (event.tenant !== undefined) entry.tenant = event.tenant;
    this.#ring[this.#next] = entry;
    this.#next = (this.#next + 1) % this.capacity;
    this.#size = Math.min(this.#size + 1, this.capacity);
  }

  /** Oldest first; at most `limit` of the newest. */
  list(limit = this.capacity): EventSnapshot[] {
    const n = Math.min(limit, this.#size);
    const out: EventSnapshot[] = [];
    for (let i = this.#size - n; i < this.#size; i++) {
      const idx = (this.#next - this.#size + i + this.capacity) % this.capacity;
      const e = this.#ring[idx];
      if (e) out.push(e);
    }
    return out;
  }

  get size(): number {
    return this.#size;
  }
}
