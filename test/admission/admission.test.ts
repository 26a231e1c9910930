import { describe, expect, it } from 'vitest';
import {
  Admission,
  OTHER_TENANTS_ROW,
  type AdmissionOptions,
} from '../../src/admission/admission.js';
import type { AdmissionDecision, JobRequestInfo } from '../../src/admission/types.js';
import { TenantConfigResolver } from '../../src/tenancy/config-resolver.js';
import type { TenantConfigSource } from '../../src/tenancy/types.js';
import { FakeClock } from '../support/fake-clock.js';

let jobs = 0;
function job(metadata: unknown, extra: Partial<JobRequestInfo> = {}): JobRequestInfo {
  return {
    jobId: `J${++jobs}`,
    agentName: 'demo',
    metadata: typeof metadata === 'string' ? metadata : JSON.stringify(metadata),
    ...extra,
  };
}

function setup(
  over: Partial<Omit<AdmissionOptions, 'tenants'>> & {
    tenants?: Partial<AdmissionOptions['tenants']>;
    source?: TenantConfigSource;
  } = {},
) {
  const clock = new FakeClock();
  const resolver = new TenantConfigResolver({
    source: over.source ?? {},
    clock,
    ttlMs: 60_000,
    missTtlMs: 5_000,
    loadTimeoutMs: 1_000,
  });
  const rejects: string[] = [];
  const admission = new Admission({
    clock,
    resolver,
    maxConcurrentSessions: over.maxConcurrentSessions ?? null,
    tenants: {
      metadataKey: 'tenant',
      defaultTenant: 'default',
      requireConfig: false,
      maxSessions: {},
      ...over.tenants,
    },
    breaker: over.breaker ?? {
      enabled: true,
      failureRatio: 0.5,
      minSamples: 2,
      windowMs: 60_000,
      cooldownMs: 10_000,
      halfOpenProbes: 1,
    },
    assignmentTimeoutMs: over.assignmentTimeoutMs ?? 5_000,
    events: { onReject: (e) => rejects.push(`${e.tenant ?? '-'}:${e.reason}`) },
  });
  return { clock, admission, resolver, rejects };
}

function accepted(d: AdmissionDecision) {
  if (!d.accept) throw new Error(`expected accept, got ${d.reason}: ${d.message}`);
  return d;
}

