import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { voice } from '@livekit/agents';
import { SessionRegistry } from '../../src/introspection/registry.js';
import { setProcessLogger } from '../../src/logging/process-logger.js';
import { SessionHost } from '../../src/session/session-host.js';
import type { SessionEndedEvent, SessionStartedEvent } from '../../src/session/types.js';
import type { TenantConfig } from '../../src/tenancy/types.js';
import entryThrows from '../fixtures/agents/entry-throws-agent.js';
import hang from '../fixtures/agents/hang-agent.js';
import healthy, { prewarmCalls } from '../fixtures/agents/healthy-agent.js';
import longCall from '../fixtures/agents/long-call-agent.js';
import timerThrow from '../fixtures/agents/timer-throw-agent.js';
import unhandled from '../fixtures/agents/unhandled-rejection-agent.js';
import {
  detachRunnerErrorHandlers,
  localJob,
  memoryLogger,
  recordingReservation,
  waitEnded,
  type MemoryLog,
} from './support.js';

const agents = {
  healthy,
  'entry-throws': entryThrows,
  'timer-throw': timerThrow,
  unhandled,
  hang,
  'long-call': longCall,
};

const acmeConfig: TenantConfig = {
  llm: new voice.testing.FakeLLM([{ input: 'hello', content: 'acme says hi' }]),
  instructions: 'acme line',
};
const globexConfig: TenantConfig = {
  llm: new voice.testing.FakeLLM([{ input: 'hello', content: 'globex says hi' }]),
};

let log: MemoryLog;
let registry: SessionRegistry;
let host: SessionHost;
let restoreRunnerHandlers: () => void;
const started: SessionStartedEvent[] = [];
let nextJob = 0;

function startSession(
  agent: keyof typeof agents,
  tenant: string,
  config?: TenantConfig,
  metadata = '',
) {
  const jobId = `job-${++nextJob}`;
  const reservation = recordingReservation(jobId, tenant, agent);
  const ended = waitEnded(host, jobId);
  const starting = host.start({
    job: localJob(jobId, agent, metadata),
    url: '',
    token: '',
    workerId: 'w-test',
    tenant,
    reservation,
    config,
  });
  return { jobId, reservation, ended, starting };
}

beforeAll(() => {
  restoreRunnerHandlers = detachRunnerErrorHandlers();
});

afterAll(() => restoreRunnerHandlers());

function setup(grace = 300) {
  log = memoryLogger();
  setProcessLogger(log.logger);
  registry = new SessionRegistry();
  started.length = 0;
  host = new SessionHost({
    agents,
    registry,
    logger: log.logger,
    shutdownGraceMs: grace,
    onSessionStarted: (e) => started.push(e),
  });
}

afterEach(async () => {
  await host.closeAll('test_cleanup');
});

