import type { OpenrtcConfig } from '../config/schema.js';

/** The slice of the config that admission reads; shared by start-up and config reload. */
export function admissionOptions(config: OpenrtcConfig) {
  return {
    maxConcurrentSessions: config.maxConcurrentSessions,
    tenants: {
      metadataKey: config.tenants.metadataKey,
      defaultTenant: config.tenants.defaultTenant,
      requireConfig: config.tenants.requireConfig,
      maxSessions: config.tenants.maxSessions,
      maxIdleTenantRows: config.tenants.maxIdleTenantRows,
      ...(config.tenants.phoneNumbers !== undefined
        ? { phoneNumbers: config.tenants.phoneNumbers }
        : {}),
    },
    breaker: config.circuitBreaker,
    assignmentTimeoutMs: config.assignmentTimeoutMs,
    overload: { ...config.overload, enabled: config.overload.enabled === true },
  };
}
