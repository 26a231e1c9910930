import { Box } from 'ink';
import type { EventSnapshot } from '../introspection/snapshot-schema.js';
import { eventRow } from './format.js';
import { Line } from './Line.js';

const kindColor: Partial<Record<EventSnapshot['kind'], string>> = {
  breaker: 'red',
  slow_session: 'yellow',
  reject: 'magenta',
};

export function EventsPanel({ events, width }: { events: EventSnapshot[]; width: number }) {
  return (
    <Box flexDirection="column">
      {events.map((e, i) => (
        <Line key={`${e.at}-${i}`} color={kindColor[e.kind]}>
          {eventRow(e, width)}
        </Line>
      ))}
    </Box>
  );
}
