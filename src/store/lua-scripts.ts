import { readFileSync } from 'node:fs';

/**
 * The store's Lua scripts, each in its own file named for what it does (as BullMQ keeps its
 * `src/commands/`). ioredis loads them with `defineCommand`: EVALSHA, with one EVAL when Redis
 * does not know the script yet (after a restart, or `SCRIPT FLUSH`).
 */
export const SCRIPTS = {
  admitSession: { file: 'admit-session.lua', keys: 5 },
  acquireLease: { file: 'acquire-lease.lua', keys: 2 },
  renewLeases: { file: 'renew-leases.lua', keys: 2 },
  leaseCounts: { file: 'lease-counts.lua', keys: 1 },
  breakerTransition: { file: 'breaker-transition.lua', keys: 3 },
  breakerStates: { file: 'breaker-states.lua', keys: 1 },
  restoreBreakers: { file: 'restore-breakers.lua', keys: 1 },
  storeTime: { file: 'store-time.lua', keys: 0 },
} as const;

export type ScriptName = keyof typeof SCRIPTS;

/**
 * Redis runs one self-contained script per call, so code two scripts share (the breaker, the
 * lease checks) lives in `lua/includes/` and is inlined where a line reads `--- @include "name"`,
 * as BullMQ's script loader does.
 */
const INCLUDE = /^--- @include "([a-z-]+)"$/gm;

export function scriptSource(name: ScriptName): string {
  return inline(read(SCRIPTS[name].file), new Set());
}

function read(file: string): string {
  return readFileSync(new URL(`./lua/${file}`, import.meta.url), 'utf8');
}

function inline(source: string, seen: Set<string>): string {
  return source.replace(INCLUDE, (_line, include: string) => {
    // Each include once per script: a second copy would redefine its locals.
    if (seen.has(include)) return '';
    seen.add(include);
    return inline(read(`includes/${include}.lua`), seen);
  });
}
