import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXIT } from '../../src/protocol/exit-codes.js';
import { loadConfig } from '../../src/config/load-config.js';
import type { StoreSettings } from '../../src/config/schema.js';
import { useRedisStore } from '../../src/config/store-override.js';
import {
  resolveWorkerCount,
  storeKind,
  workerCountRefusal,
} from '../../src/supervisor/worker-count.js';
import { REPO_ROOT } from '../support/dev-worker.js';
import { runCli } from '../support/run-cli.js';

const CONFIG = path.join(REPO_ROOT, 'test/fixtures/recycle.config.ts');

describe('--workers', () => {
  it('auto is one worker per core the process may use', () => {
    expect(resolveWorkerCount('auto')).toBe(os.availableParallelism());
    expect(resolveWorkerCount(3)).toBe(3);
  });

  it('refuses more than one worker with the memory store, and says why', async () => {
    const { config } = await loadConfig(CONFIG);
    expect(storeKind(config)).toBe('memory');
    expect(workerCountRefusal(1, config)).toBeUndefined();
    expect(workerCountRefusal(4, config)).toBe(
      '--workers 4 needs a shared store: with the memory store each worker enforces the caps on its own, so a tenant would get 4 times its cap; configure the Redis store (or pass --redis URL), or run one worker',
    );
    // A shared store (`tenants.store` naming Redis) lifts the refusal.
    const redis: StoreSettings = {
      redis: { url: 'redis://127.0.0.1:6379', keyPrefix: 'openrtc:' },
      onUnavailable: 'local',
      onUnavailableAtStart: 'exit',
      timeoutMs: 250,
      leaseTtlMs: 15_000,
      renewIntervalMs: 5_000,
    };
    const redisConfig = { ...config, tenants: { ...config.tenants, store: redis } };
    expect(storeKind(redisConfig)).toBe('redis');
    expect(workerCountRefusal(4, redisConfig)).toBeUndefined();
  });

  it('--redis URL makes this run a fleet: the memory store becomes Redis, a Redis store takes the URL', async () => {
    const { config } = await loadConfig(CONFIG);
    useRedisStore(config, 'redis://10.0.0.5:6379');
    expect(config.tenants.store).toEqual({
      redis: { url: 'redis://10.0.0.5:6379', keyPrefix: 'openrtc:' },
      onUnavailable: 'local',
      onUnavailableAtStart: 'exit',
      timeoutMs: 250,
      leaseTtlMs: 15_000,
      renewIntervalMs: 5_000,
    });
    expect(workerCountRefusal(3, config)).toBeUndefined();
    const tuned: StoreSettings = {
      redis: { url: 'redis://old:6379', keyPrefix: 'eu:' },
      onUnavailable: 'reject',
      onUnavailableAtStart: 'degraded',
      timeoutMs: 100,
      leaseTtlMs: 9_000,
      renewIntervalMs: 3_000,
    };
    config.tenants.store = tuned;
    useRedisStore(config, 'redis://new:6379');
    expect(config.tenants.store).toEqual({
      ...tuned,
      redis: { url: 'redis://new:6379', keyPrefix: 'eu:' },
    });
  });

  it('start exits 2 with that one line, before starting anything; a bad count is a usage error', async () => {
    const refused = await runCli(['start', '--workers', '2', '--config', CONFIG]);
    expect(refused.code).toBe(EXIT.usage);
    expect(refused.stdout).toBe('');
    expect(refused.stderr.trim().split('\n')).toEqual([
      'openrtc: --workers 2 needs a shared store: with the memory store each worker enforces the caps on its own, so a tenant would get 2 times its cap; configure the Redis store (or pass --redis URL), or run one worker',
    ]);
    const bad = await runCli(['start', '--workers', 'many', '--config', CONFIG]);
    expect(bad.code).toBe(EXIT.usage);
    expect(bad.stderr).toContain('--workers must be a positive integer or "auto", got "many"');
    const notRedis = await runCli(['start', '--redis', 'http://x:1', '--config', CONFIG]);
    expect(notRedis.code).toBe(EXIT.usage);
    expect(notRedis.stderr).toContain('--redis: expected a redis:// or rediss:// URL');
  }, 30_000);
});
