import type { Refusal } from './method-router.js';

/** One build of a method's result for pushing: the encoded tail of the line, or the error to answer. */
export type PushResult = { ok: true; tail: Buffer } | ({ ok: false } & Refusal);

interface Entry {
  /** `performance.now()` when built; unset while building. */
  at: number | undefined;
  result: Promise<PushResult>;
}

/** Subscribers whose pushes fall within this window get the same snapshot. */
export const PUSH_SHARE_MS = 50;

/**
 * The latest push result per method. Pushes due at about the same time (other intervals, new
 * subscribers) share it; while it is being built, concurrent pushes wait for that one build
 * instead of starting another. A failure is answered but not shared: the next push tries again.
 */
export class PushCache {
  readonly #entries = new Map<string, Entry>();

  constructor(
    private readonly build: (method: string) => Promise<PushResult>,
    private readonly shareMs = PUSH_SHARE_MS,
  ) {}

  /** Methods with a result held. */
  get size(): number {
    return this.#entries.size;
  }

  /** Drops every held result (a whole encoded snapshot each) when no subscriber is left to share it. */
  clear(): void {
    this.#entries.clear();
  }

  latest(method: string): Promise<PushResult> {
    const cached = this.#entries.get(method);
    if (cached && (cached.at === undefined || performance.now() - cached.at < this.shareMs))
      return cached.result;
    const entry: Entry = {
      at: undefined,
      result: this.build(method).then((result) => {
        if (result.ok) entry.at = performance.now();
        else if (this.#entries.get(method) === entry) this.#entries.delete(method);
        return result;
      }),
    };
    this.#entries.set(method, entry);
    return entry.result;
  }
}
