import { afterEach, describe, expect, it } from 'vitest';
import { SnapshotV1 } from '../../src/introspection/snapshot-schema.js';
import { fixtureAgent, startRuntime, type RuntimeRig } from '../support/runtime-rig.js';

let rig: RuntimeRig | undefined;
afterEach(async () => {
  await rig?.stop();
  rig = undefined;
});

describe('maxSessionDurationMs', () => {
  it('ends a session past its limit with a reason, and counts it per tenant', async () => {
    rig = await startRuntime(
      `export default { name: 'rig', agents: { demo: ${JSON.stringify(fixtureAgent('long-call-agent'))} }, maxSessionDurationMs: 800 };`,
    );
    const r = rig;
    const out = await r.dispatch({
      agentName: 'demo',
      metadata: JSON.stringify({ tenant: 'acme' }),
    });
    expect(out.status).toBe('assigned');
    const job = await r.runtime.dispatcher!.waitForJob(
      out.jobId,
      (j) => j.state === 'success' || j.state === 'failed',
      15_000,
    );
    expect(job.state).toBe('success');
    const lines = r.log.lines();
    expect(
      lines.find((l) => l.msg === 'session reached maxSessionDurationMs; ending it'),
    ).toMatchObject({ tenant: 'acme', limit_ms: 800 });
    expect(lines.find((l) => l.msg === 'session ended: max_session_duration')).toMatchObject({
      tenant: 'acme',
      reason: 'max_session_duration',
    });
    const snapshot = SnapshotV1.parse(await r.request('snapshot'));
    expect(snapshot.tenants.find((t) => t.tenant === 'acme')).toMatchObject({
      maxDurationEnded: 1,
      succeeded: 1,
      failed: 0,
    });
    expect(snapshot.worker.totals.maxDurationEnded).toBe(1);
    expect(
      snapshot.events.some(
        (e) =>
          e.kind === 'session' &&
          e.tenant === 'acme' &&
          /reached the 800 ms session limit/.test(e.message),
      ),
    ).toBe(true);
    const show = await r.cli(['tenant', 'show', 'acme']);
    expect(show.stdout).toMatch(/1 ended at maxSessionDurationMs/);
  }, 60_000);
});
