import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InferenceUnavailableError } from '../../src/inference/errors.js';
import { SharedInference } from '../../src/inference/shared-inference.js';
import { RecentEvents } from '../../src/introspection/recent-events.js';
import { SessionRegistry } from '../../src/introspection/registry.js';
import { routeFrameworkLogs } from '../../src/logging/framework-logger.js';
import { setProcessLogger } from '../../src/logging/process-logger.js';
import { SessionHost } from '../../src/session/session-host.js';
import type { SessionEndedEvent } from '../../src/session/types.js';
import inferenceClient, { clientCalls } from '../fixtures/agents/inference-client-agent.js';
import {
  ECHO_METHOD,
  registerEchoRunner,
  type EchoAnswer,
} from '../fixtures/inference/echo-runner.js';
import {
  localJob,
  memoryLogger,
  recordingReservation,
  waitEnded,
  type MemoryLog,
} from '../session/support.js';
import { isAlive, until } from '../support/conditions.js';

let log: MemoryLog;
let inference: SharedInference;
let host: SessionHost;
const events = new RecentEvents(50);
let nextJob = 0;

function startClient(
  tenant: string,
  durationMs: number,
): { jobId: string; ended: Promise<SessionEndedEvent> } {
  const jobId = `job-inf-${++nextJob}`;
  const ended = waitEnded(host, jobId, durationMs + 30_000);
  void host.start({
    job: localJob(jobId, 'client', JSON.stringify({ duration_ms: durationMs })),
    url: '',
    token: '',
    workerId: 'w',
    tenant,
    reservation: recordingReservation(jobId, tenant, 'client'),
    config: undefined,
  });
  return { jobId, ended };
}

/** The session id the host gave a job, from its `session started` line. */
function sessionOf(jobId: string): string | undefined {
  return log.lines().find((l) => l.msg === 'session started' && l.job_id === jobId)?.session_id as
    string | undefined;
}

beforeAll(async () => {
  log = memoryLogger();
  setProcessLogger(log.logger);
  routeFrameworkLogs(log.logger);
  // As a plugin does when its module loads, before the worker starts the inference process.
  registerEchoRunner();
  inference = new SharedInference({
    enabled: 'auto',
    logger: log.logger,
    logLevel: 'warn',
    onEvent: (message) => events.push({ kind: 'worker', message }),
  });
  host = new SessionHost({
    agents: { client: inferenceClient },
    registry: new SessionRegistry(),
    logger: log.logger,
    inference,
    shutdownGraceMs: 2_000,
  });
  await inference.start();
}, 120_000);

afterAll(async () => {
  await host?.closeAll('test_cleanup');
  await inference?.close();
});

