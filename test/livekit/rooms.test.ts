import { randomBytes } from 'node:crypto';
import { RoomAgentDispatch, RoomConfiguration } from '@livekit/protocol';
import { AgentDispatchClient } from 'livekit-server-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DevWorker } from '../support/dev-worker.js';
import { readServerLog } from '../support/livekit/livekit-server.js';
import { sharedLivekit } from '../support/livekit/provided.js';
import { expectConversation, expectVoice, heardAgent, inRoom, sessionEnded } from '../support/livekit/room-expectations.js';
import { ROOM_AGENT, startLivekitWorker } from '../support/livekit/worker.js';
import { startCallers, type CallerProcess } from '../support/media/callers.js';

/**
 * `openrtc start` against a real LiveKit server: LiveKit's own dispatch starts the sessions, each
 * agent joins its room as a participant, and audio flows both ways over WebRTC and Opus, per
 * tenant. Callers run in their own process, with their own rtc-node.
 */
const lk = sharedLivekit();
const ACME_HZ = 440;
const GLOBEX_HZ = 660;

describe.skipIf(!lk)('openrtc start on a real LiveKit server', () => {
  const server = lk!.server;
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
    expect(registered).toMatchObject({ agent_name: ROOM_AGENT, worker_id: expect.stringMatching(/^AW_/) });
    expect(readServerLog(server)).toMatch(new RegExp(`worker registered.*"agentName": "${ROOM_AGENT}".*"workerID": "${String(registered.worker_id)}"`));
  });

  it('serves two tenants at once, each dispatched its own way, each hearing only its own voice', async () => {
    const tag = randomBytes(3).toString('hex');
    const acmeRoom = `acme-${tag}`;
    const globexRoom = `globex-${tag}`;

    // acme: explicit dispatch through the server API, with the tenant in the metadata.
    const api = new AgentDispatchClient(server.httpUrl, server.apiKey, server.apiSecret);
    const dispatch = await api.createDispatch(acmeRoom, ROOM_AGENT, { metadata: JSON.stringify({ tenant: 'acme' }) });
    expect(dispatch.agentName).toBe(ROOM_AGENT);

    // globex: the room is created by its caller joining, with the agent in its RoomConfiguration.
    const roomConfig = new RoomConfiguration({ agents: [new RoomAgentDispatch({ agentName: ROOM_AGENT, metadata: JSON.stringify({ tenant: 'globex' }) })] });
    const voices = { voicesHz: [ACME_HZ, GLOBEX_HZ] };
    callers.push(await startCallers(server, [{ room: acmeRoom, markerHz: 2_000 }], voices));
    callers.push(await startCallers(server, [{ room: globexRoom, markerHz: 2_600, roomConfig }], voices));
    const [acmeCaller, globexCaller] = callers as [CallerProcess, CallerProcess];

    const started = await worker.waitForLog(inRoom(acmeRoom, 'session started'));
    expect(started).toMatchObject({ tenant: 'acme', agent: ROOM_AGENT, local: false });
    const startedGlobex = await worker.waitForLog(inRoom(globexRoom, 'session started'));
    expect(startedGlobex.tenant).toBe('globex');

    // Each session heard its own caller (by marker tone) speak, and answered.
    await expectConversation(worker, acmeRoom, 'acme', 2_000);
    await expectConversation(worker, globexRoom, 'globex', 2_600);

    // Each caller sees the agent as a participant tagged with its tenant, and hears its voice.
    const acme = await heardAgent(acmeCaller, acmeRoom);
    expect(acme.agents).toEqual([
      { identity: `agent-${String(started.job_id)}`, attributes: expect.objectContaining({ tenant: 'acme', 'lk.agent.name': ROOM_AGENT }) },
    ]);
    expectVoice(acme, ACME_HZ, [GLOBEX_HZ]);
    const globex = await heardAgent(globexCaller, globexRoom);
    expect(globex.agents).toEqual([{ identity: expect.stringMatching(/^agent-AJ_/), attributes: expect.objectContaining({ tenant: 'globex' }) }]);
    expectVoice(globex, GLOBEX_HZ, [ACME_HZ]);

    // Hanging up ends each session cleanly.
    await Promise.all(callers.splice(0).map((c) => c.hangUp()));
    for (const session of [started, startedGlobex]) {
      const ended = await sessionEnded(worker, session.session_id);
      expect(ended).toMatchObject({ outcome: 'success', reason: 'session_closed' });
      // The worker reports the end before its agent leaves the room, so LiveKit records a success,
      // not "agent worker left the room".
      await expect
        .poll(() => readServerLog(server).split('\n').find((l) => l.includes('job ended') && l.includes(String(session.job_id))), { timeout: 10_000 })
        .toMatch(/"status": "JS_SUCCESS", "error": ""/);
    }
  }, 150_000);
});
