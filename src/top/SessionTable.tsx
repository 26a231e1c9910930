import { Box, Text } from 'ink';
import type { SessionSnapshot } from '../introspection/snapshot-schema.js';
import { fit, sessionHeader, sessionRow } from './format.js';
import { pagingLine } from './view-model.js';

export function SessionTable({ sessions, offset, pageSize, width }: { sessions: SessionSnapshot[]; offset: number; pageSize: number; width: number }) {
  const page = sessions.slice(offset, offset + pageSize);
  const more = sessions.length > pageSize ? '  (↑/↓ PgUp/PgDn to scroll)' : '';
  return (
    <Box flexDirection="column">
      <Text bold inverse wrap="truncate">
        {sessionHeader(width)}
      </Text>
      {page.map((s) => (
        <Text key={s.sessionId} color={s.slow ? 'yellow' : undefined} wrap="truncate">
          {sessionRow(s, width)}
        </Text>
      ))}
      <Text dimColor wrap="truncate">
        {fit(`${pagingLine(offset, page.length, sessions.length)}${more}`, width)}
      </Text>
    </Box>
  );
}
