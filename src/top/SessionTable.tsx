import { Box } from 'ink';
import type { SessionSnapshot } from '../introspection/snapshot-schema.js';
import { fit, sessionTable } from './format.js';
import { Line } from './Line.js';
import { pagingLine } from './view-model.js';

/** The session rows fill `pageSize` lines, blank ones included, so the table grows with the screen. */
export function SessionTable({
  sessions,
  offset,
  pageSize,
  width,
}: {
  sessions: SessionSnapshot[];
  offset: number;
  pageSize: number;
  width: number;
}) {
  const page = sessions.slice(offset, offset + pageSize);
  const more = sessions.length > pageSize ? '  (↑/↓ PgUp/PgDn to scroll)' : '';
  const table = sessionTable(sessions, width);
  const blank = Math.max(0, pageSize - page.length);
  return (
    <Box flexDirection="column">
      <Line bold inverse>
        {table.header}
      </Line>
      {page.map((s) => (
        <Line key={s.sessionId} color={s.slow ? 'yellow' : undefined}>
          {table.row(s)}
        </Line>
      ))}
      {Array.from({ length: blank }, (_, i) => (
        <Line key={`blank-${i}`}> </Line>
      ))}
      <Line dim>{fit(`${pagingLine(offset, page.length, sessions.length)}${more}`, width)}</Line>
    </Box>
  );
}
