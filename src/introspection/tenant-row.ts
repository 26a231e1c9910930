import type { BreakerView, TenantStats } from '../admission/types.js';
import { fitId, type TenantRow } from './snapshot-schema.js';

/**
 * Admission's view of one tenant as every output reports it: the snapshot, `tenant list`,
 * `tenant show` and the breaker commands. Copies each field into the row's shape, so nothing else
 * a source holds (configs, providers) can reach an output.
 */
export function tenantRow(t: TenantStats, now: number): TenantRow {
  return {
    tenant: fitId(t.tenant),
    live: t.live,
    // Deprecated within v1, for clients that read the old name.
    active: t.live,
    reserved: t.reserved,
    cap: t.cap,
    accepted: t.accepted,
    rejected: { ...t.rejected },
    started: t.started,
    succeeded: t.succeeded,
    failed: t.failed,
    maxDurationEnded: t.maxDurationEnded,
    breaker: breakerRow(t.breaker, now),
  };
}

export function breakerRow(b: BreakerView, now: number): TenantRow['breaker'] {
  const out: TenantRow['breaker'] = { state: b.state, probesInFlight: b.probesInFlight };
  const secondsLeft = breakerSecondsLeft(b, now);
  if (secondsLeft !== undefined) out.secondsLeft = secondsLeft;
  if (b.lastTransitionAt !== undefined) out.lastTransitionAt = b.lastTransitionAt;
  if (b.manual !== undefined) out.manual = b.manual;
  return out;
}

/** An open breaker's remaining time, in whole seconds rounded up; undefined unless open. */
export function breakerSecondsLeft(b: BreakerView, now: number): number | undefined {
  if (b.state !== 'open' || b.openUntil === undefined) return undefined;
  return Math.max(0, Math.ceil((b.openUntil - now) / 1000));
}
