import type { SnapshotV1 } from '../introspection/snapshot-schema.js';
import { eventRow, filterLine, headerLines, sessionTable, tenantTable } from './format.js';
import { visibleEvents, visibleSessions, visibleTenants, type ViewFilter } from './view-model.js';

export interface PlainFrameOptions extends ViewFilter {
  /** Line width; every line is cut or padded to it. Default 80. */
  width?: number;
  /** Recent events to include. Default 10. */
  events?: number;
}

/**
 * One plain-text frame for `openrtc top --once`: the same rows as the live view, every session
 * (no paging), no colours or escape codes, trailing spaces trimmed.
 */
export function renderPlainFrame(snapshot: SnapshotV1, opts: PlainFrameOptions): string {
  const width = opts.width ?? 80;
  const lines: string[] = [...headerLines(snapshot, width), filterLine(opts, width), ''];
  const tenants = visibleTenants(snapshot, opts.tenant);
  const tenantRows = tenantTable(tenants, width);
  lines.push(tenantRows.header);
  if (tenants.length === 0)
    lines.push(opts.tenant ? `no stats for tenant ${opts.tenant} yet` : 'no tenants yet');
  for (const t of tenants) lines.push(tenantRows.row(t));
  lines.push('');
  const sessions = visibleSessions(snapshot, opts);
  const sessionRows = sessionTable(sessions, width);
  lines.push(sessionRows.header);
  for (const s of sessions) lines.push(sessionRows.row(s));
  lines.push(sessions.length === 0 ? 'no sessions' : `${sessions.length} sessions`);
  const events = visibleEvents(snapshot, opts.tenant, opts.events ?? 10);
  if (events.length > 0) {
    lines.push('', 'recent events');
    for (const e of events) lines.push(eventRow(e, width));
  }
  return `${lines.map((l) => l.trimEnd()).join('\n')}\n`;
}
