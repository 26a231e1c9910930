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
 * lost connection as `reconnecting` and keeps trying; when the server it was on is gone for good (a
 * crash, a restart that lost the room), it may never reconnect nor say it gave up, and a worker
 * that lives for weeks would keep that session, its slot and its memory forever. A room that
 * reconnects in time cancels the watch; a plain disconnect ends the session through `Disconnected`
 * already. Returns the unwatch.
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
