// What agents-js's job APIs do when openrtc runs an unchanged agent in-process: the README's
// compatibility table points here, row by row.
import { Job, Room as RoomModel } from '@livekit/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SessionRegistry } from '../../src/introspection/registry.js';
import { routeFrameworkLogs } from '../../src/logging/framework-logger.js';
import { setProcessLogger } from '../../src/logging/process-logger.js';
import { SessionHost } from '../../src/session/session-host.js';
import type { SessionEndedEvent } from '../../src/session/types.js';
import compat, { prewarms } from '../fixtures/agents/compat-agent.js';
import { memoryLogger, recordingReservation, waitEnded, type MemoryLog } from './support.js';

let log: MemoryLog;
let host: SessionHost;
const ends: SessionEndedEvent[] = [];

function run(
  jobId: string,
  tenant: string,
  attributes: Record<string, string>,
): Promise<SessionEndedEvent> {
  const ended = waitEnded(host, jobId, 20_000);
  const job = new Job({
    id: jobId,
    agentName: 'compat',
    metadata: JSON.stringify({ order: jobId }),
    attributes,
    room: new RoomModel({ name: `room-${jobId}` }),
  });
  void host.start({
    job,
    url: '',
    token: '',
    workerId: 'w',
    tenant,
    reservation: recordingReservation(jobId, tenant, 'compat'),
    config: undefined,
  });
  return ended;
}

const linesOf = (end: SessionEndedEvent, msg: string) =>
  log.lines().filter((l) => l.session_id === end.sessionId && l.msg === msg);

beforeAll(async () => {
  log = memoryLogger();
  setProcessLogger(log.logger);
  routeFrameworkLogs(log.logger);
  host = new SessionHost({
    agents: { compat },
    registry: new SessionRegistry(),
    logger: log.logger,
  });
  ends.push(
    ...(await Promise.all([
      run('job-c1', 'acme', { caller: '+15550100' }),
      run('job-c2', 'globex', { caller: '+15550199' }),
    ])),
  );
}, 30_000);

afterAll(async () => {
  await host?.closeAll('test_cleanup');
});

describe('agents-js job APIs in-process', () => {
  it('prewarm runs once per worker, and JobProcess.userData is shared by every session of the agent', () => {
    expect(prewarms.count).toBe(1);
    const seen = ends.map((e) => linesOf(e, 'compat: userData')[0]);
    expect(new Set(seen.map((l) => l?.loaded_at)).size).toBe(1);
    expect(seen.map((l) => l?.sessions_seen).sort()).toEqual([1, 2]);
  });

  it('ctx.connect() resolves without media; ctx.waitForParticipant() says the room is not connected', () => {
    for (const end of ends) {
      expect(linesOf(end, 'compat: connect')).toHaveLength(1);
      expect(linesOf(end, 'compat: waitForParticipant failed')[0]?.error).toBe(
        'room is not connected',
      );
    }
  });

  it("the job's attributes and metadata reach the agent as dispatched", () => {
    const [acme, globex] = ends;
    expect(linesOf(acme!, 'compat: job')[0]).toMatchObject({
      attributes: { caller: '+15550100' },
      metadata: '{"order":"job-c1"}',
    });
    expect(linesOf(globex!, 'compat: job')[0]).toMatchObject({
      attributes: { caller: '+15550199' },
      metadata: '{"order":"job-c2"}',
    });
  });

  it('ctx.shutdown(reason) ends the session with that reason, and addShutdownCallback callbacks run in its scope', () => {
    for (const end of ends) {
      expect(end.outcome).toEqual({ kind: 'success', reason: 'shutdown: compat done' });
      const callback = linesOf(end, 'compat: shutdown callback');
      expect(callback).toHaveLength(1);
      expect(callback[0]?.tenant_seen).toBe(callback[0]?.expected);
    }
  });

  it("session.on('metrics_collected') gets each session's own LLM metrics", () => {
    for (const end of ends) {
      const metrics = linesOf(end, 'compat: metrics');
      expect(metrics.map((m) => m.type)).toContain('llm_metrics');
    }
    // One turn each: no session saw the other's LLM metrics.
    const llm = log.lines().filter((l) => l.msg === 'compat: metrics' && l.type === 'llm_metrics');
    expect(llm).toHaveLength(2);
    expect(new Set(llm.map((l) => l.session_id)).size).toBe(2);
  });
});
