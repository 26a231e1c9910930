import { afterEach, describe, expect, it } from 'vitest';
import { OTHER_TENANTS_ROW } from '../../src/admission/admission.js';
import { SnapshotV1 } from '../../src/introspection/snapshot-schema.js';
import { fixtureAgent, startRuntime, type RuntimeRig } from '../support/runtime-rig.js';

let rig: RuntimeRig | undefined;
afterEach(async () => {
  await rig?.stop();
  rig = undefined;
});

const IDLE_ROWS = 300;

describe('tenant rows under a flood of distinct tenant ids', () => {
  it('stay bounded: idle unconfigured tenants fold into one row, and top and tenant list keep working', async () => {
    rig = await startRuntime(`export default {
      name: 'rig',
      agents: { demo: ${JSON.stringify(fixtureAgent('long-call-agent'))} },
      tenants: { requireConfig: true, config: { acme: {} }, maxSessions: { acme: 5, globex: 3 }, maxIdleTenantRows: ${IDLE_ROWS} },
    };`);
    const r = rig;
    expect(
      await r.dispatch({ agentName: 'demo', metadata: JSON.stringify({ tenant: 'acme' }) }),
    ).toMatchObject({ status: 'assigned' });

    const N = 20_000;
    const wave = 500;
    for (let start = 0; start < N; start += wave) {
      const outcomes = await Promise.all(
        Array.from({ length: wave }, (_, i) =>
          r.dispatch({ agentName: 'demo', metadata: JSON.stringify({ tenant: `t${start + i}` }) }),
        ),
      );
      expect(
        outcomes.every((o) => o.status === 'rejected' && o.reason === 'tenant_not_configured'),
      ).toBe(true);
    }

    const raw = await r.request('snapshot');
    expect(JSON.stringify(raw).length).toBeLessThan(400_000);
    const snapshot = SnapshotV1.parse(raw);
    const names = snapshot.tenants.map((t) => t.tenant);
    // Configured tenants (acme and globex) always keep their rows; so do the most recently seen
    // idle ones; everyone older is folded into one row.
    expect(names).toEqual(
      expect.arrayContaining(['acme', 'globex', OTHER_TENANTS_ROW, `t${N - 1}`]),
    );
    expect(names).not.toContain('t0');
    expect(snapshot.tenants.length).toBeLessThanOrEqual(IDLE_ROWS + 3);
    const notConfigured = snapshot.tenants.reduce(
      (n, t) => n + (t.rejected.tenant_not_configured ?? 0),
      0,
    );
    expect(notConfigured).toBe(N);
    expect(snapshot.worker.totals.rejected.tenant_not_configured).toBe(N);
    expect(snapshot.tenants.find((t) => t.tenant === 'acme')).toMatchObject({
      live: 1,
      accepted: 1,
      cap: 5,
    });

    const json = await r.cli(['top', '--json', '--once']);
    expect(json.code, json.stderr).toBe(0);
    SnapshotV1.parse(JSON.parse(json.stdout));
    const list = await r.cli(['tenant', 'list']);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toContain(OTHER_TENANTS_ROW);
  }, 120_000);
});
