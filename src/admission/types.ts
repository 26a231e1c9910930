import type { TenantConfig } from '../tenancy/types.js';
import type { TenantCounters } from './counters.js';
import type { RejectReason } from './reasons.js';

/** The parts of a LiveKit job request that admission looks at. */
export interface JobRequestInfo {
  jobId: string;
  agentName: string;
  /** Job (dispatch) metadata, usually JSON. */
  metadata: string;
  roomName?: string;
  roomMetadata?: string;
  /** Job attributes, e.g. `sip.trunkPhoneNumber`. */
  attributes?: Record<string, string>;
}

export type SessionOutcome =
  /** The session ran and ended cleanly. Counts as a breaker success. */
  | { kind: 'success'; reason: string }
  /** The session ended in error after acceptance. Counts as a breaker failure. */
  | { kind: 'failed'; reason: string }
  /** Never started (no assignment, worker-side cancel). Not a breaker sample. */
  | { kind: 'cancelled'; reason: string };

/** The reason of a session ended for running past `maxSessionDurationMs`: a success, counted on its own. */
export const MAX_SESSION_DURATION_REASON = 'max_session_duration';

/**
 * A slot held from the instant a request is accepted. Exactly-once release is the invariant
 * that makes caps exact: every path (session end, assignment timeout, reconnect cleanup) calls
 * `release`, and only the first call counts.
 */
export interface Reservation {
  readonly id: string;
  readonly jobId: string;
  readonly tenant: string;
  readonly agentName: string;
  /** True when this session was admitted as a half-open breaker probe. */
  readonly probe: boolean;
  /** The assignment arrived: stop the assignment timeout, count the session as started. */
  markStarted(): void;
  /** Idempotent. Returns false when already released. */
  release(outcome: SessionOutcome): boolean;
  readonly released: boolean;
  /** Settles once the slot is released, by whichever path (a drain waits on it). */
  readonly settled: Promise<void>;
}

export type AdmissionDecision =
  | {
      accept: true;
      tenant: string;
      reservation: Reservation;
      /** The config resolved at admission; the session runs with this one, even after reload. */
      config: TenantConfig | undefined;
    }
  | {
      accept: false;
      reason: RejectReason;
      /** Canonical tenant when it was resolved before rejection. */
      tenant?: string;
      /** Precise, secret-free explanation (names the field or the limit). */
      message: string;
    };

export type BreakerStateName = 'closed' | 'open' | 'half_open';

export interface BreakerView {
  state: BreakerStateName;
  /** Epoch ms when an open breaker moves to half-open. */
  openUntil?: number;
  probesInFlight: number;
  lastTransitionAt?: number;
  /** Set when an operator tripped it by hand. */
  manual?: boolean;
  windowFailures: number;
  windowSamples: number;
}

/** A tenant's counters (see `TenantCounters`) with its name, effective cap and breaker. */
export interface TenantStats extends TenantCounters {
  tenant: string;
  /** Effective cap, or null when unlimited. */
  cap: number | null;
  breaker: BreakerView;
}
