import type { HostRejectReason } from '../admission/reasons.js';
import type { AdmissionDecision, JobRequestInfo } from '../admission/types.js';

/**
 * What the worker host needs from admission. Structural, so the worker host does not depend on
 * the admission class and tests can hand it anything with this shape.
 */
export interface AdmissionPort {
  decide(req: JobRequestInfo): Promise<AdmissionDecision>;
  /** Counts (and logs) a rejection the worker host answered itself, so every reason has a counter. */
  recordRejection(e: {
    jobId: string;
    reason: HostRejectReason;
    message: string;
    elapsedMs?: number;
  }): void;
  setDraining(draining: boolean): void;
  readonly draining: boolean;
  /** Slots held now: reserved (accepted, not yet assigned) plus running. */
  inUse(): number;
  /** Global cap, or null when unlimited. */
  capacity(): number | null;
}
