import type { FootprintSnapshot } from '../introspection/snapshot-schema.js';
import { ffiListenerCount } from '../session/room-release.js';

/** A part of the worker that keeps per-job or per-session state, reporting its sizes by name. */
export interface FootprintPart {
  footprint(): Record<string, number>;
}

/** Node's active handles and requests, counted by type. */
function handlesByType(): Record<string, number> {
  // Keyed by Node's resource type names; null prototype, so no name can collide with Object's.
  const counts = Object.create(null) as Record<string, number>;
  for (const type of process.getActiveResourcesInfo()) counts[type] = (counts[type] ?? 0) + 1;
  return counts;
}

/**
 * The snapshot's `footprint`: everything a leak would grow. Sizes come from each part's own
 * `footprint()`, so a soak reads the worker's maps without reaching into them.
 */
export function collectFootprint(
  sessionsServed: number,
  parts: FootprintPart[],
): FootprintSnapshot {
  const tracked = Object.create(null) as Record<string, number>;
  for (const part of parts) Object.assign(tracked, part.footprint());
  const m = process.memoryUsage();
  return {
    sessionsServed,
    tracked,
    ffiListeners: ffiListenerCount(),
    handles: handlesByType(),
    heapTotalBytes: m.heapTotal,
    externalBytes: m.external,
    arrayBuffersBytes: m.arrayBuffers,
  };
}
