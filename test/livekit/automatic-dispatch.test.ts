import { randomBytes } from 'node:crypto';
import { RoomServiceClient } from 'livekit-server-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DevWorker } from '../support/dev-worker.js';
import { startLivekitServer, type LivekitServer } from '../support/livekit/livekit-server.js';
import { sharedLivekit } from '../support/livekit/provided.js';
import { inRoom, sessionEnded } from '../support/livekit/room-expectations.js';
import { startLivekitWorker, untilRoutable } from '../support/livekit/worker.js';
import { startCallers, type CallerProcess } from '../support/media/callers.js';

/**
 * `agents: { '': … }`: the agent registers with an empty name, and LiveKit sends it every new
 * room that names no agent, with no dispatch at all. Such a job carries no metadata of its own,
 * so the tenant comes from the room's metadata, else the dialed number in it, else the default.
 *
 * Its own server: on the shared one, this worker would be sent every room the other files create.
 */
const lk = sharedLivekit();

describe.skipIf(!lk)('automatic dispatch on a real LiveKit server', () => {
  let server: LivekitServer;
  let worker: DevWorker;
  const callers: CallerProcess[] = [];

  beforeAll(async () => {
    server = await startLivekitServer({ binary: lk!.binary });
    worker = await startLivekitWorker(server, { OPENRTC_TEST_AGENT: '' });
  }, 90_000);
  afterAll(async () => {
    await Promise.all(callers.map((c) => c.hangUp()));
    await worker?.stop();
    await server?.stop();
  });

  it('joins every new room with no dispatch, and takes the tenant from the room, the number in it, or the default', async () => {
    const registered = await worker.waitForLog((r) => r.msg === 'registered with LiveKit');
    expect(registered.agent_name).toBe('');
    const tag = randomBytes(3).toString('hex');
    const rooms = new RoomServiceClient(server.httpUrl, server.apiKey, server.apiSecret);
    const byTenant = `auto-tenant-${tag}`;
    const byNumber = `auto-number-${tag}`;
    const byCaller = `auto-caller-${tag}`;

    // Rooms made through the server API, their metadata set by whoever made them.
    await untilRoutable(worker);
    await rooms.createRoom({ name: byTenant, metadata: JSON.stringify({ tenant: 'acme' }) });
    await untilRoutable(worker);
    await rooms.createRoom({
      name: byNumber,
      metadata: JSON.stringify({ dialed_number: '+15550100' }),
    });
    // A room made by its first caller joining: no metadata at all.
    await untilRoutable(worker);
    callers.push(await startCallers(server, [{ room: byCaller, speak: false }]));

    const expected = [
      [byTenant, 'acme'],
      [byNumber, 'globex'],
      [byCaller, 'default'],
    ] as const;
    const started = [];
    for (const [room, tenant] of expected) {
      const session = await worker.waitForLog(inRoom(room, 'session started'));
      expect(session, room).toMatchObject({ tenant, agent: '', local: false });
      started.push(session);
      const joined = await worker.waitForLog(inRoom(room, 'agent in room'));
      expect(joined, room).toMatchObject({
        tenant,
        attributes: expect.objectContaining({ tenant }),
      });
    }
    // One job per room: LiveKit dispatched each room once.
    for (const [room] of expected)
      expect(worker.logRecords().filter(inRoom(room, 'session started'))).toHaveLength(1);

    await Promise.all(callers.splice(0).map((c) => c.hangUp()));
    await Promise.all([byTenant, byNumber, byCaller].map((name) => rooms.deleteRoom(name)));
    for (const s of started) {
      const ended = await sessionEnded(worker, s.session_id);
      const why = worker
        .logRecords()
        .filter((r) => r.session_id === s.session_id && Number(r.level) >= 40)
        .map((r) => JSON.stringify(r))
        .join('\n');
      expect(ended.outcome, `${JSON.stringify(ended)}\n${why}`).toBe('success');
    }
  }, 120_000);
});
