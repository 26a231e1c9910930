import type {
  EventSnapshot,
  SessionSnapshot,
  SnapshotV1,
  TenantRow,
} from '../introspection/snapshot-schema.js';
import { SORT_KEYS, STATUS_FILTERS, type SortKey, type StatusFilter } from './options.js';

/** What the user chose to see; pure data shared by the TUI and the plain frame. */
export interface ViewFilter {
  tenant?: string | undefined;
  sort: SortKey;
  status?: StatusFilter | undefined;
}

const STATUS_ORDER: Record<SessionSnapshot['status'], number> = {
  starting: 0,
  running: 1,
  closing: 2,
};

const comparators: Record<SortKey, (a: SessionSnapshot, b: SessionSnapshot) => number> = {
  age: (a, b) => b.ageS - a.ageS,
  cpu: (a, b) => b.cpuPct - a.cpuPct,
  tenant: (a, b) => a.tenant.localeCompare(b.tenant),
  status: (a, b) => STATUS_ORDER[a.status] - STATUS_ORDER[b.status],
  agent: (a, b) => a.agent.localeCompare(b.agent),
};

export function visibleSessions(snap: SnapshotV1, view: ViewFilter): SessionSnapshot[] {
  const cmp = comparators[view.sort];
  return snap.sessions
    .filter(
      (s) =>
        (view.tenant === undefined || s.tenant === view.tenant) &&
        (view.status === undefined || s.status === view.status),
    )
    .sort((a, b) => cmp(a, b) || a.sessionId.localeCompare(b.sessionId));
}

export function visibleTenants(snap: SnapshotV1, tenant: string | undefined): TenantRow[] {
  return snap.tenants
    .filter((t) => tenant === undefined || t.tenant === tenant)
    .sort((a, b) => a.tenant.localeCompare(b.tenant));
}

/** Events that are always about one tenant; without a tenant they concern a malformed id. */
const TENANT_EVENTS: ReadonlySet<EventSnapshot['kind']> = new Set(['reject', 'breaker', 'session']);

/**
 * Newest last. With one tenant chosen, only its events and the worker's own (drain, config,
 * worker) are shown: another tenant's, and rejections of ids that name no tenant, are not.
 */
export function visibleEvents(
  snap: SnapshotV1,
  tenant: string | undefined,
  limit: number,
): EventSnapshot[] {
  if (limit <= 0) return [];
  const shown = (e: EventSnapshot) =>
    tenant === undefined ||
    e.tenant === tenant ||
    (e.tenant === undefined && !TENANT_EVENTS.has(e.kind));
  return snap.events.filter(shown).slice(-limit);
}

export function nextSort(sort: SortKey): SortKey {
  return SORT_KEYS[(SORT_KEYS.indexOf(sort) + 1) % SORT_KEYS.length]!;
}

/** all → starting → running → closing → all. */
export function nextStatus(status: StatusFilter | undefined): StatusFilter | undefined {
  if (status === undefined) return STATUS_FILTERS[0];
  const i = STATUS_FILTERS.indexOf(status);
  return i === STATUS_FILTERS.length - 1 ? undefined : STATUS_FILTERS[i + 1];
}

export function knownTenants(snap: SnapshotV1 | undefined): string[] {
  if (!snap) return [];
  return [
    ...new Set([...snap.tenants.map((t) => t.tenant), ...Object.keys(snap.sessions_by_tenant)]),
  ].sort();
}

/** all → each known tenant in order → all. */
export function nextTenant(
  snap: SnapshotV1 | undefined,
  tenant: string | undefined,
): string | undefined {
  const tenants = knownTenants(snap);
  if (tenants.length === 0) return undefined;
  if (tenant === undefined) return tenants[0];
  const i = tenants.indexOf(tenant);
  return i === -1 ? tenants[0] : tenants[i + 1];
}

export interface Layout {
  tenantRows: number;
  sessionRows: number;
  eventRows: number;
}

export const HEADER_LINES = 4;
/** Lines of every frame that are not table rows: header, status, two table titles, paging, keys. */
const FIXED_LINES = HEADER_LINES + 1 + 1 + 1 + 1 + 1;

/**
 * Splits the terminal height: the fixed lines, then tenants (up to a quarter of the rest) and
 * recent events (a few, more on a tall terminal); the session table takes all that remains, so
 * the frame fills the screen at any size.
 */
export function layout(rows: number, tenantCount: number): Layout {
  const free = Math.max(1, rows - FIXED_LINES);
  const tenantRows = Math.min(Math.max(tenantCount, 1), Math.max(1, Math.floor(free / 4)));
  const rest = free - tenantRows;
  const eventRows = rest >= 10 ? Math.min(8, Math.max(3, Math.floor(rest / 5))) : rest >= 6 ? 1 : 0;
  const sessionRows = Math.max(1, rest - eventRows);
  return { tenantRows, sessionRows, eventRows };
}

export function clampOffset(offset: number, total: number, pageSize: number): number {
  return Math.max(0, Math.min(offset, Math.max(0, total - pageSize)));
}

export function pagingLine(offset: number, shown: number, total: number): string {
  if (total === 0) return 'no sessions';
  return `sessions ${offset + 1}-${offset + shown} of ${total}`;
}
