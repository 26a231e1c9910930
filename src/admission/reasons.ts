/** Every way a job request can be turned away. Each has a per-tenant counter and a log line. */
export const REJECT_REASONS = [
  'draining',
  'invalid_tenant',
  'tenant_not_configured',
  'tenant_config_error',
  'tenant_config_timeout',
  'breaker_open',
  'tenant_capacity',
  'worker_capacity',
] as const;

export type RejectReason = (typeof REJECT_REASONS)[number];

export function emptyReasonCounts(): Record<RejectReason, number> {
  return Object.fromEntries(REJECT_REASONS.map((r) => [r, 0])) as Record<RejectReason, number>;
}