describe('the shared inference process', () => {
  it('runs a runner registered through the public InferenceRunner API, for every session, in one process', async () => {
    expect(inference.state).toBe('running');
    expect(inference.health()).toEqual({ expected: true, running: true });
    const pid = inference.pid!;
    expect(pid).not.toBe(process.pid);
    expect(inference.stats().runners).toEqual(
      expect.arrayContaining([ECHO_METHOD, 'lk_eot_audio']),
    );
    // Both runners loaded once, in that one process.
    expect(log.lines().filter((l) => l.msg === 'echo runner initialized')).toHaveLength(1);
    expect(
      log.lines().filter((l) => String(l.msg).startsWith('inference process ready')),
    ).toHaveLength(1);

    const a = startClient('acme', 600);
    const b = startClient('globex', 600);
    const [endA, endB] = await Promise.all([a.ended, b.ended]);
    expect(endA.outcome.kind).toBe('success');
    expect(endB.outcome.kind).toBe('success');
    for (const job of [a.jobId, b.jobId]) {
      const answers = log
        .lines()
        .filter((l) => l.msg === 'inference answered' && l.session_id === sessionOf(job));
      expect(answers.length).toBeGreaterThan(3);
      for (const l of answers) {
        expect(l.ok).toBe(true);
        expect(l.answer_pid).toBe(pid);
      }
    }
    expect(log.lines().filter((l) => l.msg === 'inference failed')).toEqual([]);
  });

  it('keeps stock request/response semantics: the answer, or the runner error, and a clear error for an unknown method', async () => {
    const answer = (await inference.doInference(ECHO_METHOD, {
      value: { nested: [1, 'two'] },
    })) as EchoAnswer;
    expect(answer.echo).toEqual({ nested: [1, 'two'] });
    await expect(
      inference.doInference(ECHO_METHOD, { value: 1, fail: 'model exploded' }),
    ).rejects.toThrow(`inference of ${ECHO_METHOD} failed: model exploded`);
    const unknown = inference.doInference('no_such_method', {});
    await expect(unknown).rejects.toBeInstanceOf(InferenceUnavailableError);
    await expect(unknown).rejects.toThrow(
      /"no_such_method" is not one of the inference process's runners/,
    );
    // The runner error was the caller's problem, not the process's.
    expect(inference.stats().failedRequests).toBe(0);
    expect(inference.state).toBe('running');
  });

  it('restarts after SIGKILL; meanwhile requests fail at once with a clear error, counted in one incident line, and sessions keep running', async () => {
    const oldPid = inference.pid!;
    // The calls last until the test hangs up: the restart may take a while on a loaded machine.
    const sessions = [
      startClient('acme', 120_000),
      startClient('globex', 120_000),
      startClient('acme', 120_000),
    ];
    await until('every session to get answers', () =>
      sessions.every((s) =>
        log
          .lines()
          .some((l) => l.msg === 'inference answered' && l.session_id === sessionOf(s.jobId)),
      ),
    );

    process.kill(oldPid, 'SIGKILL');
    await until('the worker to notice', () => inference.state !== 'running');
    expect(inference.health()).toEqual({ expected: true, running: false });
    await expect(inference.doInference(ECHO_METHOD, { value: 'while down' })).rejects.toThrow(
      /inference process not running \(restarting after it was killed by SIGKILL\)/,
    );
    const down = inference.stats();
    expect(down.pid).toBeUndefined();
    expect(down.lastExit).toBe('was killed by SIGKILL');

    await until(
      'the restart',
      () => inference.state === 'running' && inference.pid !== oldPid,
      60_000,
    );
    const newPid = inference.pid!;
    expect(isAlive(oldPid)).toBe(false);
    await until('every session to get answers from the new process', () =>
      sessions.every((s) =>
        log
          .lines()
          .some(
            (l) =>
              l.msg === 'inference answered' &&
              l.answer_pid === newPid &&
              l.session_id === sessionOf(s.jobId),
          ),
      ),
    );
    clientCalls.hangUp = true;
    const ends = await Promise.all(sessions.map((s) => s.ended));
    clientCalls.hangUp = false;
    for (const end of ends)
      expect(end.outcome).toEqual({ kind: 'success', reason: 'entry_returned' });

    const failures = log.lines().filter((l) => l.msg === 'inference failed');
    expect(failures.length).toBeGreaterThan(0);
    for (const f of failures) {
      expect(f.error).toMatch(/^inference process not running/);
      // Failing fast: no request waited on the dead process.
      expect(f.ms as number).toBeLessThan(1_000);
    }
    for (const s of sessions) {
      const mine = log.lines().filter((l) => l.session_id === sessionOf(s.jobId));
      expect(mine.some((l) => l.msg === 'inference answered' && l.answer_pid === oldPid)).toBe(
        true,
      );
      expect(mine.some((l) => l.msg === 'inference answered' && l.answer_pid === newPid)).toBe(
        true,
      );
    }

    // One line when it died, one when it was back, with the count of requests it failed: the
    // sessions' failures plus the one this test made.
    const died = log.lines().filter((l) => l.component === 'inference' && l.level === 50);
    expect(died).toHaveLength(1);
    expect(died[0]?.msg).toMatch(/^inference process was killed by SIGKILL; restarting in \d+ ms/);
    const back = log.lines().filter((l) => String(l.msg).startsWith('inference process restarted'));
    expect(back).toHaveLength(1);
    // A request failing just as the process comes back is counted before the line and logged by
    // its session after it: the line counts every failure logged before it, and none after.
    const loggedBefore = failures.filter((f) => Number(f.time) <= Number(back[0]?.time)).length;
    expect(back[0]?.failed_requests).toBeGreaterThanOrEqual(loggedBefore + 1);
    expect(back[0]?.failed_requests).toBeLessThanOrEqual(failures.length + 1);
    expect(back[0]?.tenant).toBeUndefined();

    const stats = inference.stats();
    expect(stats).toMatchObject({
      state: 'running',
      pid: newPid,
      restarts: 1,
      failedRequests: failures.length + 1,
      lastExit: 'was killed by SIGKILL',
    });
    expect(events.list().map((e) => e.message)).toEqual([
      'inference process was killed by SIGKILL; restarting',
      `inference process restarted (pid ${newPid}); ${String(back[0]?.failed_requests)} requests failed while it was down`,
    ]);
    // Loaded again in the new process, once.
    expect(log.lines().filter((l) => l.msg === 'echo runner initialized')).toHaveLength(2);
  }, 120_000);

  it('reports its memory and CPU, read from the process itself', async () => {
    await until('a ping answer', () => inference.stats().rssBytes > 0);
    const stats = inference.stats();
    // The end-of-turn model alone is over 100 MB.
    expect(stats.rssBytes).toBeGreaterThan(100 * 2 ** 20);
    expect(stats.cpuPct).toBeGreaterThanOrEqual(0);
    expect(stats.readyAt).toBeLessThanOrEqual(Date.now());
  });

  it('shuts the process down on close, and then fails requests at once', async () => {
    const pid = inference.pid!;
    await inference.close();
    expect(inference.state).toBe('stopped');
    expect(isAlive(pid)).toBe(false);
    await expect(inference.doInference(ECHO_METHOD, { value: 1 })).rejects.toThrow(
      /inference process not running \(the worker is shutting down\)/,
    );
    expect(
      log.lines().filter((l) => l.component === 'inference' && (l.level as number) >= 50),
    ).toHaveLength(1);
  });
});
