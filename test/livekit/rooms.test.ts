import { randomBytes } from 'node:crypto';
import { RoomAgentDispatch, RoomConfiguration } from '@livekit/protocol';
import { AgentDispatchClient } from 'livekit-server-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DevWorker } from '../support/dev-worker.js';
import { readServerLog, type LivekitServerInfo } from '../support/livekit/livekit-server.js';
import { sharedLivekit } from '../support/livekit/provided.js';
import {
  expectConversation,
  expectVoice,
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
import { runCli } from '../support/run-cli.js';

/**
 * `openrtc start` against a real LiveKit server: LiveKit's own dispatch starts the sessions, each
 * agent joins its room as a participant, and audio flows both ways over WebRTC and Opus, per
 * tenant. Callers run in their own process, with their own rtc-node.
 */
const lk = sharedLivekit();
const ACME_HZ = 440;
const GLOBEX_HZ = 660;

describe.skipIf(!lk)('openrtc start on a real LiveKit server', () => {
  // Read in the suite body, which runs even when the suite is skipped: unset only then.
  const server = lk?.server as LivekitServerInfo;
  let worker: DevWorker;
  const callers: CallerProcess[] = [];

  beforeAll(async () => {
    worker = await startLivekitWorker(server);
  }, 90_000);
  afterAll(async () => {
    await Promise.all(callers.map((c) => c.hangUp()));
    await worker?.stop();
  });

  it('registers its agent with the server', async () => {
    const registered = await worker.waitForLog((r) => r.msg === 'registered with LiveKit');
    expect(registered).toMatchObject({
      agent_name: ROOM_AGENT,
      worker_id: expect.stringMatching(/^AW_/),
    });
    expect(readServerLog(server)).toMatch(
      new RegExp(
        `worker registered.*"agentName": "${ROOM_AGENT}".*"workerID": "${String(registered.worker_id)}"`,
      ),
    );
  });

  it('serves two tenants at once, each dispatched its own way, each hearing only its own voice', async () => {
    const tag = randomBytes(3).toString('hex');
    const acmeRoom = `acme-${tag}`;
    const globexRoom = `globex-${tag}`;

    // acme: explicit dispatch through the server API, with the tenant in the metadata.
    await untilRoutable(worker);
    const api = new AgentDispatchClient(server.httpUrl, server.apiKey, server.apiSecret);
    const dispatch = await api.createDispatch(acmeRoom, ROOM_AGENT, {
      metadata: JSON.stringify({ tenant: 'acme' }),
    });
    expect(dispatch.agentName).toBe(ROOM_AGENT);

    // globex: the room is created by its caller joining, with the agent in its RoomConfiguration.
    const roomConfig = new RoomConfiguration({
      agents: [
        new RoomAgentDispatch({
          agentName: ROOM_AGENT,
          metadata: JSON.stringify({ tenant: 'globex' }),
        }),
      ],
    });
    const voices = { voicesHz: [ACME_HZ, GLOBEX_HZ] };
    // A pause after each phrase long enough for an answer even on a busy machine.
    // The agent is in acme's room before its caller joins, so the caller's arrival is a room event.
    await worker.waitForLog(inRoom(acmeRoom, 'agent in room'));
    callers.push(
      await startCallers(
        server,
        [
          {
            room: acmeRoom,
            markerHz: 2_000,
            pauseMs: 5_000,
            attributes: { 'caller.account': 'acme-4711' },
          },
        ],
        voices,
      ),
    );
    await untilRoutable(worker);
    callers.push(
      await startCallers(
        server,
        [{ room: globexRoom, markerHz: 2_600, pauseMs: 5_000, roomConfig }],
        voices,
      ),
    );
    const [acmeCaller, globexCaller] = callers as [CallerProcess, CallerProcess];

    const started = await worker.waitForLog(inRoom(acmeRoom, 'session started'));
    expect(started).toMatchObject({ tenant: 'acme', agent: ROOM_AGENT, local: false });
    const startedGlobex = await worker
      .waitForLog(inRoom(globexRoom, 'session started'))
      .catch((err: unknown) => {
        const said = readServerLog(server)
          .split('\n')
          .filter((l) => l.includes(globexRoom));
        throw new Error(`${String(err)}\nthe server about ${globexRoom}:\n${said.join('\n')}`);
      });
    expect(startedGlobex.tenant).toBe('globex');

    // Each session heard its own caller (by marker tone) speak, and answered.
    await expectConversation(worker, acmeRoom, 'acme', 2_000);
    await expectConversation(worker, globexRoom, 'globex', 2_600);

    // Each caller sees the agent as a participant tagged with its tenant, and hears its voice.
    const acme = await heardAgent(acmeCaller, acmeRoom);
    expect(acme.agents).toEqual([
      {
        identity: `agent-${String(started.job_id)}`,
        attributes: expect.objectContaining({ tenant: 'acme', 'lk.agent.name': ROOM_AGENT }),
      },
    ]);
    expectVoice(acme, ACME_HZ, [GLOBEX_HZ]);
    const globex = await heardAgent(globexCaller, globexRoom);
    expect(globex.agents).toEqual([
      {
        identity: expect.stringMatching(/^agent-AJ_/),
        attributes: expect.objectContaining({ tenant: 'globex' }),
      },
    ]);
    expectVoice(globex, GLOBEX_HZ, [ACME_HZ]);

    // ctx.waitForParticipant() resolves with the caller, whose attributes the agent sees.
    const arrived = await worker.waitForLog(inRoom(acmeRoom, 'participant arrived'));
    expect(arrived).toMatchObject({
      session_id: started.session_id,
      identity: `caller-${acmeRoom}`,
      attributes: { 'caller.account': 'acme-4711' },
    });
    expect((await worker.waitForLog(inRoom(globexRoom, 'participant arrived'))).identity).toBe(
      `caller-${globexRoom}`,
    );
    // ctx.room events reach the agent's own handlers: the caller joining, its microphone.
    expect(
      await worker.waitForLog(inRoom(acmeRoom, 'room event: participant connected')),
    ).toMatchObject({ session_id: started.session_id, identity: `caller-${acmeRoom}` });
    expect(await worker.waitForLog(inRoom(acmeRoom, 'room event: track subscribed'))).toMatchObject(
      { identity: `caller-${acmeRoom}`, kind: 'audio' },
    );

    // Hanging up ends each session cleanly.
    await Promise.all(callers.splice(0).map((c) => c.hangUp()));
    expect(
      await worker.waitForLog(inRoom(acmeRoom, 'room event: participant disconnected')),
    ).toMatchObject({ session_id: started.session_id, identity: `caller-${acmeRoom}` });
    // Each session's room events are its own room's, and name only its own caller.
    for (const [session, room] of [
      [started, acmeRoom],
      [startedGlobex, globexRoom],
    ] as const) {
      const events = worker
        .logRecords()
        .filter((r) => r.session_id === session.session_id && /^room event/.test(String(r.msg)));
      expect(events.length).toBeGreaterThan(0);
      const seen = events.map(
        (e) => `${String(e.msg)} in ${String(e.room)} by ${String(e.identity)}`,
      );
      expect(seen, seen.join('\n')).toEqual(
        events.map((e) => `${String(e.msg)} in ${room} by caller-${room}`),
      );
    }
    for (const session of [started, startedGlobex]) {
      const ended = await sessionEnded(worker, session.session_id);
      expect(ended).toMatchObject({ outcome: 'success', reason: 'session_closed' });
      // The worker reports the end before its agent leaves the room, so LiveKit records a success,
      // not "agent worker left the room".
      await expect
        .poll(
          () =>
            readServerLog(server)
              .split('\n')
              .find((l) => l.includes('job ended') && l.includes(String(session.job_id))),
          { timeout: 10_000 },
        )
        .toMatch(/"status": "JS_SUCCESS", "error": ""/);
    }
  }, 150_000);

  /** Worker log lines about rejected jobs so far. */
  const rejections = () =>
    worker.logRecords().filter((r) => String(r.msg).startsWith('rejected job: '));
  const snapshot = () => workerSnapshot(worker);

  it('plays background audio (voice.BackgroundAudioPlayer) into the room, heard by the caller', async () => {
    const room = `background-${randomBytes(3).toString('hex')}`;
    const BACKGROUND_HZ = 1_200;
    await untilRoutable(worker);
    await new AgentDispatchClient(server.httpUrl, server.apiKey, server.apiSecret).createDispatch(
      room,
      ROOM_AGENT,
      { metadata: JSON.stringify({ tenant: 'acme', background_hz: BACKGROUND_HZ }) },
    );
    await worker.waitForLog(inRoom(room, 'background audio playing'));
    // A caller who only listens: nothing asks the agent to speak, so what it hears is the player.
    const caller = await startCallers(server, [{ room, speak: false }], {
      voicesHz: [BACKGROUND_HZ, ACME_HZ],
    });
    callers.push(caller);
    const heard = await heardAgent(caller, room);
    expect(Math.abs((heard.dominantHz ?? 0) - BACKGROUND_HZ)).toBeLessThanOrEqual(3);
    expect(heard.voiceShares?.[String(BACKGROUND_HZ)]).toBeGreaterThan(0.3);
    const started = await worker.waitForLog(inRoom(room, 'session started'));
    callers.splice(callers.indexOf(caller), 1);
    await caller.hangUp();
    // The player closes with the session, which ends cleanly, not by a timeout: the caller's
    // leaving closes it, or LiveKit's termination of the job in the emptied room comes first.
    const ended = await sessionEnded(worker, started.session_id);
    expect(ended.outcome).toBe('success');
    expect(['session_closed', 'terminated']).toContain(ended.reason);
  }, 90_000);

  it('rejects a tenant at its cap and a malformed tenant; LiveKit drops the job: no retry, no job, no session', async () => {
    const tag = randomBytes(3).toString('hex');
    const api = new AgentDispatchClient(server.httpUrl, server.apiKey, server.apiSecret);
    const held = `capped-held-${tag}`;
    const over = `capped-over-${tag}`;
    const malformed = `malformed-${tag}`;

    // `capped` holds one session at a time: this one fills it.
    await untilRoutable(worker);
    const heldDispatch = await api.createDispatch(held, ROOM_AGENT, {
      metadata: JSON.stringify({ tenant: 'capped' }),
    });
    await worker.waitForLog(inRoom(held, 'agent in room'));

    const before = rejections().length;
    await untilRoutable(worker);
    const serverLogFrom = readServerLog(server).length;
    const overDispatch = await api.createDispatch(over, ROOM_AGENT, {
      metadata: JSON.stringify({ tenant: 'capped' }),
    });
    await expect.poll(() => rejections().length, { timeout: 15_000 }).toBe(before + 1);
    await untilRoutable(worker);
    const malformedDispatch = await api.createDispatch(malformed, ROOM_AGENT, {
      metadata: JSON.stringify({ tenant: 'bad tenant!' }),
    });
    await expect.poll(() => rejections().length, { timeout: 15_000 }).toBe(before + 2);
    expect(
      rejections()
        .slice(before)
        .map((r) => r.reason),
    ).toEqual(['tenant_capacity', 'invalid_tenant']);

    // The server's lines about this file's worker's jobs: other files' workers share the server.
    const serverSaid = () =>
      readServerLog(server)
        .slice(serverLogFrom)
        .split('\n')
        .filter((l) => l.includes(`"agentName": "${ROOM_AGENT}"`))
        .join('\n');
    // What LiveKit does with a job its only worker rejected: it tries the other workers for the
    // agent (there are none), gives up, and keeps the dispatch with no job at all.
    await expect
      .poll(
        () =>
          serverSaid()
            .split('\n')
            .filter((l) => l.includes('no worker available to handle job')).length,
        { timeout: 15_000 },
      )
      .toBe(2);
    expect(serverSaid()).toMatch(
      /failed to assign job to worker.*"retry": true, "error": "worker not available"/,
    );
    expect(serverSaid()).toMatch(
      /no worker available to handle job.*"error": "no workers with sufficient capacity"/,
    );

    // Freeing the cap does not bring the job back: LiveKit never offers it again.
    await api.deleteDispatch(heldDispatch.id, held);
    const heldStarted = await worker.waitForLog(inRoom(held, 'session started'));
    await sessionEnded(worker, heldStarted.session_id);
    await new Promise((r) => setTimeout(r, 3_000));
    expect(rejections()).toHaveLength(before + 2);
    for (const [room, d] of [
      [over, overDispatch],
      [malformed, malformedDispatch],
    ] as const) {
      // (LiveKit also lists the room's default dispatch, with no agent name.)
      const listed = (await api.listDispatch(room)).find((x) => x.id === d.id);
      expect(listed?.agentName).toBe(ROOM_AGENT);
      expect(listed?.state?.jobs ?? []).toEqual([]);
      // No session ever ran for it.
      expect(worker.logRecords().filter((r) => r.room === room)).toEqual([]);
    }

    // The worker's counters say the same.
    const snap = await snapshot();
    expect(snap.tenants.find((t) => t.tenant === 'capped')).toMatchObject({
      accepted: 1,
      succeeded: 1,
      rejected: { tenant_capacity: 1 },
      active: 0,
    });
    expect(snap.worker.totals.rejected).toMatchObject({ tenant_capacity: 1, invalid_tenant: 1 });
  }, 120_000);

  it('openrtc dispatch works against the server as the README shows', async () => {
    await untilRoutable(worker);
    const accepted = await runCli(
      ['dispatch', '--agent', ROOM_AGENT, '--tenant', 'acme', '--count', '2'],
      worker.env,
    );
    expect(accepted.code, accepted.stderr).toBe(0);
    expect(accepted.stdout).toMatch(/^#1 room=openrtc-[0-9a-f]{6}-1 accepted job AJ_\w+$/m);
    expect(accepted.stdout).toContain('2/2 accepted');
    const rooms = [...accepted.stdout.matchAll(/room=(\S+) accepted/g)].map((m) => m[1]!);
    for (const room of rooms)
      expect((await worker.waitForLog(inRoom(room, 'agent in room'))).tenant).toBe('acme');

    await untilRoutable(worker);
    const rejected = await runCli(
      ['dispatch', '--agent', ROOM_AGENT, '--tenant', 'bad tenant!', '--wait', '3'],
      worker.env,
    );
    // Not every job was accepted: a script must see it.
    expect(rejected.code, rejected.stderr).toBe(1);
    expect(rejected.stdout).toMatch(/#1 room=\S+ unassigned no worker took the job within 3000 ms/);
    expect(rejected.stdout).toContain('0/1 accepted');
  }, 90_000);
});
