import { errorMessage } from '../../errors/describe-error.js';
import type { FleetView } from '../../introspection/fleet-view.js';

export type FleetSourceState =
  | { status: 'connecting' }
  | { status: 'ok' }
  /** The store did not answer the last read; the view keeps its last frame, dimmed. */
  | { status: 'unreachable'; reason: string };

/** Where the fleet view gets its frames; tests feed it directly, the CLI reads the store. */
export interface FleetSource {
  subscribe(
    onView: (view: FleetView) => void,
    onState: (state: FleetSourceState) => void,
  ): () => void;
}

/**
 * Reads the fleet every `intervalMs`, one read at a time (a slow store is never asked twice at
 * once); a failed read reports `unreachable` and the next tick tries again.
 */
export function pollingFleetSource(
  read: () => Promise<FleetView>,
  intervalMs: number,
): FleetSource {
  return {
    subscribe(onView, onState) {
      let stopped = false;
      let timer: NodeJS.Timeout | undefined;
      const tick = async () => {
        try {
          const view = await read();
          if (stopped) return;
          onView(view);
          onState({ status: 'ok' });
        } catch (err) {
          if (stopped) return;
          onState({ status: 'unreachable', reason: errorMessage(err) });
        }
        if (!stopped) timer = setTimeout(() => void tick(), intervalMs);
      };
      onState({ status: 'connecting' });
      void tick();
      return () => {
        stopped = true;
        clearTimeout(timer);
      };
    },
  };
}
