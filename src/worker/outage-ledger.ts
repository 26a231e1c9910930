/** What became of the sessions that were live when a registration lost its server. */
export interface OutageSummary {
  outageMs: number;
  /** Jobs live at the drop that are still running now. */
  stillRunning: string[];
  /** Jobs live at the drop that ended during the outage, with how they ended. */
  ended: Record<string, string>;
}

interface Outage {
  since: number;
  /** job id -> how it ended, or undefined while it runs. */
  jobs: Map<string, string | undefined>;
}

/**
 * Remembers, per agent registration, which sessions were live when its connection dropped and
 * how each has fared since, so the reconnect can say so in one log line. Bounded by the live
 * sessions at the drop; forgotten at the reconnect.
 */
export class OutageLedger {
  readonly #outages = new Map<string, Outage>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** A drop while already down (a failed reconnect attempt) keeps the first drop's record. */
  dropped(agentName: string, liveJobs: readonly string[]): void {
    if (this.#outages.has(agentName)) return;
    this.#outages.set(agentName, {
      since: this.#now(),
      jobs: new Map(liveJobs.map((j) => [j, undefined])),
    });
  }

  ended(jobId: string, how: string): void {
    for (const outage of this.#outages.values())
      if (outage.jobs.has(jobId)) outage.jobs.set(jobId, how);
  }

  /** The summary for a registration that is back, or undefined if it was never down. */
  recovered(agentName: string): OutageSummary | undefined {
    const outage = this.#outages.get(agentName);
    if (!outage) return undefined;
    this.#outages.delete(agentName);
    const stillRunning: string[] = [];
    const ended: Record<string, string> = Object.create(null) as Record<string, string>;
    for (const [jobId, how] of outage.jobs) {
      if (how === undefined) stillRunning.push(jobId);
      else ended[jobId] = how;
    }
    return { outageMs: this.#now() - outage.since, stillRunning, ended };
  }
}
