import type {
  FleetAuditRow,
  FleetTenantRow,
  FleetView,
  FleetWorkerRow,
} from '../../introspection/fleet-view.js';
import { clock, formatDuration, formatMs } from '../format.js';
import { fit, fitKeepingTail, planColumns, renderRow, widest, type Column } from '../table.js';

/**
 * What `openrtc top --fleet` draws, as lines with their style: the live view renders each through
 * `Line`, the plain frame (`--once`, a pipe, `tenant list --fleet`) joins their text. Every line is
 * exactly `width` wide.
 */
export interface StyledLine {
  text: string;
  color?: string;
  bold?: boolean;
  dim?: boolean;
  inverse?: boolean;
}

export interface FleetFrameOptions {
  width: number;
  /** Only this tenant's row, and only its sessions in the worker rows. */
  tenant?: string | undefined;
  /** Lines the body may take (the live view's terminal); undefined: every row. */
  bodyRows?: number | undefined;
}

function capText(t: FleetTenantRow): string {
  const cap = t.cap === null ? '-' : String(t.cap);
  if (!t.capsDiffer) return `${t.live}/${cap}`;
  return `${t.live}/${cap} (workers: ${t.capsDiffer.map((c) => c ?? 'none').join(', ')})`;
}

function atCap(t: FleetTenantRow): boolean {
  return t.cap !== null && t.live >= t.cap;
}

function tenantColumns(tenants: FleetTenantRow[]): Column<FleetTenantRow>[] {
  return [
    {
      title: 'TENANT',
      preferred: widest(
        'TENANT',
        tenants.map((t) => t.tenant),
        40,
      ),
      min: 8,
      value: (t) => t.tenant,
    },
    {
      title: 'LIVE/CAP',
      preferred: widest('LIVE/CAP', tenants.map(capText), 48),
      min: 10,
      right: true,
      value: capText,
    },
    {
      title: 'OVERRIDE',
      preferred: 8,
      min: 8,
      right: true,
      drop: 1,
      value: (t) => (t.capOverride === null ? '-' : String(t.capOverride)),
    },
    {
      title: 'STATE',
      preferred: 6,
      min: 6,
      drop: 2,
      value: (t) => (atCap(t) ? 'AT CAP' : ''),
    },
  ];
}

function byTenant(w: FleetWorkerRow, tenant: string | undefined): string {
  const entries = Object.entries(w.sessionsByTenant)
    .filter(([t, n]) => n > 0 && (tenant === undefined || t === tenant))
    .sort(([a], [b]) => a.localeCompare(b));
  return entries.length === 0 ? '-' : entries.map(([t, n]) => `${t} ${n}`).join(', ');
}

function workerState(w: FleetWorkerRow): string {
  if (w.stopped) return `HEARTBEAT STOPPED ${formatDuration(w.heartbeatAgeMs / 1000)} ago`;
  return w.draining ? 'draining' : 'serving';
}

function workerColumns(
  workers: FleetWorkerRow[],
  tenant: string | undefined,
): Column<FleetWorkerRow>[] {
  const sessions = (w: FleetWorkerRow) =>
    String(tenant === undefined ? w.sessions : (w.sessionsByTenant[tenant] ?? 0));
  return [
    {
      title: 'NAME',
      preferred: widest(
        'NAME',
        workers.map((w) => w.name ?? '-'),
        24,
      ),
      min: 6,
      value: (w) => w.name ?? '-',
    },
    {
      title: 'HOST',
      preferred: widest(
        'HOST',
        workers.map((w) => w.host),
        24,
      ),
      min: 6,
      drop: 3,
      value: (w) => w.host,
    },
    {
      title: 'PID',
      preferred: widest(
        'PID',
        workers.map((w) => String(w.pid)),
        8,
      ),
      min: 3,
      right: true,
      value: (w) => String(w.pid),
    },
    {
      title: 'SESSIONS',
      preferred: 8,
      min: 8,
      right: true,
      value: sessions,
    },
    {
      title: 'LOOP P99',
      preferred: 8,
      min: 8,
      right: true,
      drop: 2,
      value: (w) => (w.stopped ? '-' : formatMs(w.loopP99Ms)),
    },
    {
      title: 'STATE',
      preferred: widest('STATE', workers.map(workerState), 32),
      min: 7,
      value: workerState,
    },
    {
      title: 'BY TENANT',
      preferred: widest(
        'BY TENANT',
        workers.map((w) => byTenant(w, tenant)),
        60,
      ),
      min: 9,
      drop: 1,
      value: (w) => byTenant(w, tenant),
    },
    {
      title: 'ID',
      preferred: widest(
        'ID',
        workers.map((w) => w.worker),
        64,
      ),
      min: 8,
      extra: true,
      drop: 0,
      value: (w) => w.worker,
    },
  ];
}

