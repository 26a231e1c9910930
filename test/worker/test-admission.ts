import type { HostRejectReason, RejectReason } from '../../src/admission/reasons.js';
import type {
  AdmissionDecision,
  JobRequestInfo,
  Reservation,
  SessionOutcome,
} from '../../src/admission/types.js';
import type { TenantConfig } from '../../src/tenancy/types.js';
import type { AdmissionPort } from '../../src/worker/admission-port.js';

/**
 * A small admission with the same contract as the real one (tenant from metadata, exact caps via
 * reservations, assignment timeout), so the worker host is tested on its own terms.
 */
export class TestAdmission implements AdmissionPort {
  draining = false;
  readonly held = new Map<string, Reservation>();
  readonly outcomes: { jobId: string; tenant: string; outcome: SessionOutcome }[] = [];
  decisions = 0;
  /** Rejections the worker host answered itself and reported here. */
  readonly hostRejections: { jobId: string; reason: HostRejectReason; message: string }[] = [];

  constructor(
    private readonly opts: {
      maxConcurrentSessions: number | null;
      tenantCaps?: Record<string, number>;
      configs?: Record<string, TenantConfig>;
      assignmentTimeoutMs?: number;
    },
  ) {}

  recordRejection(e: { jobId: string; reason: HostRejectReason; message: string }): void {
    this.hostRejections.push({ jobId: e.jobId, reason: e.reason, message: e.message });
  }

  setDraining(b: boolean): void {
    this.draining = b;
  }

  inUse(): number {
    return this.held.size;
  }

  capacity(): number | null {
    return this.opts.maxConcurrentSessions;
  }

  async decide(req: JobRequestInfo): Promise<AdmissionDecision> {
    this.decisions += 1;
    if (this.draining) return this.#reject('draining', 'worker is draining');
    let tenant = 'default';
    try {
      const meta = JSON.parse(req.metadata || '{}') as { tenant?: unknown };
      if (meta.tenant !== undefined) tenant = String(meta.tenant);
    } catch {
      return this.#reject('invalid_tenant', 'metadata is not JSON');
    }
    if (!/^[a-z0-9][a-z0-9_-]{0,62}$/.test(tenant))
      return this.#reject('invalid_tenant', 'tenant must match [a-z0-9][a-z0-9_-]*');
    const cap = this.opts.tenantCaps?.[tenant];
    const mine = [...this.held.values()].filter((r) => r.tenant === tenant).length;
    if (cap !== undefined && mine >= cap)
      return this.#reject('tenant_capacity', `tenant ${tenant} is at its cap of ${cap}`, tenant);
    const global = this.opts.maxConcurrentSessions;
    if (global !== null && this.held.size >= global)
      return this.#reject('worker_capacity', `worker is at its cap of ${global}`, tenant);
    return {
      accept: true,
      tenant,
      reservation: this.#reserve(req, tenant),
      config: this.opts.configs?.[tenant],
    };
  }

  #reject(reason: RejectReason, message: string, tenant?: string): AdmissionDecision {
    return { accept: false, reason, message, ...(tenant !== undefined ? { tenant } : {}) };
  }

  #reserve(req: JobRequestInfo, tenant: string): Reservation {
    const held = this.held;
    const outcomes = this.outcomes;
    let timer: NodeJS.Timeout | undefined = setTimeout(
      () => r.release({ kind: 'cancelled', reason: 'assignment_timeout' }),
      this.opts.assignmentTimeoutMs ?? 7500,
    );
    const r: Reservation & { released: boolean } = {
      id: `res-${req.jobId}`,
      jobId: req.jobId,
      tenant,
      agentName: req.agentName,
      probe: false,
      released: false,
      markStarted() {
        clearTimeout(timer);
        timer = undefined;
      },
      release(outcome) {
        if (r.released) return false;
        r.released = true;
        clearTimeout(timer);
        held.delete(req.jobId);
        outcomes.push({ jobId: req.jobId, tenant, outcome });
        return true;
      },
    };
    held.set(req.jobId, r);
    return r;
  }
}
