import { afterEach, describe, expect, it } from 'vitest';
import { SnapshotV1 } from '../../src/introspection/snapshot-schema.js';
import { fixtureAgent, startRuntime, type RuntimeRig } from '../support/runtime-rig.js';

/** Valid tenant ids that are also names every plain object inherits. */
const BUILTIN_NAMES = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf'];

/** A record keyed by every name, written so the config file really holds a `__proto__` key. */
function recordOf(value: unknown): string {
  const json = JSON.stringify(Object.fromEntries(BUILTIN_NAMES.map((n) => [n, value])));
  return `JSON.parse(${JSON.stringify(json)})`;
}

const CONFIG = `export default {
  name: 'rig',
  agents: { demo: ${JSON.stringify(fixtureAgent('long-call-agent'))} },
  tenants: {
    requireConfig: true,
    maxSessions: ${recordOf(2)},
    config: ${recordOf({ instructions: 'You answer for a tenant with an awkward name.' })},
    phoneNumbers: JSON.parse('{"+15550001":"__proto__","+15550002":"constructor"}'),
  },
};
`;

let rig: RuntimeRig | undefined;
afterEach(async () => {
  await rig?.stop();
  rig = undefined;
});

describe('tenants named like built-in object properties', () => {
  it('are routed, capped, counted, shown by top and controlled like any other tenant', async () => {
    rig = await startRuntime(CONFIG);
    const r = rig;
    for (const name of BUILTIN_NAMES) {
      const outcomes = await Promise.all(
        [1, 2, 3].map(() =>
          r.dispatch({ agentName: 'demo', metadata: JSON.stringify({ tenant: name }) }),
        ),
      );
      const assigned = outcomes.filter((o) => o.status === 'assigned');
      expect(assigned, name).toHaveLength(2);
      for (const o of assigned)
        expect(o.status === 'assigned' && o.participantAttributes.tenant).toBe(name);
      expect(
        outcomes
          .filter((o) => o.status === 'rejected')
          .map((o) => o.status === 'rejected' && o.reason),
      ).toEqual(['tenant_capacity']);
    }
    const byNumber = await r.dispatch({
      agentName: 'demo',
      metadata: JSON.stringify({ dialed_number: '+15550001' }),
    });
    expect(byNumber).toMatchObject({
      status: 'rejected',
      reason: 'tenant_capacity',
      message: 'tenant "__proto__" is at its cap of 2 sessions',
    });

    const snapshot = SnapshotV1.parse(await r.request('snapshot'));
    for (const name of BUILTIN_NAMES) {
      expect(Object.hasOwn(snapshot.sessions_by_tenant, name), name).toBe(true);
      expect(snapshot.sessions_by_tenant[name], name).toBe(2);
      expect(snapshot.sessions.filter((s) => s.tenant === name)).toHaveLength(2);
      const row = snapshot.tenants.find((t) => t.tenant === name);
      expect(row, name).toMatchObject({ live: 2, cap: 2, accepted: 2 });
      expect(row?.rejected.tenant_capacity).toBe(name === '__proto__' ? 2 : 1);
    }
    expect(Object.keys(snapshot.sessions_by_tenant).sort()).toEqual([...BUILTIN_NAMES].sort());

    const json = await r.cli(['top', '--json']);
    expect(json.code, json.stderr).toBe(0);
    const printed = SnapshotV1.parse(JSON.parse(json.stdout));
    expect(printed.sessions_by_tenant.__proto__).toBe(2);
    expect(printed.sessions_by_tenant.constructor).toBe(2);

    const once = await r.cli(['top', '--once', '--tenant', '__proto__']);
    expect(once.code, once.stderr).toBe(0);
    expect(once.stdout).toContain('2 sessions');

    const show = await r.cli(['tenant', 'show', 'constructor', '--json']);
    expect(show.code, show.stderr).toBe(0);
    expect(JSON.parse(show.stdout)).toMatchObject({
      configuredCap: 2,
      stats: { tenant: 'constructor', live: 2, cap: 2 },
    });

    const cap = await r.cli(['tenant', 'cap', 'valueOf', '3']);
    expect(cap.code, cap.stderr).toBe(0);
    expect(cap.stdout.trim()).toBe('valueOf: cap 2 -> 3');
    expect(
      await r.dispatch({ agentName: 'demo', metadata: JSON.stringify({ tenant: 'valueOf' }) }),
    ).toMatchObject({ status: 'assigned' });

    const list = await r.cli(['tenant', 'list', '--json']);
    expect(list.code, list.stderr).toBe(0);
    const listed = (JSON.parse(list.stdout) as { tenants: { tenant: string; live: number }[] })
      .tenants;
    expect(Object.fromEntries(listed.map((t) => [t.tenant, t.live]))).toMatchObject({
      valueOf: 3,
      toString: 2,
      __proto__: 2,
    });
  }, 60_000);
});
