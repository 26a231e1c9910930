import { randomBytes } from 'node:crypto';
import { AgentDispatchClient } from 'livekit-server-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SnapshotV1 } from '../../src/introspection/snapshot-schema.js';
import type { DevWorker } from '../support/dev-worker.js';
import { readServerLog } from '../support/livekit/livekit-server.js';
import { sharedLivekit } from '../support/livekit/provided.js';
import { expectConversation, expectVoice, heardAgent, inRoom, sessionEnded } from '../support/livekit/room-expectations.js';
import { ROOM_AGENT, startLivekitWorker } from '../support/livekit/worker.js';
import { startCallers, type CallerProcess } from '../support/media/callers.js';
import { runCli } from '../support/run-cli.js';

/**
 * Twenty real rooms at once, all hosted by one worker process: each room its own tenant with its
 * own voice, each caller with its own marker tone. Every session must hear its own caller and
 * every caller its own agent, with nothing of any other room's audio. Callers talk until they are
 * answered, then listen, and leave the agent time to answer between phrases: twenty rooms talking
 * without pause need more than this machine's two cores (the benchmark measures that), and a
 * slowed session must not keep being interrupted by its caller's next phrase.
 */
const lk = sharedLivekit();
const ROOMS = 20;
/** Callers are spread over a few processes, each with its own rtc-node, none of them the worker. */
const CALLER_PROCESSES = 4;

describe.skipIf(!lk)('20 rooms in one worker process', () => {
  const server = lk!.server;
  let worker: DevWorker;
  const processes: CallerProcess[] = [];

  beforeAll(async () => {
    worker = await startLivekitWorker(server);
  }, 90_000);
  afterAll(async () => {
    await Promise.all(processes.map((p) => p.hangUp()));
    await worker?.stop();
  });

  it('hosts 20 talking rooms with no audio crossing between them, and ends them all cleanly', async () => {
    const tag = randomBytes(3).toString('hex');
    const rooms = Array.from({ length: ROOMS }, (_, i) => ({
      room: `many-${tag}-${i}`,
      voiceHz: 300 + 40 * i,
      markerHz: 1_600 + 90 * i,
    }));
    const voices = rooms.map((r) => r.voiceHz);
    const api = new AgentDispatchClient(server.httpUrl, server.apiKey, server.apiSecret);
    await Promise.all(rooms.map((r) => api.createDispatch(r.room, ROOM_AGENT, { metadata: JSON.stringify({ tenant: `voice-${r.voiceHz}` }) })));

    const perProcess = Math.ceil(ROOMS / CALLER_PROCESSES);
    for (let p = 0; p < CALLER_PROCESSES; p++) {
      const mine = rooms.slice(p * perProcess, (p + 1) * perProcess).map((r) => ({ room: r.room, markerHz: r.markerHz, untilAnswered: true, pauseMs: 8_000 }));
      processes.push(await startCallers(server, mine, { voicesHz: voices }));
    }

    const started = await Promise.all(rooms.map((r) => worker.waitForLog(inRoom(r.room, 'session started'), 120_000)));
    // One worker process hosts them all.
    expect(new Set(started.map((s) => s.pid))).toEqual(new Set([worker.child.pid]));

    // Twenty rooms load two cores past real time at first; the waits are on what happens, not when.
    await Promise.all(rooms.map((r) => expectConversation(worker, r.room, `voice-${r.voiceHz}`, r.markerHz, 240_000)));
    for (const [i, r] of rooms.entries()) {
      const report = await heardAgent(processes[Math.floor(i / perProcess)]!, r.room, 25, 120_000);
      expectVoice(report, r.voiceHz, voices.filter((v) => v !== r.voiceHz));
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
    for (const e of ended) expect(e).toMatchObject({ outcome: 'success', reason: 'session_closed' });

    const top = await runCli(['top', '--json'], worker.env);
    const snapshot = SnapshotV1.parse(JSON.parse(top.stdout));
    expect(snapshot.sessions).toEqual([]);
    expect(snapshot.worker.active).toBe(0);
    expect(snapshot.worker.reserved).toBe(0);
    for (const r of rooms) {
      expect(snapshot.tenants.find((t) => t.tenant === `voice-${r.voiceHz}`)).toMatchObject({ accepted: 1, succeeded: 1, failed: 0 });
    }
    await expect
      .poll(() => readServerLog(server).split('\n').filter((l) => l.includes('job ended') && started.some((s) => l.includes(String(s.job_id)))), { timeout: 15_000 })
      .toHaveLength(ROOMS);
    const endings = readServerLog(server).split('\n').filter((l) => l.includes('job ended') && started.some((s) => l.includes(String(s.job_id))));
    for (const line of endings) expect(line).toMatch(/"status": "JS_SUCCESS"/);
  }, 480_000);
});