function auditText(a: FleetAuditRow): string {
  const what = `${a.action}${a.tenant ? ` ${a.tenant}` : ' (all tenants)'}${a.detail ? ` ${a.detail}` : ''}`;
  const who =
    a.source === 'cli'
      ? `${a.operator} from the CLI (${a.worker})`
      : `${a.operator} on ${a.worker}`;
  return `${clock(a.at)} ${what}  by ${who}`;
}

/** The two header lines: the store and the fleet's totals. */
export function fleetHeader(view: FleetView, width: number): StyledLine[] {
  const s = view.store;
  const t = view.totals;
  const store =
    s.state === 'ok'
      ? `store ok (read in ${formatMs(s.readMs)})`
      : `STORE DEGRADED (read in ${formatMs(s.readMs)})`;
  const stopped = t.stopped > 0 ? `, ${t.stopped} HEARTBEAT STOPPED` : '';
  return [
    {
      text: fitKeepingTail(`openrtc fleet  ${s.url} prefix ${s.keyPrefix}`, `  ${store}`, width),
      bold: true,
      ...(s.state === 'ok' ? {} : { color: 'yellow' }),
    },
    {
      text: fit(
        `workers ${t.workers - t.stopped} live${stopped}, ${t.draining} draining  sessions ${t.live} (live leases)`,
        width,
      ),
      ...(t.stopped > 0 ? { color: 'yellow' } : {}),
    },
  ];
}

/** The tenant table, the worker table and the recent operator actions. */
export function fleetBody(view: FleetView, opts: FleetFrameOptions): StyledLine[] {
  const { width, tenant } = opts;
  const tenants = view.tenants.filter((t) => tenant === undefined || t.tenant === tenant);
  const workers = view.workers.filter(
    (w) => tenant === undefined || (w.sessionsByTenant[tenant] ?? 0) > 0 || w.stopped,
  );
  const audit = view.audit.filter(
    (a) => tenant === undefined || a.tenant === tenant || a.tenant === null,
  );

  // With a height to fill: fixed lines (two titles, a blank, the audit title), then tenants get
  // up to a third of the rest, workers the rest, the audit log what is left over.
  const budget = opts.bodyRows;
  const free = budget === undefined ? Infinity : Math.max(2, budget - 4);
  const tenantRows = Math.min(Math.max(1, tenants.length), Math.max(1, Math.floor(free / 3)));
  const workerRows = Math.min(Math.max(1, workers.length), Math.max(1, free - tenantRows));
  const auditRows = Math.max(0, Math.min(audit.length, free - tenantRows - workerRows));

  const lines: StyledLine[] = [];
  const tPlan = planColumns(tenantColumns(tenants), width);
  lines.push({ text: renderRow(tPlan, undefined, width), bold: true, inverse: true });
  if (tenants.length === 0)
    lines.push({
      text: fit(tenant ? `no leases or caps for tenant ${tenant}` : 'no tenants yet', width),
      dim: true,
    });
  for (const [i, t] of tenants.entries()) {
    if (i === tenantRows - 1 && tenants.length > tenantRows) {
      lines.push({ text: fit(`+${tenants.length - i} more tenants`, width), dim: true });
      break;
    }
    lines.push({
      text: renderRow(tPlan, t, width),
      ...(atCap(t) ? { color: 'yellow' } : {}),
    });
  }

  lines.push({ text: fit('', width) });
  const wPlan = planColumns(workerColumns(workers, tenant), width);
  lines.push({ text: renderRow(wPlan, undefined, width), bold: true, inverse: true });
  if (workers.length === 0)
    lines.push({ text: fit('no worker has published a heartbeat', width), dim: true });
  for (const [i, w] of workers.entries()) {
    if (i === workerRows - 1 && workers.length > workerRows) {
      lines.push({ text: fit(`+${workers.length - i} more workers`, width), dim: true });
      break;
    }
    lines.push({
      text: renderRow(wPlan, w, width),
      ...(w.stopped ? { color: 'red' } : w.draining ? { color: 'yellow' } : {}),
    });
  }

  if (auditRows > 0) {
    lines.push({ text: fit('recent operator actions', width), bold: true });
    for (const a of audit.slice(0, auditRows)) lines.push({ text: fit(auditText(a), width) });
  }
  return lines;
}

/** One plain frame (no styles, trailing spaces trimmed): `top --fleet --once` and pipes. */
export function renderFleetFrame(view: FleetView, opts: FleetFrameOptions): string {
  const lines = [...fleetHeader(view, opts.width), ...fleetBody(view, opts)];
  return `${lines.map((l) => l.text.trimEnd()).join('\n')}\n`;
}
