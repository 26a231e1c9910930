import { describe, expect, it } from 'vitest';
import { TenantConfigResolver } from '../../src/tenancy/config-resolver.js';
import type { TenantConfigSource } from '../../src/tenancy/types.js';
import { FakeClock } from '../support/fake-clock.js';

class SecretLLM {
  constructor(readonly apiKey: string) {}
  label() {
    return 'openai.LLM';
  }
}

function setup(source: TenantConfigSource) {
  const clock = new FakeClock();
  return {
    clock,
    resolver: new TenantConfigResolver({
      source,
      clock,
      ttlMs: 10_000,
      missTtlMs: 1_000,
      loadTimeoutMs: 500,
    }),
  };
}

describe('TenantConfigResolver', () => {
  it('keeps at most maxEntries cached results, whatever tenant ids traffic names', async () => {
    const clock = new FakeClock();
    const resolver = new TenantConfigResolver({
      source: {},
      clock,
      ttlMs: 10_000,
      missTtlMs: 1_000,
      loadTimeoutMs: 500,
      maxEntries: 100,
    });
    for (let i = 0; i < 5_000; i++) await resolver.resolve(`t${i}`);
    expect(resolver.cachedEntries).toBe(100);
    expect(resolver.describe('t4999').cached).toBe(true);
    expect(resolver.describe('t0').cached).toBe(false);
  });

  it('loads a cold tenant once for 100 concurrent requests', async () => {
    let calls = 0;
    let finishLoad!: () => void;
    const loaded = new Promise<void>((resolve) => (finishLoad = resolve));
    const { resolver } = setup(async () => {
      calls += 1;
      await loaded;
      return { instructions: 'hi' };
    });
    const pending = Array.from({ length: 100 }, () => resolver.resolve('acme'));
    finishLoad();
    const results = await Promise.all(pending);
    expect(calls).toBe(1);
    expect(results.every((r) => r.ok && r.config?.instructions === 'hi')).toBe(true);
  });

  it('caches hits for ttlMs and misses for missTtlMs', async () => {
    const calls: string[] = [];
    const { resolver, clock } = setup((t) => (calls.push(t), t === 'acme' ? {} : undefined));
    await resolver.resolve('acme');
    await resolver.resolve('nobody');
    clock.advance(999);
    expect(await resolver.resolve('nobody')).toEqual({ ok: true, config: undefined, cached: true });
    clock.advance(1);
    await resolver.resolve('nobody');
    clock.advance(8_999);
    expect(await resolver.resolve('acme')).toMatchObject({ cached: true });
    clock.advance(1);
    expect(await resolver.resolve('acme')).toMatchObject({ cached: false });
    expect(calls).toEqual(['acme', 'nobody', 'nobody', 'acme']);
  });

  it('never caches a failed load, and never leaks the key in the error', async () => {
    let fail = true;
    const { resolver } = setup(() => {
      if (fail) throw new Error('vault said no for key=sk-live-0123456789abcdef');
      return {};
    });
    const r = await resolver.resolve('acme');
    expect(r).toMatchObject({ ok: false, reason: 'tenant_config_error' });
    expect(JSON.stringify(r)).not.toContain('sk-live-0123456789abcdef');
    fail = false;
    expect(await resolver.resolve('acme')).toMatchObject({ ok: true, cached: false });
  });

  it('rejects a config of the wrong shape, naming the field', async () => {
    const { resolver } = setup({ acme: { instructions: 42 } as never });
    expect(await resolver.resolve('acme')).toEqual({
      ok: false,
      reason: 'tenant_config_error',
      message:
        'config for tenant "acme" is invalid: instructions: Invalid input: expected string, received number',
    });
  });

  it('times out a slow load', async () => {
    const { resolver, clock } = setup(() => new Promise(() => {}));
    const pending = resolver.resolve('acme');
    await Promise.resolve();
    clock.advance(500);
    expect(await pending).toMatchObject({ ok: false, reason: 'tenant_config_timeout' });
  });

  it('invalidate and invalidateAll force a fresh load; describe shows cache age', async () => {
    let n = 0;
    const { resolver, clock } = setup(() => ({
      llm: new SecretLLM('sk-live-SECRET'),
      greeting: `v${++n}`,
    }));
    await resolver.resolve('acme');
    clock.advance(2_000);
    expect(resolver.describe('acme')).toEqual({
      cached: true,
      ageMs: 2_000,
      hit: true,
      source: 'callable',
    });
    resolver.invalidate('acme');
    expect(resolver.describe('acme')).toEqual({ cached: false, source: 'callable' });
    const r = await resolver.resolve('acme');
    expect(r.ok && r.config?.greeting).toBe('v2');
    resolver.invalidateAll();
    const again = await resolver.resolve('acme');
    expect(again.ok && again.config?.greeting).toBe('v3');
  });
});
