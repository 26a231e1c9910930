export const TENANT_ID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;

export function isValidTenantId(value: unknown): value is string {
  return typeof value === 'string' && TENANT_ID_PATTERN.test(value);
}

/** The tenant-id rule in words, as every rejection of a tenant id states it. */
export const TENANT_ID_RULE = '1-128 letters, digits, "-" or "_"';

/**
 * The one message for a value that is not a tenant id. `got` names the value (from
 * `describeValue` or the config's own describer), never echoes it raw; callers prefix the field.
 */
export function tenantIdProblem(got: string): string {
  return `expected a tenant id (${TENANT_ID_RULE}), got ${got}`;
}

/** Names a bad value without echoing it: it may be long, binary, or someone's secret. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') {
    if (value.length === 0) return 'an empty string';
    if (value.length > 128) return `a string of ${value.length} characters`;
    return /^[\x20-\x7e]{1,40}$/.test(value)
      ? JSON.stringify(value)
      : `a string of ${value.length} characters`;
  }
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value}`;
}
