import os from 'node:os';
import type { OpenrtcConfig } from '../config/schema.js';

export type WorkerCount = number | 'auto';

/** `auto`: one worker per core the process may use. */
export function resolveWorkerCount(requested: WorkerCount): number {
  return requested === 'auto' ? os.availableParallelism() : requested;
}

/**
 * The one place that reads which store the config names. The memory store lives in each worker,
 * so each of several workers would enforce every cap on its own and a tenant would get N times
 * its cap on one box; a shared store (Redis) holds the leases for all of them.
 */
export function storeKind(config: OpenrtcConfig): 'memory' | 'redis' {
  return config.tenants.store === 'memory' ? 'memory' : 'redis';
}

/** Why `count` workers cannot run with this config, or undefined when they can. */
export function workerCountRefusal(count: number, config: OpenrtcConfig): string | undefined {
  if (count <= 1 || storeKind(config) !== 'memory') return undefined;
  return `--workers ${count} needs a shared store: with the memory store each worker enforces the caps on its own, so a tenant would get ${count} times its cap; configure the Redis store (or pass --redis URL), or run one worker`;
}
