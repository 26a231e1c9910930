import { Admission } from '../../src/admission/admission.js';
import type { BreakerSettings } from '../../src/admission/breaker.js';
import type { RejectReason } from '../../src/admission/reasons.js';
import type { SessionOutcome } from '../../src/admission/types.js';
import { TenantConfigResolver } from '../../src/tenancy/config-resolver.js';
import type { TenantConfig } from '../../src/tenancy/types.js';
import { FakeClock } from './fake-clock.js';

export interface AdmissionRigOptions {
  maxConcurrentSessions: number | null;
  /** Per-tenant caps (`tenants.maxSessions`). */
  tenantCaps?: Record<string, number>;
  /** Tenant configs, served by the real resolver from a record. */
  configs?: Record<string, TenantConfig>;
  assignmentTimeoutMs?: number;
  /** Over the defaults here: on, half of at least 4 sessions failing opens it for a minute. */
  breaker?: Partial<BreakerSettings>;
}

export interface AdmissionRig {
  /** The production admission, on a clock that moves only when the test says so. */
  admission: Admission;
  clock: FakeClock;
  /** Every reservation's end, in order, as admission reported it. */
  outcomes: { jobId: string; tenant: string; outcome: SessionOutcome }[];
  /** Every rejection admission counted: its own, and those the worker host answered itself. */
  rejections: { jobId: string; tenant?: string; reason: RejectReason; message: string }[];
}

/**
 * The real `Admission` (and the real config resolver) as the worker tests use it: the worker host
 * is then tested against the contract production runs, tenant rule and caps included. The clock
 * is fake, so an assignment timeout or a breaker cooldown only passes when the test advances it.
 */
export function admissionRig(opts: AdmissionRigOptions): AdmissionRig {
  const clock = new FakeClock();
  const outcomes: AdmissionRig['outcomes'] = [];
  const rejections: AdmissionRig['rejections'] = [];
  const resolver = new TenantConfigResolver({
    source: opts.configs ?? {},
    clock,
    ttlMs: 60_000,
    missTtlMs: 10_000,
    loadTimeoutMs: 2_000,
  });
  const admission = new Admission({
    clock,
    resolver,
    maxConcurrentSessions: opts.maxConcurrentSessions,
    tenants: {
      metadataKey: 'tenant',
      defaultTenant: 'default',
      requireConfig: false,
      maxSessions: opts.tenantCaps ?? {},
    },
    breaker: {
      enabled: true,
      failureRatio: 0.5,
      minSamples: 4,
      windowMs: 60_000,
      cooldownMs: 60_000,
      halfOpenProbes: 1,
      ...opts.breaker,
    },
    assignmentTimeoutMs: opts.assignmentTimeoutMs ?? 7_500,
    events: {
      onSessionEnd: (e) => outcomes.push({ jobId: e.jobId, tenant: e.tenant, outcome: e.outcome }),
      onReject: ({ jobId, tenant, reason, message }) =>
        rejections.push({ jobId, ...(tenant !== undefined ? { tenant } : {}), reason, message }),
    },
  });
  return { admission, clock, outcomes, rejections };
}
