import { parseDuration } from '../clock/duration.js';
import type { TenantRow } from '../introspection/snapshot-schema.js';
import { EXIT } from '../protocol/exit-codes.js';
import { describeValue, isValidTenantId, tenantIdProblem } from '../tenancy/tenant-id.js';
import { formatBreaker } from './tenant-table.js';
import { CommandFailure } from './worker-connection.js';

/**
 * The arguments and the answers of `tenant cap/trip/reset/reload`, one home for both forms: on one
 * worker's socket, and on the whole fleet through the store (`--fleet`). Both take the same input
 * and print the same lines.
 */

export function checkTenantId(tenant: string): void {
  if (!isValidTenantId(tenant)) {
    throw new CommandFailure(`<tenant>: ${tenantIdProblem(describeValue(tenant))}`, EXIT.usage);
  }
}

/** `cap T N` or `cap T --clear`: the new cap, null to clear. */
export function capArgument(n: string | undefined, clear: boolean | undefined): number | null {
  if (clear) {
    if (n !== undefined)
      throw new CommandFailure('give either a cap or --clear, not both', EXIT.usage);
    return null;
  }
  const parsed = Number(n);
  if (n === undefined || !Number.isInteger(parsed) || parsed <= 0) {
    throw new CommandFailure(
      `cap must be a positive integer (or use --clear), got ${JSON.stringify(n ?? '')}`,
      EXIT.usage,
    );
  }
  return parsed;
}

/** `trip T --for D`: milliseconds, or undefined for the configured cooldown. */
export function tripForArgument(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = parseDuration(value);
  if (ms === undefined)
    throw new CommandFailure(
      `--for must be a duration such as 90s, 10m or 1h, got ${JSON.stringify(value)}`,
      EXIT.usage,
    );
  return ms;
}

/** `reload T` or `reload --all`: the tenant, or null for every tenant. */
export function reloadArgument(
  tenant: string | undefined,
  all: boolean | undefined,
): string | null {
  if ((all === true) === (tenant !== undefined)) {
    throw new CommandFailure(
      all ? 'give a tenant or --all, not both' : 'give a tenant, or --all for every tenant',
      EXIT.usage,
    );
  }
  if (tenant === undefined) return null;
  checkTenantId(tenant);
  return tenant;
}

export const capLine = (tenant: string, old: number | null, cap: number | null) =>
  `${tenant}: cap ${old ?? 'none'} -> ${cap ?? 'none'}`;

export const tripLine = (tenant: string, old: string, breaker: TenantRow['breaker']) =>
  `${tenant}: breaker ${old} -> ${formatBreaker(breaker)}`;

export const resetLine = (tenant: string, old: string) => `${tenant}: breaker ${old} -> closed`;

export const reloadLine = (tenant: string | null) =>
  tenant !== null
    ? `${tenant}: cached config dropped; the next session loads it fresh`
    : 'all cached tenant configs dropped';
