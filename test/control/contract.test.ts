import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CONTROL_METHODS,
  CONTROL_RESULTS,
  type ControlMethod,
  type ControlParams,
} from '../../src/control/contract.js';
import { fixtureAgent, startRuntime, type RuntimeRig } from '../support/runtime-rig.js';

let rig: RuntimeRig;
beforeAll(async () => {
  rig = await startRuntime(`export default {
    name: 'rig',
    agents: { demo: ${JSON.stringify(fixtureAgent('long-call-agent'))} },
    tenants: { config: { acme: {}, globex: {} }, maxSessions: { acme: 3, globex: 1 } },
  };`);
  for (const tenant of ['acme', 'acme', 'globex', 'globex'])
    await rig.dispatch({ agentName: 'demo', metadata: JSON.stringify({ tenant }) });
}, 60_000);
afterAll(() => rig?.stop());

/** Calls a method on the live worker and holds its answer to the contract's exact shape. */
async function call<M extends ControlMethod>(method: M, params: ControlParams<M>) {
  const raw = await rig.request(method, params as Record<string, unknown>);
  const parsed = CONTROL_RESULTS[method].safeParse(raw);
  expect(parsed.error?.issues, `${method} answered ${JSON.stringify(raw)}`).toBeUndefined();
  return parsed.data!;
}

describe('the control contract, against the live worker', () => {
  it('every method answers exactly the result its contract gives', async () => {
    const params: { [M in ControlMethod]: ControlParams<M> } = {
      snapshot: {},
      'worker.info': {},
      'tenant.list': {},
      'tenant.show': { tenant: 'acme' },
      'tenant.cap': { tenant: 'acme', cap: 4 },
      'tenant.trip': { tenant: 'globex', forMs: 60_000 },
      'tenant.reset': { tenant: 'globex' },
      'tenant.reload': { all: true },
      'config.reload': {},
      drain: { timeoutMs: 1_000 },
    };
    expect(Object.keys(params).sort()).toEqual([...CONTROL_METHODS].sort());
    expect(await call('tenant.trip', params['tenant.trip'])).toMatchObject({
      tenant: 'globex',
      old: 'closed',
      breaker: { state: 'open', secondsLeft: 60, manual: true },
    });
    // drain is last, in its own test: it stops the worker.
    for (const method of CONTROL_METHODS.filter((m) => m !== 'drain' && m !== 'tenant.trip'))
      await call(method, params[method] as never);
    expect(await call('tenant.reload', { tenant: 'acme' })).toEqual({ tenant: 'acme' });
  });

  it('params are checked by the contract: a wrong field is a bad_request naming it', async () => {
    await expect(rig.request('tenant.cap', { tenant: 'acme', cap: 'four' })).rejects.toMatchObject({
      code: 'bad_request',
      message: 'params.cap: expected a positive integer, or null to clear',
    });
    await expect(
      rig.request('tenant.trip', { tenant: 'acme', forMs: 'soon' }),
    ).rejects.toMatchObject({
      code: 'bad_request',
      message: expect.stringMatching(/^params\.forMs: /),
    });
  });

  it('tenant list --json, tenant show --json and top --json print the same row for a tenant', async () => {
    const [list, show, top] = await Promise.all([
      rig.cli(['tenant', 'list', '--json']),
      rig.cli(['tenant', 'show', 'acme', '--json']),
      rig.cli(['top', '--json']),
    ]);
    for (const r of [list, show, top]) expect(r.code, r.stderr).toBe(0);
    const listed = CONTROL_RESULTS['tenant.list'].parse(JSON.parse(list.stdout)).tenants;
    const shown = CONTROL_RESULTS['tenant.show'].parse(JSON.parse(show.stdout)).stats;
    const snapshot = CONTROL_RESULTS.snapshot.parse(JSON.parse(top.stdout));
    const withoutTime = <T extends { breaker: { lastTransitionAt?: number } }>(t: T) => ({
      ...t,
      breaker: { ...t.breaker, lastTransitionAt: undefined },
    });
    expect(listed.map(withoutTime)).toEqual(snapshot.tenants.map(withoutTime));
    expect(shown).toEqual(listed.find((t) => t.tenant === 'acme'));
    expect(shown).toMatchObject({ tenant: 'acme', live: 2, active: 2, started: 2, cap: 4 });
    expect(Object.keys(listed[0]!).sort()).toEqual(Object.keys(snapshot.tenants[0]!).sort());
  });

  it('drain answers by its contract, then the worker stops', async () => {
    expect(await call('drain', { timeoutMs: 1_000 })).toEqual({
      alreadyDraining: false,
      liveSessions: 3,
      activeSessions: 3,
      timeoutMs: 1_000,
    });
    await rig.runtime.stopped;
  });
});