describe('Admission', () => {
  it('1,000 concurrent requests for a tenant capped at 20: exactly 20 accepted, others still served', async () => {
    const { admission } = setup({ tenants: { maxSessions: { acme: 20 } } });
    const decisions = await Promise.all(
      Array.from({ length: 1000 }, () => admission.decide(job({ tenant: 'acme' }))),
    );
    const ok = decisions.filter((d) => d.accept);
    expect(ok).toHaveLength(20);
    expect(decisions.filter((d) => !d.accept && d.reason === 'tenant_capacity')).toHaveLength(980);
    expect(accepted(await admission.decide(job({ tenant: 'globex' }))).tenant).toBe('globex');
    expect(admission.tenantStat('acme')).toMatchObject({
      accepted: 20,
      reserved: 20,
      live: 0,
      rejected: expect.objectContaining({ tenant_capacity: 980 }),
    });

    for (const d of ok) if (d.accept) d.reservation.markStarted();
    for (const d of ok) if (d.accept) d.reservation.release({ kind: 'success', reason: 'done' });
    const again = await Promise.all(
      Array.from({ length: 50 }, () => admission.decide(job({ tenant: 'acme' }))),
    );
    expect(again.filter((d) => d.accept)).toHaveLength(20);
  });

  it('enforces the global cap across tenants', async () => {
    const { admission } = setup({ maxConcurrentSessions: 3 });
    const ds = await Promise.all(
      ['a', 'b', 'c', 'd', 'e'].map((t) => admission.decide(job({ tenant: t }))),
    );
    expect(ds.map((d) => (d.accept ? 'ok' : d.reason))).toEqual([
      'ok',
      'ok',
      'ok',
      'worker_capacity',
      'worker_capacity',
    ]);
    expect(admission.inUse()).toBe(3);
  });

  it('rejects in the documented order with a reason code and message for each', async () => {
    const { admission, rejects } = setup({
      tenants: { requireConfig: true, maxSessions: { full: 1 } },
      source: async (t) => {
        if (t === 'broken') throw new Error('db down, apiKey=sk-live-abcdef123456');
        if (t === 'slow') return new Promise(() => {});
        return t === 'unknown' ? undefined : {};
      },
    });
    const d = async (m: unknown) => admission.decide(job(m));
    expect(await d({ tenant: 'bad tenant' })).toMatchObject({
      accept: false,
      reason: 'invalid_tenant',
    });
    expect(await d({ tenant: 'unknown' })).toMatchObject({
      accept: false,
      reason: 'tenant_not_configured',
      tenant: 'unknown',
    });
    const broken = await d({ tenant: 'broken' });
    expect(broken).toMatchObject({ accept: false, reason: 'tenant_config_error' });
    expect(JSON.stringify(broken)).not.toContain('sk-live-abcdef123456');
    accepted(await d({ tenant: 'full' }));
    expect(await d({ tenant: 'full' })).toMatchObject({ accept: false, reason: 'tenant_capacity' });
    admission.tripBreaker('ok');
    expect(await d({ tenant: 'ok' })).toMatchObject({
      accept: false,
      reason: 'breaker_open',
      message: 'tenant "ok" circuit breaker is open (10s left)',
    });
    admission.setDraining(true);
    expect(await d({ tenant: 'bad tenant' })).toMatchObject({ accept: false, reason: 'draining' });
    expect(rejects).toEqual([
      '-:invalid_tenant',
      'unknown:tenant_not_configured',
      'broken:tenant_config_error',
      'full:tenant_capacity',
      'ok:breaker_open',
      '-:draining',
    ]);
  });

  it('reports a config load that outlasts its timeout as tenant_config_timeout', async () => {
    const { admission, clock } = setup({ source: () => new Promise(() => {}) });
    const pending = admission.decide(job({ tenant: 'slow' }));
    await Promise.resolve();
    clock.advance(1_000);
    expect(await pending).toMatchObject({
      accept: false,
      reason: 'tenant_config_timeout',
      tenant: 'slow',
    });
  });

  it('a reservation settles when it is released, by the assignment timeout or by its session', async () => {
    const { admission, clock } = setup();
    const settled: string[] = [];
    const expiring = accepted(await admission.decide(job({ tenant: 'acme' })));
    const running = accepted(await admission.decide(job({ tenant: 'acme' })));
    void expiring.reservation.settled.then(() => settled.push('expired'));
    void running.reservation.settled.then(() => settled.push('ended'));
    running.reservation.markStarted();
    clock.advance(5_000);
    await Promise.resolve();
    expect(settled).toEqual(['expired']);
    running.reservation.release({ kind: 'success', reason: 'session_closed' });
    await Promise.resolve();
    expect(settled).toEqual(['expired', 'ended']);
  });

  it('releases a reservation when no assignment arrives in time, exactly once', async () => {
    const { admission, clock } = setup({ tenants: { maxSessions: { acme: 1 } } });
    const d = accepted(await admission.decide(job({ tenant: 'acme' })));
    expect((await admission.decide(job({ tenant: 'acme' }))).accept).toBe(false);
    clock.advance(5_000);
    expect(d.reservation.released).toBe(true);
    expect(d.reservation.release({ kind: 'success', reason: 'late' })).toBe(false);
    expect(admission.tenantStat('acme')).toMatchObject({ reserved: 0, live: 0, succeeded: 0 });
    accepted(await admission.decide(job({ tenant: 'acme' })));
  });

  it('counts started, succeeded and failed; failures open the breaker; probes close it', async () => {
    const { admission, clock } = setup();
    for (let i = 0; i < 2; i++) {
      const d = accepted(await admission.decide(job({ tenant: 'flaky' })));
      d.reservation.markStarted();
      expect(d.reservation.release({ kind: 'failed', reason: 'entry_error' })).toBe(true);
    }
    expect(admission.tenantStat('flaky')).toMatchObject({
      started: 2,
      failed: 2,
      live: 0,
      breaker: { state: 'open' },
    });
    expect(await admission.decide(job({ tenant: 'flaky' }))).toMatchObject({
      reason: 'breaker_open',
    });
    accepted(await admission.decide(job({ tenant: 'healthy' })));

    clock.advance(10_000);
    const probe = accepted(await admission.decide(job({ tenant: 'flaky' })));
    expect(probe.reservation.probe).toBe(true);
    expect(await admission.decide(job({ tenant: 'flaky' }))).toMatchObject({
      reason: 'breaker_open',
    });
    probe.reservation.markStarted();
    probe.reservation.release({ kind: 'success', reason: 'done' });
    expect(admission.tenantStat('flaky')?.breaker.state).toBe('closed');
    expect(admission.tenantStat('flaky')).toMatchObject({ accepted: 3, succeeded: 1, failed: 2 });
  });

  it('applies a live cap override, and --clear restores the configured cap', async () => {
    const { admission } = setup({ tenants: { maxSessions: { acme: 5 } } });
    admission.setTenantCap('acme', 1);
    expect(admission.tenantStat('acme')?.cap).toBe(1);
    accepted(await admission.decide(job({ tenant: 'acme' })));
    expect((await admission.decide(job({ tenant: 'acme' }))).accept).toBe(false);
    admission.setTenantCap('acme', null);
    expect(admission.tenantStat('acme')?.cap).toBe(5);
    accepted(await admission.decide(job({ tenant: 'acme' })));
  });

  it('routes by dialed number and falls back to the default tenant', async () => {
    const { admission } = setup({ tenants: { phoneNumbers: { '+15550100': 'initech' } } });
    expect(accepted(await admission.decide(job({ dialed_number: '+15550100' }))).tenant).toBe(
      'initech',
    );
    expect(
      accepted(
        await admission.decide(job('', { attributes: { 'sip.trunkPhoneNumber': '+15550100' } })),
      ).tenant,
    ).toBe('initech');
    expect(accepted(await admission.decide(job({ dialed_number: '+19999999' }))).tenant).toBe(
      'default',
    );
    expect(accepted(await admission.decide(job(''))).tenant).toBe('default');
    // An automatically dispatched job has no metadata: the room's, set by its creator, counts.
    const roomMetadata = JSON.stringify({ dialed_number: '+15550100' });
    expect(accepted(await admission.decide(job('', { roomMetadata }))).tenant).toBe('initech');
    // The dispatch's own number wins over the room's.
    expect(
      accepted(await admission.decide(job({ dialed_number: '+19999999' }, { roomMetadata })))
        .tenant,
    ).toBe('default');
  });
  it('counts rejections that never reached a tenant on the worker, not under a made-up tenant row', async () => {
    const { admission } = setup({ tenants: { maxSessions: { '*': 3 } } });
    await admission.decide(job({ tenant: 'bad tenant!' }));
    await admission.decide(job('not json'));
    accepted(await admission.decide(job({ tenant: 'acme' })));
    admission.setDraining(true);
    await admission.decide(job({ tenant: 'acme' }));

    expect(admission.tenantStats().map((t) => t.tenant)).toEqual(['acme']);
    expect(admission.knownTenant('(invalid)')).toBe(false);
    expect(admission.rejectedWithoutTenant()).toMatchObject({ invalid_tenant: 2, draining: 1 });
    expect(admission.totals().rejected).toMatchObject({ invalid_tenant: 2, draining: 1 });
    expect(admission.totals().accepted).toBe(1);
  });

  it('keeps at most maxIdleTenantRows idle rows of unconfigured tenants, folding older ones into (other)', async () => {
    const { admission, clock } = setup({
      tenants: { maxSessions: { acme: 2 }, maxIdleTenantRows: 100 },
    });
    const held = accepted(await admission.decide(job({ tenant: 'holder' })));
    admission.tripBreaker('tripped');
    // Fifty times the bound: enough to show it holds, cheap enough for a loaded machine.
    const N = 5_000;
    for (let i = 0; i < N; i++) {
      const d = await admission.decide(job({ tenant: `t${i}` }));
      if (d.accept) d.reservation.release({ kind: 'cancelled', reason: 'test' });
    }
    const names = admission.tenantStats().map((t) => t.tenant);
    expect(names.length).toBeLessThanOrEqual(100 + 4);
    // Configured, holding a reservation, or with an open breaker: never folded.
    expect(names).toEqual(
      expect.arrayContaining(['acme', 'holder', 'tripped', OTHER_TENANTS_ROW, `t${N - 1}`]),
    );
    expect(admission.knownTenant('t0')).toBe(false);
    expect(admission.tenantStat('t0')).toBeUndefined();
    const other = admission.tenantStats().find((t) => t.tenant === OTHER_TENANTS_ROW)!;
    expect(
      other.accepted +
        admission
          .tenantStats()
          .filter((t) => /^t\d+$/.test(t.tenant))
          .reduce((n, t) => n + t.accepted, 0),
    ).toBe(N);
    expect(admission.totals()).toMatchObject({ accepted: N + 1, reserved: 1 });
    expect(admission.inUse()).toBe(1);

    held.reservation.release({ kind: 'cancelled', reason: 'test' });
    clock.advance(60_000);
    for (let i = 0; i < 200; i++) {
      const d = await admission.decide(job({ tenant: `u${i}` }));
      if (d.accept) d.reservation.release({ kind: 'cancelled', reason: 'test' });
    }
    const after = admission.tenantStats().map((t) => t.tenant);
    expect(after).not.toContain('holder');
    expect(after).toContain('acme');
  });

  it('answers a repeated request for the same job id with the same decision and one reservation', async () => {
    const { admission } = setup({ tenants: { maxSessions: { acme: 2 } } });
    const same = job({ tenant: 'acme' });
    const [a, b] = await Promise.all([admission.decide(same), admission.decide(same)]);
    const c = await admission.decide(same);
    expect(accepted(a).reservation).toBe(accepted(b).reservation);
    expect(accepted(c).reservation).toBe(accepted(a).reservation);
    expect(admission.inUse()).toBe(1);
    expect(admission.tenantStat('acme')).toMatchObject({ accepted: 1, reserved: 1 });
    accepted(a).reservation.release({ kind: 'cancelled', reason: 'test' });
    const again = accepted(await admission.decide(same));
    expect(again.reservation).not.toBe(accepted(a).reservation);
    expect(admission.inUse()).toBe(1);
  });

  it('folds the least recently seen idle row, whatever order the rows are listed or shown in', async () => {
    const { admission } = setup({ tenants: { maxIdleTenantRows: 3 } });
    const seen = async (t: string) => {
      const d = await admission.decide(job({ tenant: t }));
      if (d.accept) d.reservation.release({ kind: 'cancelled', reason: 'test' });
    };
    for (const t of ['zed', 'yak', 'xan']) await seen(t);
    admission.tenantStats();
    admission.tenantStat('zed');
    await seen('wes');
    expect(admission.tenantStats().map((t) => t.tenant)).toEqual([
      'wes',
      'xan',
      'yak',
      OTHER_TENANTS_ROW,
    ]);
  });
});
