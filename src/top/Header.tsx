import { Box, Text } from 'ink';
import type { SnapshotV1 } from '../introspection/snapshot-schema.js';
import { headerLines } from './format.js';

export function Header({ snapshot, width }: { snapshot: SnapshotV1; width: number }) {
  const [first, second] = headerLines(snapshot, width);
  return (
    <Box flexDirection="column">
      <Text bold color={snapshot.worker.draining ? 'yellow' : undefined} wrap="truncate">
        {first}
      </Text>
      <Text wrap="truncate">{second}</Text>
    </Box>
  );
}
