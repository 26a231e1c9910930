import { Box, Text } from 'ink';
import type { TenantSnapshot } from '../introspection/snapshot-schema.js';
import { fit, tenantHeader, tenantRow } from './format.js';

const breakerColor = { closed: undefined, open: 'red', half_open: 'yellow' } as const;

export function TenantPanel({ tenants, width, maxRows, tenant }: { tenants: TenantSnapshot[]; width: number; maxRows: number; tenant?: string | undefined }) {
  const overflow = tenants.length > maxRows;
  const shown = overflow ? tenants.slice(0, Math.max(0, maxRows - 1)) : tenants;
  return (
    <Box flexDirection="column">
      <Text bold inverse wrap="truncate">
        {tenantHeader(width)}
      </Text>
      {tenants.length === 0 ? (
        <Text dimColor wrap="truncate">
          {fit(tenant ? `no stats for tenant ${tenant} yet` : 'no tenants yet', width)}
        </Text>
      ) : null}
      {shown.map((t) => (
        <Text key={t.tenant} color={breakerColor[t.breaker.state]} wrap="truncate">
          {tenantRow(t, width)}
        </Text>
      ))}
      {overflow ? (
        <Text dimColor wrap="truncate">
          {fit(`+${tenants.length - shown.length} more tenants (t shows one at a time)`, width)}
        </Text>
      ) : null}
    </Box>
  );
}
