import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/config-error.js';
import { loadConfig } from '../../src/config/load-config.js';
import { checkHealth } from '../../src/http/health.js';
import { OTHER_TENANT_LABEL, TenantLabels } from '../../src/metrics/tenant-labels.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function load(body: string) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'openrtc-prodcfg-'));
  dirs.push(dir);
  writeFileSync(path.join(dir, 'openrtc.config.ts'), body);
  return loadConfig(undefined, dir, {});
}

async function problems(body: string): Promise<string[]> {
  try {
    await load(body);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected the config to be rejected');
}

describe('production settings in the config', () => {
  it('defaults: load 0.7 / 80 ms, overload on at 60 ms over 5 s, metrics 500 tenants, warm start, http port by command', async () => {
    const { config } = await load(`export default { agents: { demo: './a.ts' } };`);
    expect(config.load).toEqual({ threshold: 0.7, loopDelayFullMs: 80 });
    // enabled is left to the command: on for start, off for dev.
    expect(config.overload).toEqual({ maxLoopDelayMs: 60, windowMs: 5_000 });
    expect(config.metrics).toEqual({ maxTenants: 500 });
    expect(config.http).toEqual({ loopStallMs: 2_000 });
    expect(config.warmStart).toBe(true);
  });

  it('accepts the empty agent name for automatic dispatch', async () => {
    const { config } = await load(
      `export default { agents: { '': './auto.ts', named: './named.ts' } };`,
    );
    expect(Object.keys(config.agents)).toEqual(['', 'named']);
  });

  it('names each bad field', async () => {
    expect(
      await problems(
        `export default { agents: { demo: './a.ts' }, load: { threshold: 1.5 }, overload: { enabled: 'yes', windowMs: 60000 }, http: { port: 70000 }, metrics: { maxTenants: 0 }, warmStart: 1 };`,
      ),
    ).toEqual([
      'load.threshold: expected a ratio in (0, 1], got 1.5',
      'overload.enabled: expected true or false, got "yes"',
      'overload.windowMs: expected at most 10000 ms, got 60000',
      'http.port: expected a port 0-65535 or false, got 70000',
      'metrics.maxTenants: expected a positive integer, got 0',
      'warmStart: expected true or false, got 1',
    ]);
  });
});

describe('checkHealth', () => {
  const up = {
    draining: false,
    inference: { expected: false } as const,
    registered: true,
    loopStalled: false,
  };
  it('OK only when nothing is wrong; stock wording for stock reasons; first reason wins', () => {
    expect(checkHealth(up)).toEqual({ healthy: true, message: 'OK' });
    expect(checkHealth({ ...up, registered: false })).toEqual({
      healthy: false,
      message: 'not connected to livekit',
    });
    expect(
      checkHealth({ ...up, inference: { expected: true, running: false }, registered: false }),
    ).toEqual({ healthy: false, message: 'inference process not running' });
    expect(checkHealth({ ...up, inference: { expected: true, running: true } })).toEqual({
      healthy: true,
      message: 'OK',
    });
    expect(checkHealth({ ...up, loopStalled: true })).toEqual({
      healthy: false,
      message: 'event loop stalled',
    });
    expect(checkHealth({ ...up, draining: true, registered: false, loopStalled: true })).toEqual({
      healthy: false,
      message: 'draining',
    });
    // A recycling worker is draining too; the body says why, so a probe log tells the two apart.
    expect(checkHealth({ ...up, draining: true, recycling: true })).toEqual({
      healthy: false,
      message: 'recycling',
    });
  });
});

describe('TenantLabels', () => {
  it('gives the first N tenants their own label for good and folds the rest', () => {
    const labels = new TenantLabels(2);
    expect(labels.claim('a')).toBe('a');
    expect(labels.claim('b')).toBe('b');
    expect(labels.claim('c')).toBe(OTHER_TENANT_LABEL);
    expect(labels.claim('a')).toBe('a');
    expect(labels.peek('d')).toBe(OTHER_TENANT_LABEL);
    expect(labels.foldedCount).toBe(1);
    // A lower limit stops new labels; existing ones stay, so no series changes meaning.
    labels.setLimit(1);
    expect(labels.claim('b')).toBe('b');
    expect(labels.owns('c')).toBe(false);
    expect(labels.ownCount).toBe(2);
  });
});
