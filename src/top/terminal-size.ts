import { useStdout } from 'ink';
import { useEffect, useState } from 'react';

export interface TerminalSize {
  width: number;
  height: number;
}

/**
 * The size to draw at: the one given (tests, `--once`), else the terminal's, following it as it
 * is resized.
 */
export function useTerminalSize(width?: number, height?: number): TerminalSize {
  const { stdout } = useStdout();
  const [size, setSize] = useState<TerminalSize>(() => ({
    width: width ?? stdout.columns ?? 80,
    height: height ?? stdout.rows ?? 24,
  }));
  useEffect(() => {
    if (width !== undefined && height !== undefined) return;
    const onResize = () =>
      setSize({ width: width ?? stdout.columns ?? 80, height: height ?? stdout.rows ?? 24 });
    stdout.on('resize', onResize);
    return () => void stdout.off('resize', onResize);
  }, [stdout, width, height]);
  return size;
}
