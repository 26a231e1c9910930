import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/config-error.js';
import { loadConfig } from '../../src/config/load-config.js';

const dirs: string[] = [];
function configDir(body: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'openrtc-config-'));
  dirs.push(dir);
  writeFileSync(path.join(dir, 'openrtc.config.ts'), body);
  return dir;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function problemsOf(body: string): Promise<string[]> {
  const dir = configDir(body);
  try {
    await loadConfig(undefined, dir, {});
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    const file = path.join(dir, 'openrtc.config.ts');
    for (const line of (err as Error).message.split('\n'))
      expect(line.startsWith(`${file}: `)).toBe(true);
    return (err as ConfigError).problems;
  }
  throw new Error('expected the config to be rejected');
}

describe('loadConfig', () => {
  it('fills every default and resolves agent paths relative to the file', async () => {
    const dir = configDir(`export default { agents: { demo: './agent.ts' } };`);
    const { config } = await loadConfig(undefined, dir, {
      LIVEKIT_URL: 'ws://lk:7880',
      LIVEKIT_API_KEY: 'k',
      LIVEKIT_API_SECRET: 's',
    });
    expect(config.agents.demo).toBe(path.join(dir, 'agent.ts'));
    expect(config.name).toBe('openrtc');
    expect(config.maxConcurrentSessions).toBeNull();
    expect(config.tenants.metadataKey).toBe('tenant');
    expect(config.tenants.defaultTenant).toBe('default');
    expect(config.tenants.requireConfig).toBe(false);
    expect(config.tenants.configCache).toEqual({
      ttlMs: 300_000,
      missTtlMs: 30_000,
      loadTimeoutMs: 5_000,
    });
    expect(config.circuitBreaker).toEqual({
      enabled: true,
      failureRatio: 0.5,
      minSamples: 5,
      windowMs: 60_000,
      cooldownMs: 30_000,
      halfOpenProbes: 1,
    });
    expect(config.drainTimeoutMs).toBe(30_000);
    expect(config.introspection).toEqual({
      attribution: 'sampled',
      blockThresholdMs: 50,
      slowFlagMs: 5_000,
    });
    expect(config.inference).toEqual({ enabled: 'auto' });
    expect(config.livekit).toEqual({ url: 'ws://lk:7880', apiKey: 'k', apiSecret: 's' });
  });

  it('names the field path and the bad value for a negative cap', async () => {
    expect(
      await problemsOf(
        `export default { agents: { a: './a.ts' }, tenants: { maxSessions: { acme: -1 } } };`,
      ),
    ).toEqual(['tenants.maxSessions.acme: expected a positive integer, got -1']);
  });

  it('takes an attribution mode and names an unknown one', async () => {
    const dir = configDir(
      `export default { agents: { a: './a.ts' }, introspection: { attribution: 'off' } };`,
    );
    expect((await loadConfig(undefined, dir, {})).config.introspection).toEqual({
      attribution: 'off',
      blockThresholdMs: 50,
      slowFlagMs: 5_000,
    });
    const problems = await problemsOf(
      `export default { agents: { a: './a.ts' }, introspection: { attribution: true } };`,
    );
    expect(problems).toEqual([
      'introspection.attribution: expected "sampled", "continuous" or "off", got true',
    ]);
  });

  it("takes inference.enabled 'auto', true or false and names anything else", async () => {
    for (const enabled of ["'auto'", 'true', 'false']) {
      const dir = configDir(
        `export default { agents: { a: './a.ts' }, inference: { enabled: ${enabled} } };`,
      );
      expect((await loadConfig(undefined, dir, {})).config.inference.enabled).toBe(
        JSON.parse(enabled.replaceAll("'", '"')),
      );
    }
    expect(
      await problemsOf(
        `export default { agents: { a: './a.ts' }, inference: { enabled: 'yes' } };`,
      ),
    ).toEqual(['inference.enabled: expected "auto", true or false, got "yes"']);
    expect(
      await problemsOf(`export default { agents: { a: './a.ts' }, inference: { enable: true } };`),
    ).toEqual([expect.stringMatching(/^inference: .*"enable"/)]);
  });

  it('reports every problem, one line each', async () => {
    const problems = await problemsOf(`export default {
      agents: {},
      maxConcurrentSessions: 2.5,
      circuitBreaker: { failureRatio: 2, cooldownMs: 'soon' },
      tenants: { defaultTenant: 'has space', maxSessions: { 'bad tenant': 3 } },
      unknownOption: true,
    };`);
    expect(problems).toEqual(
      expect.arrayContaining([
        'agents: expected at least one agent (name -> module path)',
        'maxConcurrentSessions: expected a positive integer, got 2.5',
        'circuitBreaker.failureRatio: expected a ratio in (0, 1], got 2',
        'circuitBreaker.cooldownMs: expected a duration in milliseconds, got "soon"',
        'tenants.defaultTenant: expected a tenant id (1-128 letters, digits, "-" or "_"), got "has space"',
      ]),
    );
    expect(problems.some((p) => p.startsWith('tenants.maxSessions.bad tenant'))).toBe(true);
    expect(problems.some((p) => p.includes('unknownOption'))).toBe(true);
  });

  it('accepts a callable tenant config and rejects a non-callable, non-record one', async () => {
    const dir = configDir(
      `export default { agents: { a: './a.ts' }, tenants: { config: async (t) => ({ instructions: t }) } };`,
    );
    const { config } = await loadConfig(undefined, dir, {});
    expect(typeof config.tenants.config).toBe('function');
    const problems = await problemsOf(
      `export default { agents: { a: './a.ts' }, tenants: { config: 42 } };`,
    );
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^tenants\.config: /);
  });

  it('explains a missing file and a file that throws', async () => {
    await expect(loadConfig('nope.config.ts', os.tmpdir(), {})).rejects.toThrow(
      /nope\.config\.ts: file not found/,
    );
    expect(await problemsOf(`throw new Error('boom'); export default {};`)).toEqual([
      'could not be evaluated: Error: boom',
    ]);
    expect(await problemsOf(`export const x = 1;`)).toEqual([
      'has no default export (export default defineConfig({...}))',
    ]);
  });

  it('re-reads the file on every load, so a reload sees edits', async () => {
    const dir = configDir(`export default { agents: { a: './a.ts' }, maxConcurrentSessions: 1 };`);
    expect((await loadConfig(undefined, dir, {})).config.maxConcurrentSessions).toBe(1);
    writeFileSync(
      path.join(dir, 'openrtc.config.ts'),
      `export default { agents: { a: './a.ts' }, maxConcurrentSessions: 7 };`,
    );
    expect((await loadConfig(undefined, dir, {})).config.maxConcurrentSessions).toBe(7);
  });

  it('never prints a long secret-looking value back', async () => {
    const problems = await problemsOf(
      `export default { agents: { a: './a.ts' }, tenants: { maxSessions: { acme: 'sk-live-0123456789abcdef0123456789abcdef0123' } } };`,
    );
    expect(problems.join('\n')).not.toContain('sk-live');
  });

  it('keeps every valid tenant id as a key, built-in names and __proto__ included', async () => {
    const record = '{"__proto__":1,"constructor":2,"toString":3,"*":4}';
    const dir = configDir(`export default {
      agents: { a: './a.ts' },
      tenants: {
        maxSessions: JSON.parse(${JSON.stringify(record)}),
        config: JSON.parse('{"__proto__":{"instructions":"p"},"valueOf":{"greeting":"v"}}'),
        phoneNumbers: JSON.parse('{"__proto__":"hasOwnProperty","+1555":"__proto__"}'),
      },
    };`);
    const { tenants } = (await loadConfig(undefined, dir, {})).config;
    expect(Object.entries(tenants.maxSessions).sort()).toEqual([
      ['*', 4],
      ['__proto__', 1],
      ['constructor', 2],
      ['toString', 3],
    ]);
    expect(Object.getPrototypeOf(tenants.maxSessions)).toBeNull();
    const config = tenants.config as Record<string, unknown>;
    expect(Object.hasOwn(config, '__proto__') && config.__proto__).toEqual({ instructions: 'p' });
    expect(Object.hasOwn(config, 'constructor')).toBe(false);
    expect(Object.entries(tenants.phoneNumbers as Record<string, string>).sort()).toEqual([
      ['+1555', '__proto__'],
      ['__proto__', 'hasOwnProperty'],
    ]);
  });
});

