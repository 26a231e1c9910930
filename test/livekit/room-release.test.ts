// A room the server takes away (deleted while the agent is in it) must leave nothing on
// rtc-node's process-wide FFI client once its session is torn down.
import { randomBytes } from 'node:crypto';
import { defineAgent, type JobContext } from '@livekit/agents';
import { Job, Room as RoomModel } from '@livekit/protocol';
import { AccessToken, RoomServiceClient } from 'livekit-server-sdk';
import { afterAll, describe, expect, it } from 'vitest';
import { SessionRegistry } from '../../src/introspection/registry.js';
import { ffiListenerCount } from '../../src/session/room-release.js';
import { SessionHost } from '../../src/session/session-host.js';
import type { SessionEndedEvent } from '../../src/session/types.js';
import { memoryLogger, recordingReservation, waitEnded } from '../session/support.js';
import { sharedLivekit } from '../support/livekit/provided.js';

const lk = sharedLivekit();

const joined = new Map<string, () => void>();
const inRoom = defineAgent({
  entry: async (ctx: JobContext) => {
    await ctx.connect();
    joined.get(ctx.job.id)?.();
  },
});

describe.skipIf(!lk)('a room deleted while the agent is in it', () => {
  const server = lk!.server;
  const host = new SessionHost({
    agents: { 'in-room': inRoom },
    registry: new SessionRegistry(),
    logger: memoryLogger().logger,
    media: 'room',
  });
  afterAll(() => host.closeAll('test_cleanup'));

  async function joinAndDelete(): Promise<SessionEndedEvent> {
    const room = `release-${randomBytes(4).toString('hex')}`;
    const rooms = new RoomServiceClient(server.httpUrl, server.apiKey, server.apiSecret);
    const created = await rooms.createRoom({ name: room, emptyTimeout: 60 });
    const jobId = `job-${room}`;
    const at = new AccessToken(server.apiKey, server.apiSecret, { identity: `agent-${jobId}` });
    at.addGrant({ room, roomJoin: true, agent: true, canPublish: true, canSubscribe: true });
    const isUp = new Promise<void>((resolve) => joined.set(jobId, resolve));
    const ended = waitEnded(host, jobId, 30_000);
    await host.start({
      job: new Job({
        id: jobId,
        agentName: 'in-room',
        room: new RoomModel({ name: room, sid: created.sid }),
      }),
      url: server.url,
      token: await at.toJwt(),
      workerId: 'w',
      tenant: 'acme',
      reservation: recordingReservation(jobId, 'acme', 'in-room'),
      config: undefined,
    });
    await isUp;
    expect(ffiListenerCount()).toBeGreaterThan(0);
    await rooms.deleteRoom(room);
    return ended;
  }

  it('ends the session and takes its room off the FFI client, call after call', async () => {
    for (let i = 0; i < 2; i++) {
      const end = await joinAndDelete();
      expect(end.outcome).toMatchObject({ kind: 'success', reason: 'room_disconnected' });
      expect(ffiListenerCount()).toBe(0);
    }
  }, 60_000);
});
