import { emptyReasonCounts, type RejectReason } from './reasons.js';

export interface TenantCounters {
  accepted: number;
  rejected: Record<RejectReason, number>;
  started: number;
  succeeded: number;
  failed: number;
  /** Sessions whose assignment arrived and that have not ended. */
  active: number;
  /** Accepted, waiting for an assignment. */
  reserved: number;
}

export function emptyCounters(): TenantCounters {
  return { accepted: 0, rejected: emptyReasonCounts(), started: 0, succeeded: 0, failed: 0, active: 0, reserved: 0 };
}

export function sumCounters(all: Iterable<TenantCounters>): TenantCounters {
  const total = emptyCounters();
  for (const c of all) {
    total.accepted += c.accepted;
    total.started += c.started;
    total.succeeded += c.succeeded;
    total.failed += c.failed;
    total.active += c.active;
    total.reserved += c.reserved;
    for (const [reason, n] of Object.entries(c.rejected) as [RejectReason, number][]) total.rejected[reason] += n;
  }
  return total;
}