describe('SessionHost', () => {
  it('runs tenants side by side in one process, each with its own config, and tags their logs', async () => {
    setup();
    prewarmCalls.count = 0;
    await host.prewarmAll();
    const a = startSession('healthy', 'acme', acmeConfig);
    const g = startSession('healthy', 'globex', globexConfig);
    const d = startSession('healthy', 'default', undefined);
    await Promise.all([a.starting, g.starting, d.starting]);
    expect(registry.size).toBe(3);
    const [ea, eg, ed] = await Promise.all([a.ended, g.ended, d.ended]);

    for (const [e, tenant] of [
      [ea, 'acme'],
      [eg, 'globex'],
      [ed, 'default'],
    ] as [SessionEndedEvent, string][]) {
      expect(e.outcome).toEqual({ kind: 'success', reason: 'session_closed' });
      expect(e.tenant).toBe(tenant);
    }
    expect(prewarmCalls.count).toBe(1);
    for (const r of [a, g, d]) {
      expect(r.reservation.releases).toEqual([{ kind: 'success', reason: 'session_closed' }]);
      expect(r.reservation.startedCount).toBe(1);
    }
    expect(registry.size).toBe(0);
    expect(started.map((s) => s.tenant).sort()).toEqual(['acme', 'default', 'globex']);

    const replies = log.lines().filter((l) => l.msg === 'agent replied');
    const byTenant = Object.fromEntries(replies.map((l) => [l.tenant, l]));
    expect(byTenant.acme).toMatchObject({
      reply: 'acme says hi',
      tenant_seen: 'acme',
      agent: 'healthy',
      session_id: ea.sessionId,
    });
    expect(byTenant.globex).toMatchObject({
      reply: 'globex says hi',
      tenant_seen: 'globex',
      session_id: eg.sessionId,
    });
    expect(byTenant.default).toMatchObject({
      reply: 'default reply',
      tenant_seen: 'default',
      session_id: ed.sessionId,
    });
    const endLines = log.lines().filter((l) => l.msg === 'session ended: session_closed');
    expect(endLines.map((l) => l.tenant).sort()).toEqual(['acme', 'default', 'globex']);
  });

  it('fails a session whose entry throws and leaves its sibling untouched', async () => {
    setup();
    const sibling = startSession('healthy', 'acme', acmeConfig, JSON.stringify({ hold_ms: 300 }));
    const bad = startSession('entry-throws', 'flaky');
    const e = await bad.ended;
    expect(e.outcome).toEqual({ kind: 'failed', reason: 'entry_error' });
    expect(e.error).toBe('Error: entry exploded');
    expect(bad.reservation.releases).toEqual([{ kind: 'failed', reason: 'entry_error' }]);
    expect(registry.list().map((r) => r.tenant)).toEqual(['acme']);
    expect((await sibling.ended).outcome).toEqual({ kind: 'success', reason: 'session_closed' });
    expect(sibling.reservation.releases).toHaveLength(1);
  });

  it('routes a synchronous throw in a session timer to that session only', async () => {
    setup();
    const sibling = startSession('healthy', 'acme', acmeConfig, JSON.stringify({ hold_ms: 400 }));
    const bad = startSession('timer-throw', 'flaky');
    const e = await bad.ended;
    expect(e.outcome).toEqual({ kind: 'failed', reason: 'uncaught_exception' });
    expect(e.error).toBe('Error: timer exploded');
    expect(bad.reservation.releases).toEqual([{ kind: 'failed', reason: 'uncaught_exception' }]);
    expect(registry.list().map((r) => r.tenant)).toEqual(['acme']);
    expect((await sibling.ended).outcome.kind).toBe('success');
    const failLine = log.lines().find((l) => l.msg === 'session failed: uncaught_exception');
    expect(failLine).toMatchObject({
      tenant: 'flaky',
      agent: 'timer-throw',
      session_id: e.sessionId,
    });
  });

  it('routes an unhandled rejection to the session whose promise it was', async () => {
    setup();
    const sibling = startSession('long-call', 'acme', acmeConfig);
    const bad = startSession('unhandled', 'flaky');
    const e = await bad.ended;
    expect(e.outcome).toEqual({ kind: 'failed', reason: 'unhandled_rejection' });
    expect(e.error).toBe('Error: promise rejected unhandled');
    expect(bad.reservation.releases).toHaveLength(1);
    // The long call is still up: its AgentSession keeps the job alive after entry returned.
    expect(registry.list().map((r) => [r.tenant, r.status])).toEqual([['acme', 'running']]);
    await host.terminate(sibling.jobId);
    expect((await sibling.ended).outcome).toEqual({ kind: 'success', reason: 'terminated' });
    expect(sibling.reservation.releases).toEqual([{ kind: 'success', reason: 'terminated' }]);
  });

  it('force-closes a session that hangs past termination and still releases it once', async () => {
    setup(200);
    const stuck = startSession('hang', 'acme');
    await stuck.starting;
    expect(registry.list()).toHaveLength(1);
    await host.terminate(stuck.jobId);
    const e = await stuck.ended;
    expect(e.outcome).toEqual({ kind: 'success', reason: 'terminated' });
    expect(stuck.reservation.releases).toEqual([{ kind: 'success', reason: 'terminated' }]);
    expect(registry.size).toBe(0);
    expect(
      log
        .lines()
        .some(
          (l) =>
            l.msg === 'entry did not finish in time; session force-closed' && l.tenant === 'acme',
        ),
    ).toBe(true);
    // A second termination of a finished job is a no-op.
    await host.terminate(stuck.jobId);
    expect(stuck.reservation.releases).toHaveLength(1);
  });

  it('logs errors raised outside any session without touching live sessions', async () => {
    setup();
    const call = startSession('long-call', 'acme', acmeConfig);
    await call.starting;
    await new Promise<void>((resolve) => {
      setTimeout(() => {
        setImmediate(resolve);
        throw new Error('stray worker error');
      }, 5);
    });
    expect(registry.list().map((r) => r.tenant)).toEqual(['acme']);
    const stray = log
      .lines()
      .find((l) => l.msg === 'uncaught_exception outside any live session; worker continues');
    expect(stray).toMatchObject({ error: 'Error: stray worker error' });
    expect(stray?.tenant).toBeUndefined();
    await host.terminate(call.jobId);
    expect(call.reservation.releases).toEqual([{ kind: 'success', reason: 'terminated' }]);
  });

  it('closeAll ends every live session with the given reason', async () => {
    setup();
    const calls = [
      startSession('long-call', 'acme', acmeConfig),
      startSession('long-call', 'globex', globexConfig),
    ];
    await Promise.all(calls.map((c) => c.starting));
    await host.closeAll('drain_timeout');
    for (const c of calls) {
      expect((await c.ended).outcome).toEqual({ kind: 'success', reason: 'drain_timeout' });
      expect(c.reservation.releases).toHaveLength(1);
    }
    expect(host.liveJobIds()).toEqual([]);
  });

  it('cancels an assignment for an agent this worker does not host', async () => {
    setup();
    const jobId = 'job-unknown';
    const reservation = recordingReservation(jobId, 'acme', 'nope');
    const ended = waitEnded(host, jobId);
    await host.start({
      job: localJob(jobId, 'nope'),
      url: '',
      token: '',
      workerId: 'w',
      tenant: 'acme',
      reservation,
      config: undefined,
    });
    expect((await ended).outcome).toEqual({ kind: 'cancelled', reason: 'unknown_agent' });
    expect(reservation.releases).toEqual([{ kind: 'cancelled', reason: 'unknown_agent' }]);
  });
});
