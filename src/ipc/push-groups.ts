/** What the groups need to know of a subscription. */
export interface Subscriber {
  readonly method: string;
  readonly intervalMs: number;
  /** `performance.now()` of its latest push; a group tick skips members pushed too recently. */
  lastPushAt: number;
}

interface Group<S> {
  readonly method: string;
  readonly intervalMs: number;
  readonly timer: NodeJS.Timeout;
  readonly members: Set<S>;
  /** A push still being produced is not stacked with another one. */
  busy: boolean;
}

/**
 * Subscriptions to one method at one interval share one timer. Each tick hands every due member
 * to `push` in one call, so fifty subscribers cost one wakeup and one build rather than fifty.
 */
export class PushGroups<S extends Subscriber> {
  readonly #groups = new Map<string, Group<S>>();

  /** `push` answers every member it is given, with the result or an error; it does not reject. */
  constructor(private readonly push: (method: string, due: S[]) => Promise<void>) {}

  /** Groups, each holding one interval timer. */
  get size(): number {
    return this.#groups.size;
  }

  add(sub: S): void {
    const key = groupKey(sub);
    let group = this.#groups.get(key);
    if (!group) {
      const { method, intervalMs } = sub;
      const created: Group<S> = {
        method,
        intervalMs,
        members: new Set(),
        busy: false,
        timer: setInterval(() => this.#tick(created), intervalMs),
      };
      group = created;
      this.#groups.set(key, group);
    }
    group.members.add(sub);
  }

  delete(sub: S): void {
    const key = groupKey(sub);
    const group = this.#groups.get(key);
    if (!group?.members.delete(sub) || group.members.size > 0) return;
    clearInterval(group.timer);
    this.#groups.delete(key);
  }

  #tick(group: Group<S>): void {
    if (group.busy) return;
    const now = performance.now();
    const due: S[] = [];
    // A member that joined just before this tick already had its first push; pushing again now
    // would send the same data twice, so it waits for the next tick (at most 1.5 intervals).
    for (const sub of group.members) {
      if (now - sub.lastPushAt < group.intervalMs / 2) continue;
      sub.lastPushAt = now;
      due.push(sub);
    }
    if (due.length === 0) return;
    group.busy = true;
    const release = () => {
      group.busy = false;
    };
    this.push(group.method, due).then(release, release);
  }
}

function groupKey(sub: Subscriber): string {
  return `${sub.intervalMs} ${sub.method}`;
}
