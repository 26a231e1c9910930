import type { OpenrtcConfig } from './schema.js';

export interface ConfigChanges {
  /** Dotted paths of settings whose value differs, e.g. `tenants.maxSessions.acme`. */
  changed: string[];
  /**
   * Settings whose values are functions or objects (a `tenants.config` loader, provider objects):
   * the new file's are in use, but what they hold cannot be compared, so they are never reported
   * as unchanged.
   */
  notCompared: string[];
  /** Changed settings a running worker cannot apply: they need a restart. */
  needsRestart: string[];
}

/** What a reload did, as the control socket reports it. */
export interface ConfigReload extends ConfigChanges {
  /** The files evaluated: the config file and the project modules it imports. */
  files: string[];
  /** False when only the config file itself could be re-read (its imports kept their start-up version). */
  wholeGraph: boolean;
}

/** Bound at start: the agents the worker registered, its LiveKit connection, its socket name, its HTTP listener, its inference process. */
const RESTART_ONLY = new Set(['agents', 'livekit', 'name', 'http', 'inference']);
const MAX_LISTED = 50;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === null || proto === Object.prototype;
}

/** Compares two validated configs setting by setting. */
export function diffConfigs(before: OpenrtcConfig, after: OpenrtcConfig): ConfigChanges {
  const changed: string[] = [];
  const notCompared = new Set<string>();
  const walk = (a: unknown, b: unknown, path: string[]): void => {
    if (a === b) return;
    if (isPlainObject(a) && isPlainObject(b)) {
      for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
        walk(
          Object.hasOwn(a, key) ? a[key] : undefined,
          Object.hasOwn(b, key) ? b[key] : undefined,
          [...path, key],
        );
      }
      return;
    }
    const opaque = (v: unknown) =>
      typeof v === 'function' ||
      (typeof v === 'object' && v !== null && !Array.isArray(v) && !isPlainObject(v));
    if (opaque(a) && opaque(b)) {
      // Two loaders, two provider objects: both exist, neither can be compared. Named by the
      // setting that holds them (`tenants.config`), not every provider inside.
      notCompared.add(path.slice(0, 2).join('.'));
      return;
    }
    if (Array.isArray(a) && Array.isArray(b) && JSON.stringify(a) === JSON.stringify(b)) return;
    changed.push(path.join('.'));
  };
  walk(before, after, []);
  const needsRestart = [
    ...new Set(changed.map((p) => p.split('.')[0]!).filter((top) => RESTART_ONLY.has(top))),
  ];
  return {
    changed: changed.filter((p) => !RESTART_ONLY.has(p.split('.')[0]!)).slice(0, MAX_LISTED),
    notCompared: [...notCompared].filter((p) => !RESTART_ONLY.has(p.split('.')[0]!)),
    needsRestart,
  };
}
