import { Box, Text, useApp, useInput, useStdin, useStdout } from 'ink';
import { useEffect, useRef, useState } from 'react';
import type { SnapshotV1 } from '../introspection/snapshot-schema.js';
import { EventsPanel } from './EventsPanel.js';
import { fit, filterLine } from './format.js';
import { Header } from './Header.js';
import type { SortKey, StatusFilter } from './options.js';
import { SessionTable } from './SessionTable.js';
import type { ConnectionState, SnapshotSource } from './snapshot-source.js';
import { TenantPanel } from './TenantPanel.js';
import { clampOffset, layout, nextSort, nextStatus, nextTenant, visibleEvents, visibleSessions, visibleTenants } from './view-model.js';

export interface AppProps {
  source: SnapshotSource;
  tenant?: string | undefined;
  sort?: SortKey;
  status?: StatusFilter | undefined;
  /** Terminal size; defaults to the output stream's, else 80×24. */
  width?: number;
  height?: number;
}

const KEYS = 'q quit  s sort  f status  t tenant  ↑↓ PgUp PgDn scroll';

export function App(props: AppProps) {
  const { exit } = useApp();
  const { isRawModeSupported } = useStdin();
  const { stdout } = useStdout();
  const [snapshot, setSnapshot] = useState<SnapshotV1 | undefined>(undefined);
  const [connection, setConnection] = useState<ConnectionState>({ status: 'connecting' });
  const [tenant, setTenant] = useState(props.tenant);
  const [sort, setSort] = useState<SortKey>(props.sort ?? 'age');
  const [status, setStatus] = useState(props.status);
  const [offset, setOffset] = useState(0);
  const [size, setSize] = useState(() => ({ width: props.width ?? stdout.columns ?? 80, height: props.height ?? stdout.rows ?? 24 }));

  useEffect(() => props.source.subscribe(setSnapshot, setConnection), [props.source]);

  useEffect(() => {
    if (props.width !== undefined && props.height !== undefined) return;
    const onResize = () => setSize({ width: props.width ?? stdout.columns ?? 80, height: props.height ?? stdout.rows ?? 24 });
    stdout.on('resize', onResize);
    return () => void stdout.off('resize', onResize);
  }, [stdout, props.width, props.height]);

  const { width, height } = size;
  const sessions = snapshot ? visibleSessions(snapshot, { tenant, sort, status }) : [];
  const tenants = snapshot ? visibleTenants(snapshot, tenant) : [];
  const rows = layout(height, tenants.length);
  const top = clampOffset(offset, sessions.length, rows.sessionRows);
  // The input handler can be one render behind (effects flush lazily): it reads the latest view here.
  const latest = useRef({ snapshot, total: sessions.length, pageSize: rows.sessionRows });
  latest.current = { snapshot, total: sessions.length, pageSize: rows.sessionRows };

  useInput(
    (input, key) => {
      if (input === 'q' || (key.ctrl && input === 'c')) return exit();
      if (input === 's') return setSort(nextSort);
      if (input === 'f') {
        setOffset(0);
        return setStatus(nextStatus);
      }
      if (input === 't') {
        setOffset(0);
        return setTenant((t) => nextTenant(latest.current.snapshot, t));
      }
      const { total, pageSize } = latest.current;
      const step = key.upArrow ? -1 : key.downArrow ? 1 : key.pageUp ? -pageSize : key.pageDown ? pageSize : 0;
      // Functional update: several keys can arrive in one chunk, before the next render.
      if (step !== 0) setOffset((o) => clampOffset(clampOffset(o, total, pageSize) + step, total, pageSize));
    },
    { isActive: isRawModeSupported },
  );

  const statusLine =
    connection.status === 'disconnected'
      ? `disconnected, retrying… (${connection.reason})`
      : connection.status === 'connecting'
        ? 'connecting to the worker…'
        : filterLine({ tenant, sort, status }, width);

  if (!snapshot) {
    return (
      <Box flexDirection="column">
        <Text color={connection.status === 'disconnected' ? 'red' : undefined} wrap="truncate">
          {fit(statusLine, width)}
        </Text>
        <Text dimColor wrap="truncate">
          {fit(KEYS, width)}
        </Text>
      </Box>
    );
  }

  return (
    <Box flexDirection="column">
      <Header snapshot={snapshot} width={width} />
      <Text color={connection.status === 'disconnected' ? 'red' : 'cyan'} wrap="truncate">
        {fit(connection.status === 'connected' ? statusLine : `${statusLine}  ${filterLine({ tenant, sort, status }, width)}`, width)}
      </Text>
      <TenantPanel tenants={tenants} width={width} maxRows={rows.tenantRows} tenant={tenant} />
      <SessionTable sessions={sessions} offset={top} pageSize={rows.sessionRows} width={width} />
      <EventsPanel events={visibleEvents(snapshot, tenant, rows.eventRows)} width={width} />
      <Text dimColor wrap="truncate">
        {fit(KEYS, width)}
      </Text>
    </Box>
  );
}
