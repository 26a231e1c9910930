// The watch over a session's room connection, on a real rtc-node `Room` fed the state changes its
// FFI event handler emits (`updateConnectionState`), with the clock faked: the end of the session
// is exact, not a race with a timer.
import { ConnectionState, Room, RoomEvent } from '@livekit/rtc-node';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { watchRoomConnection } from '../../src/session/room-connection-watch.js';

const TIMEOUT_MS = 60_000;

function watched() {
  const room = new Room();
  const seen: string[] = [];
  const unwatch = watchRoomConnection(room, TIMEOUT_MS, {
    down: () => seen.push('down'),
    back: (ms) => seen.push(`back ${ms}`),
    lost: (ms) => seen.push(`lost ${ms}`),
  });
  const state = (s: ConnectionState) => room.emit(RoomEvent.ConnectionStateChanged, s);
  return { room, seen, unwatch, state };
}

describe('watchRoomConnection', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('calls lost once the room has been reconnecting for the whole timeout', () => {
    const { seen, state } = watched();
    state(ConnectionState.CONN_CONNECTED);
    state(ConnectionState.CONN_RECONNECTING);
    vi.advanceTimersByTime(TIMEOUT_MS - 1);
    expect(seen).toEqual(['down']);
    vi.advanceTimersByTime(1);
    expect(seen).toEqual(['down', `lost ${TIMEOUT_MS}`]);
    vi.advanceTimersByTime(10 * TIMEOUT_MS);
    expect(seen).toHaveLength(2);
  });

  it('forgets a drop that came back in time, and times the next drop from its own start', () => {
    const { room, seen, state } = watched();
    state(ConnectionState.CONN_CONNECTED);
    // rtc-node emits both for one drop: the state change and the `reconnecting` event.
    state(ConnectionState.CONN_RECONNECTING);
    room.emit(RoomEvent.Reconnecting);
    vi.advanceTimersByTime(40_000);
    state(ConnectionState.CONN_CONNECTED);
    room.emit(RoomEvent.Reconnected);
    expect(seen).toEqual(['down', 'back 40000']);
    vi.advanceTimersByTime(40_000);
    room.emit(RoomEvent.Reconnecting);
    vi.advanceTimersByTime(TIMEOUT_MS - 1);
    expect(seen).toEqual(['down', 'back 40000', 'down']);
    vi.advanceTimersByTime(1);
    expect(seen.at(-1)).toBe(`lost ${TIMEOUT_MS}`);
  });

  it('does not count a room that was never connected, and leaves nothing behind once unwatched', () => {
    const { room, seen, unwatch, state } = watched();
    state(ConnectionState.CONN_DISCONNECTED);
    vi.advanceTimersByTime(10 * TIMEOUT_MS);
    expect(seen).toEqual([]);
    const events = [
      RoomEvent.ConnectionStateChanged,
      RoomEvent.Reconnecting,
      RoomEvent.Reconnected,
    ] as const;
    expect(events.map((e) => room.listenerCount(e))).toEqual([1, 1, 1]);
    state(ConnectionState.CONN_RECONNECTING);
    unwatch();
    expect(events.map((e) => room.listenerCount(e))).toEqual([0, 0, 0]);
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(10 * TIMEOUT_MS);
    expect(seen).toEqual(['down']);
  });
});
