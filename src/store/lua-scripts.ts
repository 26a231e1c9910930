import { readFileSync } from 'node:fs';

/**
 * The store's Lua scripts, each in its own file named for what it does (as BullMQ keeps its
 * `src/commands/`). ioredis loads them with `defineCommand`: EVALSHA, with one EVAL when Redis
 * does not know the script yet (after a restart, or `SCRIPT FLUSH`).
 */
export const SCRIPTS = {
  acquireLease: { file: 'acquire-lease.lua', keys: 2 },
  renewLeases: { file: 'renew-leases.lua', keys: 2 },
  leaseCounts: { file: 'lease-counts.lua', keys: 1 },
  breakerTransition: { file: 'breaker-transition.lua', keys: 2 },
  storeTime: { file: 'store-time.lua', keys: 0 },
} as const;

export type ScriptName = keyof typeof SCRIPTS;

export function scriptSource(name: ScriptName): string {
  return readFileSync(new URL(`./lua/${SCRIPTS[name].file}`, import.meta.url), 'utf8');
}
