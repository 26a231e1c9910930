import { Box } from 'ink';
import type { SnapshotV1 } from '../introspection/snapshot-schema.js';
import { headerLines, inferenceAlarm, storeDegraded } from './format.js';
import { Line } from './Line.js';

export function Header({ snapshot, width }: { snapshot: SnapshotV1; width: number }) {
  const [first, second, third, inference] = headerLines(snapshot, width);
  return (
    <Box flexDirection="column">
      <Line
        bold
        color={
          snapshot.worker.draining ||
          snapshot.worker.load?.full ||
          storeDegraded(snapshot) ||
          (snapshot.worker.recycle && snapshot.worker.recycle.state !== 'serving')
            ? 'yellow'
            : undefined
        }
      >
        {first}
      </Line>
      <Line>{second}</Line>
      <Line>{third}</Line>
      <Line
        color={inferenceAlarm(snapshot.worker.inference) ? 'red' : undefined}
        dim={snapshot.worker.inference?.state === 'disabled'}
      >
        {inference}
      </Line>
    </Box>
  );
}
