import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { AgentDispatchClient, RoomServiceClient } from 'livekit-server-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DevWorker } from '../support/dev-worker.js';
import {
  readServerLog,
  startLivekitServer,
  type LivekitServer,
} from '../support/livekit/livekit-server.js';
import { sharedLivekit } from '../support/livekit/provided.js';
import {
  expectConversation,
  heardAgent,
  inRoom,
  sessionEnded,
} from '../support/livekit/room-expectations.js';
import {
  ROOM_AGENT,
  startLivekitWorker,
  untilRoutable,
  workerSnapshot,
} from '../support/livekit/worker.js';
import { startCallers, type CallerProcess } from '../support/media/callers.js';

/**
 * A worker's life beside a real server: the server crashes and comes back on the same port, then
 * the worker is drained with calls in progress. This file runs its own server, since it kills it.
 */
const lk = sharedLivekit();
const ROOM_RECONNECT_MS = 20_000;

describe.skipIf(!lk)('a worker through a server crash and a drain', () => {
  let server: LivekitServer;
  let worker: DevWorker;
  let api: AgentDispatchClient;
  const callers: CallerProcess[] = [];
  const tag = randomBytes(3).toString('hex');

  beforeAll(async () => {
    server = await startLivekitServer({ binary: lk!.binary });
    api = new AgentDispatchClient(server.httpUrl, server.apiKey, server.apiSecret);
    // Long enough that drained calls end because their callers hang up, not by the timeout; a
    // room that never reconnects after the crash ends its session after 20 s.
    worker = await startLivekitWorker(server, {
      OPENRTC_TEST_DRAIN_MS: '60000',
      OPENRTC_TEST_ROOM_RECONNECT_MS: String(ROOM_RECONNECT_MS),
    });
  }, 90_000);
  afterAll(async () => {
    await Promise.all(callers.map((c) => c.hangUp()));
    await worker?.stop();
    await server?.stop();
  });

  async function call(
    room: string,
    tenant: string,
    markerHz: number,
  ): Promise<{ caller: CallerProcess; started: Record<string, unknown> }> {
    await untilRoutable(worker);
    await api.createDispatch(room, ROOM_AGENT, { metadata: JSON.stringify({ tenant }) });
    // The caller asks until answered, then listens: the call stays up, and the worker's measured
    // load stays under the 0.7 above which LiveKit sends it no more jobs.
    const caller = await startCallers(
      server,
      [{ room, markerHz, pauseMs: 5_000, untilAnswered: true }],
      { voicesHz: [440, 660] },
    );
    callers.push(caller);
    const started = await worker.waitForLog(inRoom(room, 'session started'));
    await expectConversation(worker, room, tenant, markerHz);
    await heardAgent(caller, room);
    return { caller, started };
  }

  it('reconnects and registers again after the server is killed and restarted on the same port, and says what became of the live sessions', async () => {
    const before = `before-crash-${tag}`;
    const { started } = await call(before, 'acme', 2_000);
    const firstRegistration = await worker.waitForLog((r) => r.msg === 'registered with LiveKit');

    await server.kill();
    const lost = await worker.waitForLog((r) =>
      String(r.msg).startsWith('lost the LiveKit connection'),
    );
    expect(lost).toMatchObject({ live_sessions: 1, job_ids: [started.job_id] });
    await server.restart();

    const again = await worker.waitForLog(
      (r) => String(r.msg).startsWith('registered with LiveKit again'),
      60_000,
    );
    expect(again.worker_id).not.toBe(firstRegistration.worker_id);
    // The session live at the crash is accounted for: still running, or ended and how.
    const ended = again.sessions_ended as Record<string, string>;
    const still = again.sessions_still_running as string[];
    expect([...still, ...Object.keys(ended)]).toEqual([started.job_id]);
    expect(readServerLog(server)).toMatch(
      new RegExp(`worker registered.*"workerID": "${String(again.worker_id)}"`),
    );

    // New jobs arrive and run as before.
    await call(`after-crash-${tag}`, 'globex', 2_600);

    // Whether the call live at the crash goes on depends on rtc-node rejoining the new server on
    // both ends. Once its caller has hung up and its room is deleted, its session ends and says
    // how. When the agent's rtc-node never rejoined, there is no room to delete: the session ends
    // by itself once its room has been reconnecting for roomReconnectTimeoutMs, as failed with
    // that reason, rather than staying for the worker's lifetime. The delete is repeated: one sent
    // while the agent is still rejoining finds no room.
    await callers.shift()!.hangUp();
    const rooms = new RoomServiceClient(server.httpUrl, server.apiKey, server.apiSecret);
    const ending = sessionEnded(worker, started.session_id, ROOM_RECONNECT_MS + 30_000);
    let over = false;
    void ending.then(
      () => (over = true),
      () => (over = true),
    );
    for (let tries = 0; !over && tries < 6; tries++) {
      await rooms.deleteRoom(before).catch(() => undefined);
      await Promise.race([ending.catch(() => undefined), sleep(5_000)]);
    }
    const end = await ending;
    if (end.reason === 'room_reconnect_timeout') {
      expect(end).toMatchObject({ outcome: 'success' });
      expect(String(end.error)).toMatch(/did not come back \(roomReconnectTimeoutMs 20000\)/);
      expect(
        worker
          .logRecords()
          .some(
            (r) =>
              r.session_id === started.session_id &&
              String(r.msg).startsWith('room connection lost; rtc-node is reconnecting'),
          ),
      ).toBe(true);
    }
    expect((await workerSnapshot(worker)).sessions.map((s) => s.sessionId)).not.toContain(
      started.session_id,
    );
  }, 180_000);

  it('drains on SIGTERM: live calls finish, the server sends it no new job, and it exits 0', async () => {
    // A fresh worker: a call left over from the crash above must not stand in the drain's way.
    await Promise.all(callers.splice(0).map((c) => c.hangUp()));
    worker.child.kill('SIGKILL');
    await worker.exited;
    worker = await startLivekitWorker(server, { OPENRTC_TEST_DRAIN_MS: '60000' });
    const live = [`drain-a-${tag}`, `drain-b-${tag}`];
    const startedLive = (
      await Promise.all(live.map((room, i) => call(room, 'acme', 2_000 + 300 * i)))
    ).map((c) => c.started);

    worker.child.kill('SIGTERM');
    await worker.waitForLog((r) => r.msg === 'draining');
    // Give the server the worker's WS_FULL status, then dispatch a new job: the server finds no
    // worker for it at all.
    const logFrom = readServerLog(server).length;
    await new Promise((r) => setTimeout(r, 1_000));
    const late = `drain-late-${tag}`;
    const lateDispatch = await api.createDispatch(late, ROOM_AGENT, {
      metadata: JSON.stringify({ tenant: 'acme' }),
    });
    await expect
      .poll(() => readServerLog(server).slice(logFrom), { timeout: 15_000 })
      .toMatch(
        new RegExp(
          `failed to send job request.*"no servers available.*"agentName": "${ROOM_AGENT}"`,
        ),
      );
    expect(
      (await api.listDispatch(late)).find((d) => d.id === lateDispatch.id)?.state?.jobs ?? [],
    ).toEqual([]);
    // The worker was never even asked.
    expect(
      worker
        .logRecords()
        .filter((r) => r.room === late || String(r.msg).startsWith('rejected job')),
    ).toEqual([]);

    // The live calls are still up, and finish when their callers hang up.
    for (const s of startedLive)
      expect(
        worker
          .logRecords()
          .some(
            (r) => r.session_id === s.session_id && /^session (ended|failed)/.test(String(r.msg)),
          ),
      ).toBe(false);
    await Promise.all(callers.splice(0).map((c) => c.hangUp()));
    for (const s of startedLive)
      expect(await sessionEnded(worker, s.session_id)).toMatchObject({
        outcome: 'success',
        reason: 'session_closed',
      });
    expect(await worker.exited).toBe(0);
    expect(worker.logRecords().some((r) => r.msg === 'worker stopped')).toBe(true);
  }, 180_000);
});