describe('recycle settings', () => {
  it('are off by default and take maxUptime in milliseconds or as a duration', async () => {
    const env = { LIVEKIT_URL: 'ws://lk:7880', LIVEKIT_API_KEY: 'k', LIVEKIT_API_SECRET: 's' };
    const none = await loadConfig(
      undefined,
      configDir(`export default { agents: { a: './a.ts' } };`),
      env,
    );
    expect(none.config.recycle).toEqual({});
    const set = await loadConfig(
      undefined,
      configDir(
        `export default { agents: { a: './a.ts' }, recycle: { maxSessions: 5000, maxRssMiB: 2048, maxNativeGrowthMiB: 512, maxUptime: '7d' } };`,
      ),
      env,
    );
    expect(set.config.recycle).toEqual({
      maxSessions: 5000,
      maxRssMiB: 2048,
      maxNativeGrowthMiB: 512,
      maxUptime: 7 * 86_400_000,
    });
    const ms = await loadConfig(
      undefined,
      configDir(`export default { agents: { a: './a.ts' }, recycle: { maxUptime: 3600000 } };`),
      env,
    );
    expect(ms.config.recycle.maxUptime).toBe(3_600_000);
  });

  it('name the field and the bad value', async () => {
    expect(
      await problemsOf(
        `export default { agents: { a: './a.ts' }, recycle: { maxSessions: 0, maxRssMiB: 'lots', maxUptime: 'soon', maxUptim: 1 } };`,
      ),
    ).toEqual([
      'recycle.maxSessions: expected a positive integer, got 0',
      'recycle.maxRssMiB: expected a positive integer, got "lots"',
      'recycle.maxUptime: expected a duration (milliseconds, or "90m", "24h", "7d"), got "soon"',
      'recycle: Unrecognized key: "maxUptim"',
    ]);
    expect(
      await problemsOf(`export default { agents: { a: './a.ts' }, recycle: { maxUptime: -5 } };`),
    ).toEqual([
      'recycle.maxUptime: expected a duration (milliseconds, or "90m", "24h", "7d"), got -5',
    ]);
  });
});
