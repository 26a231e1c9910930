import { describe, expect, it } from 'vitest';
import { buildAgent } from '../../bench/density/build-agent.js';
import { runDensity } from '../../bench/density/density-run.js';

/**
 * The density benchmark's harness, end to end and small: a real `openrtc start` worker, real
 * AgentSessions with the Silero VAD hearing synthetic speech, dispatched over the agent protocol.
 * It guards the benchmark against rotting and shows that audio reaches the model and a reply
 * comes back through the fake STT and LLM. It asserts no timing: that is the benchmark's job.
 */
describe('density harness', () => {
  it('hosts talking VAD sessions in one worker and reads its memory, CPU and loop delay', async () => {
    const run = await runDensity('openrtc', 3, buildAgent(), {
      arrivalsPerS: 20,
      holdMs: 6_000,
      memoryCeilingBytes: 8 * 2 ** 30,
      tenants: 2,
    });
    expect(run).toMatchObject({
      kind: 'openrtc',
      sessions: 3,
      started: 3,
      failures: 0,
      processes: expect.any(Number),
    });
    expect(run.stoppedBy).toBeUndefined();
    expect(run.peakRssMiB).toBeGreaterThan(run.idleRssMiB);
    // The worker's inference process (the turn detector's model) is found and counted, as stock's is.
    expect(run.processes).toBeGreaterThanOrEqual(2);
    expect(run.inferenceRssMiB).toBeGreaterThan(100);
    expect(run.peakRssMiB).toBeGreaterThan(run.inferenceRssMiB);
    expect(run.cpuPctOfCore).toBeGreaterThan(0);
    expect(run.loop?.p99Ms).toBeGreaterThan(0);
    expect(run.startP50Ms).toBeGreaterThanOrEqual(0);
    // The caller speaks about 15 phrases a minute: the VAD must hear some and the agent answer.
    expect(run.speechTurnsPerSessionMin).toBeGreaterThan(0);
    expect(run.repliesPerSessionMin).toBeGreaterThan(0);
  }, 90_000);
});
