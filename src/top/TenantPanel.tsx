import { Box } from 'ink';
import type { TenantRow } from '../introspection/snapshot-schema.js';
import { fit, tenantTable } from './format.js';
import { Line } from './Line.js';

const breakerColor = { closed: undefined, open: 'red', half_open: 'yellow' } as const;

export function TenantPanel({
  tenants,
  width,
  maxRows,
  tenant,
}: {
  tenants: TenantRow[];
  width: number;
  maxRows: number;
  tenant?: string | undefined;
}) {
  const overflow = tenants.length > maxRows;
  const shown = overflow ? tenants.slice(0, Math.max(0, maxRows - 1)) : tenants;
  const table = tenantTable(tenants, width);
  return (
    <Box flexDirection="column">
      <Line bold inverse>
        {table.header}
      </Line>
      {tenants.length === 0 ? (
        <Line dim>
          {fit(tenant ? `no stats for tenant ${tenant} yet` : 'no tenants yet', width)}
        </Line>
      ) : null}
      {shown.map((t) => (
        <Line key={t.tenant} color={breakerColor[t.breaker.state]}>
          {table.row(t)}
        </Line>
      ))}
      {overflow ? (
        <Line dim>
          {fit(`+${tenants.length - shown.length} more tenants (t shows one at a time)`, width)}
        </Line>
      ) : null}
    </Box>
  );
}
