import { appendFile } from 'node:fs/promises';

/** What the benchmark agents read from their job's metadata. */
export interface BenchMetadata {
  /** File the harness reads: one JSON line when the session is up, one when it ends. */
  report: string;
  /** Soak: before joining, the session also tries a room connection with a bad token, which fails. */
  badToken?: boolean;
}

export function report(path: string, line: Record<string, unknown>): Promise<void> {
  return appendFile(path, `${JSON.stringify(line)}\n`);
}
