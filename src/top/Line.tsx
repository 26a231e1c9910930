import { Text } from 'ink';
import { createContext, useContext } from 'react';

/** How lines are styled: `color` off under NO_COLOR; `stale` dims the last frame of a gone worker. */
export interface LineStyle {
  color: boolean;
  stale: boolean;
}

export const LineStyleContext = createContext<LineStyle>({ color: true, stale: false });

export interface LineProps {
  children: string;
  color?: string | undefined;
  bold?: boolean;
  dim?: boolean;
  inverse?: boolean;
}

/**
 * One line of the frame, never wrapped. Every styled line goes through here, so NO_COLOR turns
 * off all escape codes in one place, and a stale frame is dimmed as a whole.
 */
export function Line({ children, color, bold, dim, inverse }: LineProps) {
  const style = useContext(LineStyleContext);
  if (!style.color) return <Text wrap="truncate">{children}</Text>;
  if (style.stale) {
    return (
      <Text wrap="truncate" dimColor>
        {children}
      </Text>
    );
  }
  return (
    <Text
      wrap="truncate"
      {...(color !== undefined ? { color } : {})}
      bold={bold ?? false}
      dimColor={dim ?? false}
      inverse={inverse ?? false}
    >
      {children}
    </Text>
  );
}
