import type { EventSnapshot, SessionSnapshot, SnapshotV1, TenantSnapshot } from '../introspection/snapshot-schema.js';

/**
 * Row formatting shared by the live TUI and the plain `--once` frame: every line is cut or padded
 * to exactly the terminal width, so nothing ever wraps.
 */

export function fit(text: string, width: number): string {
  if (width <= 0) return '';
  const clean = text.replace(/[\u0000-\u001f\u007f]/g, ' ');
  if (clean.length > width) return width === 1 ? '…' : `${clean.slice(0, width - 1)}…`;
  return clean.padEnd(width);
}

function fitRight(text: string, width: number): string {
  return text.length > width ? fit(text, width) : text.padStart(width);
}

export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
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

export function headerLines(snap: SnapshotV1, width: number): [string, string] {
  const w = snap.worker;
  const cap = w.capacity === null ? '∞' : String(w.capacity);
  const cpu = sum(snap.sessions.map((s) => s.cpuPct));
  const first = `openrtc ${w.name} pid ${w.pid} v${w.version}  up ${formatDuration(w.uptimeS)}${w.draining ? '  DRAINING' : ''}`;
  const second =
    `sessions ${w.active}/${cap} rsv ${w.reserved}  cpu ${cpu.toFixed(1)}%  rss ${formatBytes(w.rssBytes)} ` +
    `heap ${formatBytes(w.heapUsedBytes)}  lag p99 ${formatMs(w.loop.p99Ms)} max ${formatMs(w.loop.maxMs)}`;
  return [fit(first, width), fit(second, width)];
}

interface Column<T> {
  title: string;
  width: number;
  right?: boolean;
  value(row: T): string;
}

function line<T>(columns: Column<T>[], row: T | undefined, width: number): string {
  const cells = columns.map((c) => {
    const text = row === undefined ? c.title : c.value(row);
    return c.right ? fitRight(text, c.width) : fit(text, c.width);
  });
  return fit(cells.join(' '), width);
}

export function breakerLabel(b: TenantSnapshot['breaker']): string {
  const manual = b.manual ? ' (manual)' : '';
  if (b.state === 'open') return `open ${b.secondsLeft ?? 0}s${manual}`;
  if (b.state === 'half_open') return `half-open p${b.probesInFlight}${manual}`;
  return `closed${manual}`;
}

const tenantColumns: Column<TenantSnapshot>[] = [
  { title: 'TENANT', width: 16, value: (t) => t.tenant },
  { title: 'ACTIVE/CAP', width: 10, right: true, value: (t) => `${t.active}/${t.cap ?? '∞'}` },
  { title: 'RSV', width: 4, right: true, value: (t) => String(t.reserved) },
  { title: 'ACCEPT', width: 7, right: true, value: (t) => String(t.accepted) },
  { title: 'REJECT', width: 7, right: true, value: (t) => String(sum(Object.values(t.rejected))) },
  { title: 'FAIL', width: 5, right: true, value: (t) => String(t.failed) },
  { title: 'BREAKER', width: 22, value: (t) => breakerLabel(t.breaker) },
];

export const tenantHeader = (width: number) => line(tenantColumns, undefined, width);
export const tenantRow = (t: TenantSnapshot, width: number) => line(tenantColumns, t, width);

/** Session columns at 80 columns; a wider terminal gives the extra room to the session id. */
function sessionColumns(width: number): Column<SessionSnapshot>[] {
  const idWidth = Math.min(36, Math.max(14, 14 + (width - 80)));
  return [
    { title: 'SESSION', width: idWidth, value: (s) => s.sessionId },
    { title: 'AGENT', width: 10, value: (s) => s.agent },
    { title: 'TENANT', width: 12, value: (s) => s.tenant },
    { title: 'STATE', width: 8, value: (s) => s.state },
    { title: 'AGE', width: 7, right: true, value: (s) => formatDuration(s.ageS) },
    { title: 'CPU%', width: 6, right: true, value: (s) => s.cpuPct.toFixed(1) },
    { title: 'MEM', width: 7, right: true, value: (s) => formatBytes(s.memShareBytes) },
    { title: 'SLOW', width: 9, value: (s) => (s.slow ? `${s.lastBlockMs ?? 0}ms` : '') },
  ];
}

export const sessionHeader = (width: number) => line(sessionColumns(width), undefined, width);
export const sessionRow = (s: SessionSnapshot, width: number) => line(sessionColumns(width), s, width);

function clock(epochMs: number): string {
  return new Date(epochMs).toISOString().slice(11, 19);
}

export function eventRow(e: EventSnapshot, width: number): string {
  return fit(`${clock(e.at)} ${e.kind}${e.tenant ? ` ${e.tenant}` : ''}: ${e.message}`, width);
}

export function filterLine(opts: { tenant?: string | undefined; sort: string; status?: string | undefined }, width: number): string {
  return fit(`tenant ${opts.tenant ?? 'all'}  sort ${opts.sort}  status ${opts.status ?? 'all'}`, width);
}
