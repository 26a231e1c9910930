// Sessions that share one model object (loaded once in prewarm) must each see only their own
// metrics and errors, and leave no listener on the model when they end.
import { voice } from '@livekit/agents';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SessionRegistry } from '../../src/introspection/registry.js';
import { sessionScope, type SessionScope } from '../../src/scope/session-scope.js';
import { SessionHost } from '../../src/session/session-host.js';
import {
  beginSessionListeners,
  endSessionListeners,
  sharedModelListenerCounts,
} from '../../src/session/shared-model-events.js';
import type { SessionEndedEvent } from '../../src/session/types.js';
import sharedModelAgent, { shared } from '../fixtures/agents/shared-model-agent.js';
import { localJob, memoryLogger, recordingReservation, waitEnded } from './support.js';

let host: SessionHost;
let nextJob = 0;
const SESSIONS = 12;

function runRound(round: string, sessions: number, extra: Record<string, number> = {}) {
  return Promise.all(
    Array.from({ length: sessions }, () => {
      const jobId = `job-${++nextJob}`;
      const ended = waitEnded(host, jobId, 20_000);
      const metadata = JSON.stringify({ round, sessions, ...extra });
      void host.start({
        job: localJob(jobId, 'shared', metadata),
        url: '',
        token: '',
        workerId: 'w',
        tenant: `tenant-${nextJob % 3}`,
        reservation: recordingReservation(jobId, 'acme', 'shared'),
        config: undefined,
      });
      return ended;
    }),
  );
}

const listenerCounts = () => {
  const { llm, vad } = shared.models!;
  return {
    llmMetrics: llm.listenerCount('metrics_collected'),
    llmErrors: llm.listenerCount('error'),
    vadMetrics: vad.listenerCount('metrics_collected'),
  };
};

beforeAll(async () => {
  host = new SessionHost({
    agents: { shared: sharedModelAgent },
    registry: new SessionRegistry(),
    logger: memoryLogger().logger,
  });
  await host.prewarmAll();
});

afterAll(async () => {
  await host?.closeAll('test_cleanup');
});

describe('models shared between sessions', () => {
  let baseline: ReturnType<typeof listenerCounts>;
  let ends: SessionEndedEvent[];
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(w.name);

  beforeAll(async () => {
    baseline = listenerCounts();
    process.on('warning', onWarning);
    // More sessions at once than Node's default of ten listeners per event.
    ends = await runRound('a', SESSIONS);
    process.off('warning', onWarning);
  }, 30_000);

  it('each session sees only its own metrics while all of them are live on one shared LLM', () => {
    const { seen, workerWide } = shared.models!;
    expect(ends.every((e) => e.outcome.kind === 'success')).toBe(true);
    for (const end of ends) {
      const types = seen.get(end.sessionId) ?? [];
      expect(types.filter((t) => t === 'llm_metrics')).toEqual(['llm_metrics']);
    }
    // A listener added outside any session (in prewarm) still hears every session.
    expect(workerWide).toBe(SESSIONS);
  });

  it("one listener per live session does not set off Node's listener-leak warning", () => {
    expect(warnings).not.toContain('MaxListenersExceededWarning');
  });

  it('the shared models are back to their listeners from before the sessions', () => {
    expect(listenerCounts()).toEqual(baseline);
    expect(baseline).toEqual({ llmMetrics: 1, llmErrors: 0, vadMetrics: 0 });
    expect(sharedModelListenerCounts()).toEqual({ sessions: 0, listeners: 0 });
  });

  it('a listener agent code added on a shared model and never removed goes when its session ends', async () => {
    const more = await runRound('b', 3, { subscribe: 1 });
    expect(more.every((e) => e.outcome.kind === 'success')).toBe(true);
    expect(listenerCounts()).toEqual(baseline);
    expect(sharedModelListenerCounts()).toEqual({ sessions: 0, listeners: 0 });
  }, 30_000);
});

describe('event delivery on a shared model', () => {
  const scope = (sessionId: string): SessionScope => ({
    tenant: 't',
    sessionId,
    jobId: `job-${sessionId}`,
    agent: 'a',
    config: undefined,
  });
  const inSession = <T>(id: string, fn: () => T): T => sessionScope.run(scope(id), fn);

  it("an error raised in one session's stream reaches that session, not the others", () => {
    const model = new voice.testing.FakeLLM();
    const heard: string[] = [];
    beginSessionListeners('ses-a');
    beginSessionListeners('ses-b');
    inSession('ses-a', () => model.on('error', () => heard.push('a')));
    inSession('ses-b', () => model.on('error', () => heard.push('b')));
    model.on('error', () => heard.push('worker'));

    inSession('ses-a', () => model.emit('error', { recoverable: false } as never));
    expect(heard).toEqual(['a', 'worker']);
    heard.length = 0;
    // Outside any session nothing says whose it is: everyone hears it, as stock.
    model.emit('error', { recoverable: false } as never);
    expect(heard).toEqual(['a', 'b', 'worker']);

    expect(endSessionListeners('ses-a')).toBe(1);
    expect(endSessionListeners('ses-b')).toBe(1);
    expect(model.listenerCount('error')).toBe(1);
  });

  it('once-listeners and removal by the original function are tracked', () => {
    const model = new voice.testing.FakeLLM();
    const heard: string[] = [];
    beginSessionListeners('ses-c');
    const fn = () => heard.push('c');
    inSession('ses-c', () => {
      model.once('metrics_collected', fn);
      model.once('metrics_collected', () => heard.push('c-once'));
    });
    inSession('ses-c', () => model.off('metrics_collected', fn));
    expect(sharedModelListenerCounts().listeners).toBe(1);
    inSession('ses-c', () => model.emit('metrics_collected', {} as never));
    expect(heard).toEqual(['c-once']);
    expect(model.listenerCount('metrics_collected')).toBe(0);
    expect(endSessionListeners('ses-c')).toBe(0);
    expect(sharedModelListenerCounts()).toEqual({ sessions: 0, listeners: 0 });
  });
});
