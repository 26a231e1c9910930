import type {
  EventSnapshot,
  InferenceSnapshot,
  RecycleSnapshot,
  SessionSnapshot,
  SnapshotV1,
  TenantRow,
} from '../introspection/snapshot-schema.js';
import {
  fit,
  fitKeepingTail,
  planColumns,
  renderRow,
  widest,
  type Column,
  type PlannedColumn,
} from './table.js';

/**
 * What the live TUI and the plain `--once` frame print: every line is cut or padded to exactly
 * the terminal width, so nothing ever wraps.
 */

export { fit };

export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  if (s < 86_400)
    return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86_400)}d${String(Math.floor((s % 86_400) / 3600)).padStart(2, '0')}h`;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes}B`;
  const units = ['K', 'M', 'G', 'T'];
  let v = bytes / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)}${units[i]}`;
}

export function formatMs(ms: number): string {
  return ms < 10 ? `${ms.toFixed(1)}ms` : `${Math.round(ms)}ms`;
}

function sum(values: Iterable<number>): number {
  let total = 0;
  for (const v of values) total += v;
  return total;
}

/** Worker identity, load, the worker-wide job totals (rejections of malformed ids among them) and the inference process. */
export function headerLines(snap: SnapshotV1, width: number): [string, string, string, string] {
  const w = snap.worker;
  const cap = w.capacity === null ? '∞' : String(w.capacity);
  const cpu = sum(snap.sessions.map((s) => s.cpuPct));
  const t = w.totals;
  const recycle = w.recycle;
  const state =
    recycle?.state === 'handover'
      ? '  RECYCLING (replacement starting)'
      : recycle?.state === 'draining'
        ? '  RECYCLING'
        : w.draining
          ? '  DRAINING'
          : w.load?.overloaded
            ? '  OVERLOADED'
            : w.load?.full
              ? '  FULL'
              : '';
  const identity = `openrtc ${w.name} pid ${w.pid} v${w.version}  up ${formatDuration(w.uptimeS)}${lifetimeText(recycle)}`;
  const alerts = `${state}${storeLabel(w.store)}`;
  const second =
    `sessions ${w.live}/${cap} rsv ${w.reserved}${w.load ? `  load ${w.load.load.toFixed(2)}` : ''}  cpu ${cpu.toFixed(1)}%  rss ${formatBytes(w.rssBytes)}${growthText(recycle)} ` +
    `heap ${formatBytes(w.heapUsedBytes)}  lag p99 ${formatMs(w.loop.p99Ms)} max ${formatMs(w.loop.maxMs)}`;
  // A malformed tenant id belongs to no tenant, so its rejections are counted here, worker-wide.
  const third =
    `accepted ${t.accepted}  succeeded ${t.succeeded}  failed ${t.failed}  rejected ${sum(Object.values(t.rejected))}` +
    `  |  invalid tenant ids ${t.rejected.invalid_tenant ?? 0}` +
    // Calls turned away because the worker was overloaded, once there are any.
    (t.rejected.worker_overloaded ? `  overloaded ${t.rejected.worker_overloaded}` : '');
  return [
    fitKeepingTail(identity, alerts, width),
    fit(second, width),
    fit(third, width),
    fit(inferenceLine(w.inference), width),
  ];
}

/** Fleet mode only: one process's memory store has nothing to report. */
function storeLabel(store: SnapshotV1['worker']['store']): string {
  if (!store || store.kind === 'memory') return '';
  if (store.state === 'ok') return '  store redis ok';
  return `  STORE DEGRADED (${store.policy ?? 'local'})`;
}

/** True when the fleet store does not answer: `top` shows the header in yellow. */
export function storeDegraded(snap: SnapshotV1): boolean {
  return snap.worker.store?.state === 'degraded';
}

/** `  served 1234  recycle: maxSessions 18/20`: how long-lived the worker is, and what ends it. */
export function lifetimeText(r: RecycleSnapshot | undefined): string {
  if (!r) return '';
  return `  served ${r.sessionsServed}${r.nearest ? `  recycle: ${r.nearest.label}` : ''}`;
}

/** ` (+2.1 MiB/1k sessions)`: RSS growth per 1,000 sessions, once there is a trend to show. */
export function growthText(r: RecycleSnapshot | undefined): string {
  if (r?.rssMiBPer1000Sessions === null || r?.rssMiBPer1000Sessions === undefined) return '';
  const g = r.rssMiBPer1000Sessions;
  return ` (${g >= 0 ? '+' : ''}${g.toFixed(1)} MiB/1k sessions)`;
}

/** True when the shared inference process should be running and is not: `top` shows it in red. */
export function inferenceAlarm(inference: InferenceSnapshot | undefined): boolean {
  return inference !== undefined && inference.state !== 'running' && inference.state !== 'disabled';
}

/** The shared inference process: state, then what it costs (it holds the models for every session). */
export function inferenceLine(inf: InferenceSnapshot | undefined): string {
  if (!inf) return 'inference: not reported by this worker';
  const counts = `restarts ${inf.restarts}  failed ${inf.failedRequests}`;
  switch (inf.state) {
    case 'disabled':
      return `inference off${inf.disabledReason ? `: ${inf.disabledReason}` : ''}`;
    case 'running':
      return (
        `inference pid ${inf.pid ?? '?'}  cpu ${inf.cpuPct.toFixed(1)}%  rss ${formatBytes(inf.rssBytes)}  ` +
        `up ${formatDuration(inf.uptimeS ?? 0)}  ${counts}`
      );
    case 'stopped':
      return `inference stopped  ${counts}`;
    default:
      return `inference ${inf.state.toUpperCase()}${inf.lastExit ? ` (${inf.lastExit})` : ''}: requests fail until it is back  ${counts}`;
  }
}

/** A breaker in words, the one wording `top`, `tenant list` and `tenant show` all print. */
export function breakerLabel(b: TenantRow['breaker']): string {
  const manual = b.manual ? ' (manual)' : '';
  if (b.state === 'open') return `open, ${b.secondsLeft ?? 0}s left${manual}`;
  if (b.state === 'half_open')
    return `half-open, ${b.probesInFlight} probe${b.probesInFlight === 1 ? '' : 's'} in flight${manual}`;
  return `closed${manual}`;
}

function tenantColumns(tenants: TenantRow[]): Column<TenantRow>[] {
  return [
    {
      title: 'TENANT',
      preferred: widest(
        'TENANT',
        tenants.map((t) => t.tenant),
        32,
      ),
      min: 8,
      value: (t) => t.tenant,
    },
    {
      title: 'LIVE/CAP',
      preferred: 10,
      min: 10,
      right: true,
      value: (t) => `${t.live}/${t.cap ?? '∞'}`,
    },
    { title: 'RSV', preferred: 4, min: 4, right: true, drop: 1, value: (t) => String(t.reserved) },
    {
      title: 'ACCEPT',
      preferred: 7,
      min: 7,
      right: true,
      drop: 2,
      value: (t) => String(t.accepted),
    },
    {
      title: 'REJECT',
      preferred: 7,
      min: 7,
      right: true,
      value: (t) => String(sum(Object.values(t.rejected))),
    },
    { title: 'FAIL', preferred: 5, min: 5, right: true, value: (t) => String(t.failed) },
    {
      title: 'BREAKER',
      preferred: widest(
        'BREAKER',
        tenants.map((t) => breakerLabel(t.breaker)),
        48,
      ),
      min: 30,
      value: (t) => breakerLabel(t.breaker),
    },
  ];
}

/** A table planned once per frame: its header line and a renderer for its rows. */
export interface Table<T> {
  header: string;
  row(value: T): string;
}

function table<T>(columns: Column<T>[], width: number): Table<T> {
  const plan: PlannedColumn<T>[] = planColumns(columns, width);
  return { header: renderRow(plan, undefined, width), row: (v) => renderRow(plan, v, width) };
}

export const tenantTable = (tenants: TenantRow[], width: number): Table<TenantRow> =>
  table(tenantColumns(tenants), width);

/**
 * Session ids are what an operator copies into a log search, so their column is never squeezed.
 * Wide terminals add the room and job columns. Narrow ones first drop those and the memory share
 * (an even split, the same on every row), then squeeze the tenant and agent columns, then drop
 * agent, the slow flag, age, CPU and status, in that order.
 */
function sessionColumns(sessions: SessionSnapshot[]): Column<SessionSnapshot>[] {
  const idWidth = widest(
    'SESSION',
    sessions.map((s) => s.sessionId),
    256,
  );
  return [
    { title: 'SESSION', preferred: idWidth, min: idWidth, value: (s) => s.sessionId },
    {
      title: 'TENANT',
      preferred: widest(
        'TENANT',
        sessions.map((s) => s.tenant),
        24,
      ),
      min: 6,
      drop: 9,
      value: (s) => s.tenant,
    },
    {
      title: 'AGENT',
      preferred: widest(
        'AGENT',
        sessions.map((s) => s.agent),
        20,
      ),
      min: 5,
      drop: 4,
      value: (s) => s.agent,
    },
    { title: 'STATUS', preferred: 8, min: 8, drop: 8, value: (s) => s.status },
    {
      title: 'AGE',
      preferred: 6,
      min: 6,
      right: true,
      drop: 6,
      value: (s) => formatDuration(s.ageS),
    },
    {
      title: 'CPU%',
      preferred: 5,
      min: 5,
      right: true,
      drop: 7,
      value: (s) => s.cpuPct.toFixed(1),
    },
    {
      title: 'MEM',
      preferred: 6,
      min: 6,
      right: true,
      extra: true,
      drop: 3,
      value: (s) => formatBytes(s.memShareBytes),
    },
    {
      title: 'SLOW',
      preferred: 6,
      min: 6,
      drop: 5,
      value: (s) => (s.slow ? `${s.lastBlockMs ?? 0}ms` : ''),
    },
    {
      title: 'ROOM',
      preferred: widest(
        'ROOM',
        sessions.map((s) => s.room),
        48,
      ),
      min: 4,
      extra: true,
      drop: 2,
      value: (s) => s.room,
    },
    {
      title: 'JOB',
      preferred: widest(
        'JOB',
        sessions.map((s) => s.jobId),
        32,
      ),
      min: 3,
      extra: true,
      drop: 1,
      value: (s) => s.jobId,
    },
  ];
}

/** Columns are sized from every session that passes the filter, so scrolling never moves them. */
export const sessionTable = (sessions: SessionSnapshot[], width: number): Table<SessionSnapshot> =>
  table(sessionColumns(sessions), width);

/** The time of day of an epoch-ms instant, UTC, as events and audit rows show it. */
export function clock(epochMs: number): string {
  return new Date(epochMs).toISOString().slice(11, 19);
}

export function eventRow(e: EventSnapshot, width: number): string {
  return fit(`${clock(e.at)} ${e.kind}${e.tenant ? ` ${e.tenant}` : ''}: ${e.message}`, width);
}

export function filterLine(
  opts: { tenant?: string | undefined; sort: string; status?: string | undefined },
  width: number,
): string {
  return fit(
    `tenant ${opts.tenant ?? 'all'}  sort ${opts.sort}  status ${opts.status ?? 'all'}`,
    width,
  );
}
