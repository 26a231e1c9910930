import { Box } from 'ink';
import { fit } from './format.js';
import { KEY_BINDINGS } from './keys.js';
import { Line } from './Line.js';

/** Replaces the tables while open, filling the same `rows` lines. */
export function HelpPanel({ width, rows }: { width: number; rows: number }) {
  const keyWidth = Math.max(...KEY_BINDINGS.map((b) => b.keys.length));
  const lines = KEY_BINDINGS.map((b) => `  ${b.keys.padEnd(keyWidth)}  ${b.does}`).slice(
    0,
    Math.max(0, rows - 2),
  );
  const blank = Math.max(0, rows - 2 - lines.length);
  return (
    <Box flexDirection="column">
      <Line bold inverse>
        {fit('keys (press ?, h or Esc to close)', width)}
      </Line>
      {lines.map((l) => (
        <Line key={l}>{fit(l, width)}</Line>
      ))}
      {Array.from({ length: blank }, (_, i) => (
        <Line key={`blank-${i}`}> </Line>
      ))}
      <Line dim>{fit('the view keeps refreshing behind this help', width)}</Line>
    </Box>
  );
}
