/** Every way a job request can be turned away. Each has a per-tenant counter and a log line. */
export const REJECT_REASONS = [
  'draining',
  'unknown_agent',
  'invalid_tenant',
  'worker_overloaded',
  'tenant_not_configured',
  'tenant_config_error',
  'tenant_config_timeout',
  'breaker_open',
  'tenant_capacity',
  'worker_capacity',
  'fleet_capacity',
  'store_unavailable',
  'internal_error',
] as const;

export type RejectReason = (typeof REJECT_REASONS)[number];

/** Reasons the worker host decides itself, outside `decide()`, and reports to admission to count. */
export type HostRejectReason = Extract<RejectReason, 'unknown_agent' | 'internal_error'>;

export function emptyReasonCounts(): Record<RejectReason, number> {
  return Object.fromEntries(REJECT_REASONS.map((r) => [r, 0])) as Record<RejectReason, number>;
}
