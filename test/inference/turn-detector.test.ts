import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SharedInference } from '../../src/inference/shared-inference.js';
import { SessionRegistry } from '../../src/introspection/registry.js';
import { FRAMEWORK_COMPONENT, routeFrameworkLogs } from '../../src/logging/framework-logger.js';
import { setProcessLogger } from '../../src/logging/process-logger.js';
import { SessionHost } from '../../src/session/session-host.js';
import turnDetectorAgent from '../fixtures/agents/turn-detector-agent.js';
import {
  localJob,
  memoryLogger,
  recordingReservation,
  waitEnded,
  type MemoryLog,
} from '../session/support.js';

let log: MemoryLog;
let inference: SharedInference;
let host: SessionHost;

beforeAll(async () => {
  log = memoryLogger();
  setProcessLogger(log.logger);
  routeFrameworkLogs(log.logger);
  inference = new SharedInference({ enabled: 'auto', logger: log.logger, logLevel: 'warn' });
  host = new SessionHost({
    agents: { eot: turnDetectorAgent },
    registry: new SessionRegistry(),
    logger: log.logger,
    inference,
  });
  await host.prewarmAll();
  await inference.start();
}, 120_000);

afterAll(async () => {
  await host?.closeAll('test_cleanup');
  await inference?.close();
});

function startCall(jobId: string, tenant: string) {
  const ended = waitEnded(host, jobId, 60_000);
  void host.start({
    job: localJob(jobId, 'eot'),
    url: '',
    token: '',
    workerId: 'w',
    tenant,
    reservation: recordingReservation(jobId, tenant, 'eot'),
    config: undefined,
  });
  return ended;
}

describe('inference.TurnDetector({ version: "v1-mini" }) in an in-process session', () => {
  it('gets real end-of-turn probabilities from the model: a finished and an unfinished sentence differ', async () => {
    const [acme, globex] = await Promise.all([
      startCall('job-eot-acme', 'acme'),
      startCall('job-eot-globex', 'globex'),
    ]);
    for (const end of [acme, globex])
      expect(end.outcome).toEqual({ kind: 'success', reason: 'shutdown: caller finished' });

    const lines = log.lines();
    for (const end of [acme, globex]) {
      const predictions = lines.filter(
        (l) => l.msg === 'eot prediction' && l.session_id === end.sessionId,
      );
      const finished = predictions.filter((p) => p.utterance === 'finished');
      const unfinished = predictions.filter((p) => p.utterance === 'unfinished');
      expect(finished).toHaveLength(1);
      expect(unfinished).toHaveLength(1);
      for (const p of [...finished, ...unfinished]) {
        expect(p.probability).toBeGreaterThan(0);
        expect(p.probability).toBeLessThan(1);
        // A failed executor yields probability 0 and no inference time; the model took some.
        expect(p.inference_ms).toBeGreaterThan(0);
      }
      const pFinished = finished[0]!.probability as number;
      const pUnfinished = unfinished[0]!.probability as number;
      expect(pFinished).not.toBe(pUnfinished);
      expect(pFinished).toBeGreaterThan(pUnfinished);
    }

    expect(
      lines.filter((l) => /executor failed|EOT unavailable|not available/.test(String(l.msg))),
    ).toEqual([]);
    expect(
      lines.filter((l) => l.component === FRAMEWORK_COMPONENT && (l.level as number) >= 50),
    ).toEqual([]);
    // The model loaded once, in the one inference process both sessions used.
    expect(lines.filter((l) => String(l.msg).startsWith('inference process ready'))).toHaveLength(
      1,
    );
    expect(inference.stats()).toMatchObject({ state: 'running', restarts: 0, failedRequests: 0 });
  }, 90_000);

  it("tags agents-js's own lines from inside each session with that session's tenant, session and agent", () => {
    const lines = log.lines();
    const sessions = new Map(
      lines.filter((l) => l.msg === 'session started').map((l) => [l.session_id, l.tenant]),
    );
    expect(sessions.size).toBe(2);
    const framework = lines.filter((l) => l.component === FRAMEWORK_COMPONENT);
    const markers = framework.filter((l) => String(l.msg).startsWith('fixture: agents-js line'));
    expect(markers).toHaveLength(6);
    for (const l of markers) {
      expect(l.tenant).toBe(l.expect_tenant);
      expect(l.session_id).toBe(l.expect_session);
      expect(l.agent).toBe('eot');
    }
    // agents-js's own warning, written by its code inside each call, names that call.
    const thresholds = framework.filter((l) =>
      String(l.msg).startsWith('a non-default turn detection threshold was provided'),
    );
    expect(thresholds.map((l) => l.session_id).sort()).toEqual([...sessions.keys()].sort());
    // Every tagged line names a real session of that tenant: none is mislabelled.
    for (const l of lines.filter((x) => x.session_id !== undefined))
      expect(sessions.get(l.session_id)).toBe(l.tenant);
    // The inference process's own lines belong to no session.
    for (const l of lines.filter((x) => x.component === 'inference'))
      expect(l.tenant).toBeUndefined();
  });
});
