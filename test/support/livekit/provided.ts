import { inject } from 'vitest';
import type { LivekitServerInfo } from './livekit-server.js';

/** What the global setup hands every test file. */
export type LivekitProvided =
  { available: false } | { available: true; binary: string; server: LivekitServerInfo };

declare module 'vitest' {
  export interface ProvidedContext {
    livekit: LivekitProvided;
  }
}

/** The run's shared server, or undefined when the run has none (the tests then skip). */
export function sharedLivekit(): Extract<LivekitProvided, { available: true }> | undefined {
  const provided = inject('livekit');
  return provided.available ? provided : undefined;
}
