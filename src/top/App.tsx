import { Box, useApp, useInput, useStdin } from 'ink';
import { useEffect, useRef, useState } from 'react';
import { useTerminalSize } from './terminal-size.js';
import type { SnapshotV1 } from '../introspection/snapshot-schema.js';
import { EventsPanel } from './EventsPanel.js';
import { fit, filterLine } from './format.js';
import { Header } from './Header.js';
import { HelpPanel } from './HelpPanel.js';
import { KEY_HINT } from './keys.js';
import { Line, LineStyleContext } from './Line.js';
import type { SortKey, StatusFilter } from './options.js';
import { SessionTable } from './SessionTable.js';
import type { ConnectionState, SnapshotSource } from './snapshot-source.js';
import { TenantPanel } from './TenantPanel.js';
import {
  clampOffset,
  HEADER_LINES,
  layout,
  nextSort,
  nextStatus,
  nextTenant,
  visibleEvents,
  visibleSessions,
  visibleTenants,
} from './view-model.js';

export interface AppProps {
  source: SnapshotSource;
  tenant?: string | undefined;
  sort?: SortKey;
  status?: StatusFilter | undefined;
  /** Terminal size; defaults to the output stream's, else 80×24. */
  width?: number;
  height?: number;
  /** Colours and styles; off under NO_COLOR. */
  color?: boolean;
  /** How long the "new worker" banner stays up. */
  bannerMs?: number;
}

/** A worker replaced by another (a restart, a deploy): said once, plainly. */
interface Reattach {
  name: string;
  oldPid: number;
  newPid: number;
}

function Blank({ count }: { count: number }) {
  return (
    <>
      {Array.from({ length: Math.max(0, count) }, (_, i) => (
        <Line key={`pad-${i}`}> </Line>
      ))}
    </>
  );
}

function connectionBanner(
  connection: ConnectionState,
  snapshot: SnapshotV1 | undefined,
  reattach: Reattach | undefined,
): { text: string; color: string } | undefined {
  if (connection.status === 'disconnected') {
    if (!snapshot)
      return { text: `cannot reach a worker, retrying… (${connection.reason})`, color: 'red' };
    const worker = `worker ${snapshot.worker.name} pid ${snapshot.worker.pid}`;
    return connection.workerGone
      ? { text: `${worker} exited; waiting for a new one (last frame, dimmed)`, color: 'red' }
      : { text: `${worker}: connection lost, retrying… (${connection.reason})`, color: 'red' };
  }
  if (connection.status === 'connecting')
    return { text: 'connecting to the worker…', color: 'cyan' };
  if (reattach)
    return {
      text: `new worker: ${reattach.name} is now pid ${reattach.newPid} (was pid ${reattach.oldPid})`,
      color: 'green',
    };
  return undefined;
}

export function App(props: AppProps) {
  const { exit } = useApp();
  const { isRawModeSupported } = useStdin();
  const [snapshot, setSnapshot] = useState<SnapshotV1 | undefined>(undefined);
  const [connection, setConnection] = useState<ConnectionState>({ status: 'connecting' });
  const [tenant, setTenant] = useState(props.tenant);
  const [sort, setSort] = useState<SortKey>(props.sort ?? 'age');
  const [status, setStatus] = useState(props.status);
  const [offset, setOffset] = useState(0);
  const [help, setHelp] = useState(false);
  const [reattach, setReattach] = useState<Reattach | undefined>(undefined);
  const size = useTerminalSize(props.width, props.height);
  const lastWorker = useRef<{ name: string; pid: number } | undefined>(undefined);

  useEffect(
    () =>
      props.source.subscribe((snap) => {
        const before = lastWorker.current;
        if (before && before.pid !== snap.worker.pid)
          setReattach({ name: snap.worker.name, oldPid: before.pid, newPid: snap.worker.pid });
        lastWorker.current = { name: snap.worker.name, pid: snap.worker.pid };
        setSnapshot(snap);
      }, setConnection),
    [props.source],
  );

  useEffect(() => {
    if (!reattach) return;
    const timer = setTimeout(() => setReattach(undefined), props.bannerMs ?? 10_000);
    return () => clearTimeout(timer);
  }, [reattach, props.bannerMs]);

  const { width, height } = size;
  const sessions = snapshot ? visibleSessions(snapshot, { tenant, sort, status }) : [];
  const tenants = snapshot ? visibleTenants(snapshot, tenant) : [];
  const rows = layout(height, tenants.length);
  const top = clampOffset(offset, sessions.length, rows.sessionRows);
  // The input handler can be one render behind (effects flush lazily): it reads the latest view here.
  const latest = useRef({ snapshot, total: sessions.length, pageSize: rows.sessionRows, help });
  latest.current = { snapshot, total: sessions.length, pageSize: rows.sessionRows, help };

  useInput(
    (input, key) => {
      if (input === 'q' || (key.ctrl && input === 'c')) return exit();
      if (input === '?' || input === 'h') return setHelp((open) => !open);
      if (latest.current.help) {
        if (key.escape) setHelp(false);
        return;
      }
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
      if (key.home) return setOffset(0);
      if (key.end) return setOffset(clampOffset(total, total, pageSize));
      const step = key.upArrow
        ? -1
        : key.downArrow
          ? 1
          : key.pageUp
            ? -pageSize
            : key.pageDown
              ? pageSize
              : 0;
      // Functional update: several keys can arrive in one chunk, before the next render.
      if (step !== 0)
        setOffset((o) => clampOffset(clampOffset(o, total, pageSize) + step, total, pageSize));
    },
    { isActive: isRawModeSupported },
  );

  const color = props.color ?? true;
  const banner = connectionBanner(
    connection,
    snapshot,
    connection.status === 'connected' ? reattach : undefined,
  );
  const statusLine = banner ? (
    <Line bold inverse color={banner.color}>
      {fit(banner.text, width)}
    </Line>
  ) : (
    <Line color="cyan">{filterLine({ tenant, sort, status }, width)}</Line>
  );
  const keys = <Line dim>{fit(KEY_HINT, width)}</Line>;
  // Everything between the status line and the keys: where the help replaces the tables.
  const body = height - HEADER_LINES - 2;

  if (!snapshot) {
    return (
      <LineStyleContext.Provider value={{ color, stale: false }}>
        <Box flexDirection="column">
          {statusLine}
          {help ? <HelpPanel width={width} rows={height - 2} /> : <Blank count={height - 2} />}
          {keys}
        </Box>
      </LineStyleContext.Provider>
    );
  }

  const events = visibleEvents(snapshot, tenant, rows.eventRows);
  return (
    <LineStyleContext.Provider value={{ color, stale: false }}>
      <Box flexDirection="column">
        <LineStyleContext.Provider value={{ color, stale: connection.status === 'disconnected' }}>
          <Header snapshot={snapshot} width={width} />
        </LineStyleContext.Provider>
        {statusLine}
        <LineStyleContext.Provider value={{ color, stale: connection.status === 'disconnected' }}>
          {help ? (
            <HelpPanel width={width} rows={body} />
          ) : (
            <>
              <TenantPanel
                tenants={tenants}
                width={width}
                maxRows={rows.tenantRows}
                tenant={tenant}
              />
              <SessionTable
                sessions={sessions}
                offset={top}
                pageSize={rows.sessionRows}
                width={width}
              />
              <EventsPanel events={events} width={width} />
              <Blank count={rows.eventRows - events.length} />
            </>
          )}
        </LineStyleContext.Provider>
        {keys}
      </Box>
    </LineStyleContext.Provider>
  );
}
