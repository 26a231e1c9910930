import type { EventEmitter } from 'node:events';
import type { Room } from '@livekit/rtc-node';

/**
 * What rtc-node keeps private and a host that outlives its rooms has to reach: its process-wide
 * FFI client (where every connected `Room` and `AudioStream` listens for native events) and a
 * room's listener on it. Pinned to `@livekit/rtc-node` 0.13.35; a rename there shows up as a
 * non-zero `ffiListeners` after calls end (the soak test and snapshot read it).
 */
const FFI_EVENT = 'ffi_event';

function ffiClient(): EventEmitter | undefined {
  // Read, never created: a worker that never connected a room has none.
  return (globalThis as { _ffiClientInstance?: EventEmitter })._ffiClientInstance;
}

/** Listeners on the FFI client: one per connected room and per open audio or video stream. */
export function ffiListenerCount(): number {
  return ffiClient()?.listenerCount(FFI_EVENT) ?? 0;
}

/**
 * Drops whatever a room still holds after `room.disconnect()`. When the server ended the
 * connection first (the room deleted, the agent removed, the network lost), rtc-node marks the
 * room disconnected but leaves its listener on the FFI client, and `disconnect()` then returns
 * early: the listener, and through it the room with its participants and tracks, would stay for
 * the life of the process.
 */
export function releaseRoom(room: Room): void {
  if (room.isConnected) return;
  const listener = (room as unknown as { onFfiEvent?: (...args: unknown[]) => void }).onFfiEvent;
  if (typeof listener === 'function') ffiClient()?.removeListener(FFI_EVENT, listener);
  room.removeAllListeners();
}
