import { emptyReasonCounts, type RejectReason } from './reasons.js';

export interface TenantCounters {
  accepted: number;
  rejected: Record<RejectReason, number>;
  started: number;
  succeeded: number;
  failed: number;
  /** Sessions ended for running past `maxSessionDurationMs` (also counted as succeeded). */
  maxDurationEnded: number;
  /** Live sessions: their assignment arrived (the session started) and they have not ended. */
  live: number;
  /** Accepted, waiting for an assignment. */
  reserved: number;
}

export function emptyCounters(): TenantCounters {
  return {
    accepted: 0,
    rejected: emptyReasonCounts(),
    started: 0,
    succeeded: 0,
    failed: 0,
    maxDurationEnded: 0,
    live: 0,
    reserved: 0,
  };
}

/** Adds `from` into `into`. */
export function addCounters(into: TenantCounters, from: TenantCounters): void {
  into.accepted += from.accepted;
  into.started += from.started;
  into.succeeded += from.succeeded;
  into.failed += from.failed;
  into.maxDurationEnded += from.maxDurationEnded;
  into.live += from.live;
  into.reserved += from.reserved;
  for (const [reason, n] of Object.entries(from.rejected) as [RejectReason, number][])
    into.rejected[reason] += n;
}

export function sumCounters(all: Iterable<TenantCounters>): TenantCounters {
  const total = emptyCounters();
  for (const c of all) addCounters(total, c);
  return total;
}
