import { randomBytes } from 'node:crypto';
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

/**
 * Twenty real rooms at once, all hosted by one worker process: each room its own tenant with its
 * own voice, each caller with its own marker tone. Every session must hear its own caller and
 * every caller its own agent, with nothing of any other room's audio.
 *
 * All twenty rooms are up, with their callers in them listening, for the whole test. The callers
 * speak in waves of five, each caller until it is answered: twenty rooms talking at the same
 * moment need more than this machine's two shared cores (the real-room benchmark measures that),
 * and this test is about isolation, not capacity.
 */
const lk = sharedLivekit();
const ROOMS = 20;
const WAVE = 5;
/** Callers are spread over a few processes, each with its own rtc-node, none of them the worker. */
const CALLER_PROCESSES = 4;

describe.skipIf(!lk)('20 rooms in one worker process', () => {
  // Read in the suite body, which runs even when the suite is skipped: unset only then.
  const server = lk?.server as LivekitServerInfo;
  let worker: DevWorker;
  const processes: CallerProcess[] = [];

  beforeAll(async () => {
    worker = await startLivekitWorker(server);
  }, 90_000);
  afterAll(async () => {
    await Promise.all(processes.map((p) => p.hangUp()));
    await worker?.stop();
  });

  const snapshot = () => workerSnapshot(worker);

  it('hosts 20 rooms with no audio crossing between them, and ends them all cleanly', async () => {
    const tag = randomBytes(3).toString('hex');
    const rooms = Array.from({ length: ROOMS }, (_, i) => ({
      room: `many-${tag}-${i}`,
      voiceHz: 300 + 50 * i,
      markerHz: 1_600 + 90 * i,
      process: i % CALLER_PROCESSES,
    }));
    const voices = rooms.map((r) => r.voiceHz);
    const api = new AgentDispatchClient(server.httpUrl, server.apiKey, server.apiSecret);
    await untilRoutable(worker);
    await Promise.all(
      rooms.map((r) =>
        api.createDispatch(r.room, ROOM_AGENT, {
          metadata: JSON.stringify({ tenant: `voice-${r.voiceHz}` }),
        }),
      ),
    );
    processes.push(
      ...(await Promise.all(
        Array.from({ length: CALLER_PROCESSES }, (_, p) =>
          startCallers(
            server,
            rooms
              .filter((r) => r.process === p)
              .map((r) => ({
                room: r.room,
                markerHz: r.markerHz,
                speak: false,
                untilAnswered: true,
              })),
            { voicesHz: voices },
          ),
        ),
      )),
    );

    const started = await Promise.all(
      rooms.map((r) => worker.waitForLog(inRoom(r.room, 'session started'), 120_000)),
    );
    // One worker process hosts them all, all at once.
    expect(new Set(started.map((s) => s.pid))).toEqual(new Set([worker.child.pid]));
    await Promise.all(
      rooms.map((r) => worker.waitForLog(inRoom(r.room, 'agent in room'), 120_000)),
    );
    const endedSoFar = () =>
      worker
        .logRecords()
        .filter((r) => /^session (ended|failed)/.test(String(r.msg)))
        .map((r) => JSON.stringify(r))
        .join('\n');
    expect((await snapshot()).worker.active, endedSoFar()).toBe(ROOMS);

    for (let from = 0; from < ROOMS; from += WAVE) {
      const wave = rooms.slice(from, from + WAVE);
      for (const p of processes) p.speak(wave.map((r) => r.room));
      await Promise.all(
        wave.map((r) =>
          // The first wave meets twenty freshly started sessions still settling on two shared
          // cores: it is given longer.
          expectConversation(
            worker,
            r.room,
            `voice-${r.voiceHz}`,
            r.markerHz,
            from === 0 ? 240_000 : 120_000,
          ),
        ),
      );
      await Promise.all(wave.map((r) => heardAgent(processes[r.process]!, r.room, 25, 60_000)));
    }
    // Still twenty live sessions: nothing ended while the others talked.
    expect((await snapshot()).worker.active).toBe(ROOMS);

    // Each caller heard its own agent's voice, and not a trace of the nineteen others.
    const reports = (await Promise.all(processes.map((p) => p.report()))).flat();
    for (const r of rooms) {
      const report = reports.find((c) => c.room === r.room)!;
      expectVoice(
        report,
        r.voiceHz,
        voices.filter((v) => v !== r.voiceHz),
      );
      expect(report.agents).toHaveLength(1);
    }
    // Every marker any session heard was its own room's: none heard another caller, ever.
    const heard = worker.logRecords().filter((l) => l.msg === 'heard caller');
    for (const line of heard) {
      const room = rooms.find((r) => r.room === line.room);
      expect(room, `heard caller in ${String(line.room)}`).toBeDefined();
      expect(Math.abs(Number(line.marker_hz) - room!.markerHz)).toBeLessThanOrEqual(5);
    }

    await Promise.all(processes.splice(0).map((p) => p.hangUp()));
    const ended = await Promise.all(started.map((s) => sessionEnded(worker, s.session_id, 60_000)));
    for (const e of ended)
      expect(e).toMatchObject({ outcome: 'success', reason: 'session_closed' });

    const after = await snapshot();
    expect(after.sessions).toEqual([]);
    expect(after.worker.active).toBe(0);
    expect(after.worker.reserved).toBe(0);
    for (const r of rooms) {
      expect(after.tenants.find((t) => t.tenant === `voice-${r.voiceHz}`)).toMatchObject({
        accepted: 1,
        succeeded: 1,
        failed: 0,
      });
    }
    const endings = () =>
      readServerLog(server)
        .split('\n')
        .filter(
          (l) => l.includes('job ended') && started.some((s) => l.includes(String(s.job_id))),
        );
    await expect.poll(() => endings().length, { timeout: 15_000 }).toBe(ROOMS);
    for (const line of endings()) expect(line).toMatch(/"status": "JS_SUCCESS"/);
  }, 600_000);
});
