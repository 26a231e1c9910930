import { describe, expect, it } from 'vitest';
import { Admission, type OverloadSettings } from '../../src/admission/admission.js';
import { TenantConfigResolver } from '../../src/tenancy/config-resolver.js';
import { FakeClock } from '../support/fake-clock.js';

let jobs = 0;
const job = (tenant: string) => ({
  jobId: `J${++jobs}`,
  agentName: 'demo',
  metadata: JSON.stringify({ tenant }),
});

function setup(overload: OverloadSettings | undefined) {
  const clock = new FakeClock();
  let loads = 0;
  const resolver = new TenantConfigResolver({
    source: () => {
      loads += 1;
      return undefined;
    },
    clock,
    ttlMs: 60_000,
    missTtlMs: 1,
    loadTimeoutMs: 1_000,
  });
  const delay = { p99: 0, asked: [] as number[] };
  const rejects: { tenant?: string; reason: string; message: string; elapsedMs: number }[] = [];
  const settings = {
    maxConcurrentSessions: null,
    tenants: {
      metadataKey: 'tenant',
      defaultTenant: 'default',
      requireConfig: false,
      maxSessions: {},
    },
    breaker: {
      enabled: true,
      failureRatio: 0.5,
      minSamples: 2,
      windowMs: 60_000,
      cooldownMs: 10_000,
      halfOpenProbes: 1,
    },
    assignmentTimeoutMs: 5_000,
    ...(overload ? { overload } : {}),
  };
  const admission = new Admission({
    ...settings,
    clock,
    resolver,
    loopDelayP99: (windowMs) => {
      delay.asked.push(windowMs);
      return delay.p99;
    },
    events: { onReject: (e) => rejects.push(e) },
  });
  return { admission, delay, rejects, settings, loads: () => loads };
}

describe('overload gate', () => {
  it('rejects worker_overloaded while loop delay p99 over the window is above the bound, counted per tenant', async () => {
    const { admission, delay, rejects, loads } = setup({
      enabled: true,
      maxLoopDelayMs: 60,
      windowMs: 5_000,
    });
    delay.p99 = 60;
    expect((await admission.decide(job('acme'))).accept).toBe(true);
    delay.p99 = 61;
    const d = await admission.decide(job('acme'));
    expect(d).toMatchObject({ accept: false, reason: 'worker_overloaded', tenant: 'acme' });
    if (d.accept) return;
    expect(d.message).toBe(
      'the worker is overloaded: event-loop delay p99 over the last 5s is 61 ms, above overload.maxLoopDelayMs (60 ms)',
    );
    expect(delay.asked.at(-1)).toBe(5_000);
    expect(rejects.at(-1)).toMatchObject({ tenant: 'acme', reason: 'worker_overloaded' });
    expect(admission.tenantStat('acme')?.rejected.worker_overloaded).toBe(1);
    expect(admission.totals().rejected.worker_overloaded).toBe(1);
    // The config source is not asked for a call the worker will not take.
    const before = loads();
    await admission.decide(job('globex'));
    expect(loads()).toBe(before);
  });

  it('comes after draining and tenant validation, before config and caps', async () => {
    const { admission, delay } = setup({ enabled: true, maxLoopDelayMs: 60, windowMs: 3_000 });
    delay.p99 = 500;
    expect(
      await admission.decide({ ...job('x'), metadata: '{"tenant":"bad tenant"}' }),
    ).toMatchObject({ reason: 'invalid_tenant' });
    admission.setDraining(true);
    expect(await admission.decide(job('acme'))).toMatchObject({ reason: 'draining' });
  });

  it('is off when disabled, and a settings update (config reload) switches it', async () => {
    const { admission, delay, settings } = setup({
      enabled: false,
      maxLoopDelayMs: 60,
      windowMs: 3_000,
    });
    delay.p99 = 500;
    expect((await admission.decide(job('acme'))).accept).toBe(true);
    admission.updateSettings({
      ...settings,
      overload: { enabled: true, maxLoopDelayMs: 60, windowMs: 3_000 },
    });
    expect(await admission.decide(job('acme'))).toMatchObject({ reason: 'worker_overloaded' });
    admission.updateSettings({
      ...settings,
      overload: { enabled: true, maxLoopDelayMs: 600, windowMs: 3_000 },
    });
    expect((await admission.decide(job('acme'))).accept).toBe(true);
  });
});

describe('rejections the worker host answers itself', () => {
  it('are counted like every other reason, with their log event, on the worker when no tenant is known', () => {
    const { admission, rejects } = setup(undefined);
    admission.recordRejection({
      jobId: 'J-a',
      reason: 'internal_error',
      message: 'admission failed',
    });
    admission.recordRejection({
      jobId: 'J-b',
      reason: 'unknown_agent',
      message: 'no agent "x" on this worker',
    });
    admission.recordRejection({
      jobId: 'J-c',
      reason: 'internal_error',
      message: 'admission did not answer within 2500 ms',
      elapsedMs: 2_500,
    });
    expect(admission.rejectedWithoutTenant()).toMatchObject({
      internal_error: 2,
      unknown_agent: 1,
    });
    expect(admission.tenantStats()).toEqual([]);
    expect(admission.totals().rejected).toMatchObject({ internal_error: 2, unknown_agent: 1 });
    expect(rejects.map((r) => [r.reason, r.elapsedMs])).toEqual([
      ['internal_error', 0],
      ['unknown_agent', 0],
      ['internal_error', 2_500],
    ]);
  });
});
