import { Box, Text } from 'ink';
import type { EventSnapshot } from '../introspection/snapshot-schema.js';
import { eventRow } from './format.js';

const kindColor: Partial<Record<EventSnapshot['kind'], string>> = { breaker: 'red', slow_session: 'yellow', reject: 'magenta' };

export function EventsPanel({ events, width }: { events: EventSnapshot[]; width: number }) {
  return (
    <Box flexDirection="column">
      {events.map((e, i) => (
        <Text key={`${e.at}-${i}`} color={kindColor[e.kind]} wrap="truncate">
          {eventRow(e, width)}
        </Text>
      ))}
    </Box>
  );
}
