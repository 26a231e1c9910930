import { ConnectionState, RoomEvent, type Room } from '@livekit/rtc-node';

/** The reason a session ends with when its room's connection never came back. */
export const ROOM_RECONNECT_TIMEOUT_REASON = 'room_reconnect_timeout';

export interface RoomConnectionEvents {
  /** The connection dropped and rtc-node is reconnecting. */
  down(): void;
  /** It came back after `downForMs`. */
  back(downForMs: number): void;
  /** It has been down for `timeoutMs` on end: the session should go. Called once per drop. */
  lost(downForMs: number): void;
}

/**
 * Watches a session's room for a connection that drops and does not come back. rtc-node reports a
 * lost connection as `reconnecting`; it then comes back (a resume, or a full rejoin), or gives up
 * after its attempts and reports `Disconnected`, which ends the session already. The timeout bounds
 * a room that does neither, so a worker that lives for weeks never keeps such a session, its slot
 * and its memory for good. Returns the unwatch.
 */
export function watchRoomConnection(
  room: Room,
  timeoutMs: number,
  events: RoomConnectionEvents,
): () => void {
  let downSince: number | undefined;
  let timer: NodeJS.Timeout | undefined;
  const down = () => {
    if (downSince !== undefined) return;
    downSince = Date.now();
    events.down();
    timer = setTimeout(() => {
      timer = undefined;
      events.lost(Date.now() - (downSince ?? Date.now()));
    }, timeoutMs);
    // The session's own teardown or the worker's drain decides when the process may exit.
    timer.unref();
  };
  const back = () => {
    if (downSince === undefined) return;
    const downForMs = Date.now() - downSince;
    clearTimeout(timer);
    timer = undefined;
    downSince = undefined;
    events.back(downForMs);
  };
  const onState = (state: ConnectionState) => {
    if (state === ConnectionState.CONN_RECONNECTING) down();
    else if (state === ConnectionState.CONN_CONNECTED) back();
  };
  room.on(RoomEvent.ConnectionStateChanged, onState);
  room.on(RoomEvent.Reconnecting, down);
  room.on(RoomEvent.Reconnected, back);
  return () => {
    clearTimeout(timer);
    room.off(RoomEvent.ConnectionStateChanged, onState);
    room.off(RoomEvent.Reconnecting, down);
    room.off(RoomEvent.Reconnected, back);
  };
}
