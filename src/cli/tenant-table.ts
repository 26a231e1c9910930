import type { TenantRow } from '../introspection/snapshot-schema.js';
import { breakerLabel } from '../top/format.js';

/** The breaker in `top`'s words: one wording for every view of a tenant row. */
export function formatBreaker(b: TenantRow['breaker']): string {
  return breakerLabel(b);
}

/** `openrtc tenant list`: one row per tenant, fixed columns, sorted by name; then what no tenant owns. */
export function formatTenantTable(
  tenants: TenantRow[],
  rejectedWithoutTenant: Record<string, number> = {},
): string {
  const unowned = Object.entries(rejectedWithoutTenant).filter(([, n]) => n > 0);
  const footer = unowned.length
    ? `\nrejected before a tenant was known: ${unowned.map(([r, n]) => `${r}=${n}`).join(' ')}`
    : '';
  return `${tenantRows(tenants)}${footer}`;
}

function tenantRows(tenants: TenantRow[]): string {
  const header = ['TENANT', 'LIVE/CAP', 'RESERVED', 'ACCEPTED', 'REJECTED', 'FAILED', 'BREAKER'];
  const rows = [...tenants]
    .sort((a, b) => a.tenant.localeCompare(b.tenant))
    .map((t) => [
      t.tenant,
      `${t.live}/${t.cap ?? '-'}`,
      String(t.reserved),
      String(t.accepted),
      String(Object.values(t.rejected).reduce((a, b) => a + b, 0)),
      String(t.failed),
      formatBreaker(t.breaker),
    ]);
  if (rows.length === 0) return 'no tenants yet';
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [header, ...rows]
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
