import { copyFileSync, existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { tsImport } from 'tsx/esm/api';
import { redactText } from '../secrets/redact-text.js';
import { ConfigError } from './config-error.js';
import { configSchema, type OpenrtcConfig } from './schema.js';

export const DEFAULT_CONFIG_FILES = ['openrtc.config.ts', 'openrtc.config.mts', 'openrtc.config.js', 'openrtc.config.mjs'];

export interface LoadedConfig {
  /** Absolute path of the file that was read. */
  file: string;
  config: OpenrtcConfig;
}

export function findConfigFile(explicit: string | undefined, cwd: string): string {
  if (explicit) return path.resolve(cwd, explicit);
  for (const name of DEFAULT_CONFIG_FILES) {
    const candidate = path.join(cwd, name);
    if (existsSync(candidate)) return candidate;
  }
  return path.join(cwd, DEFAULT_CONFIG_FILES[0]!);
}

const imported = new Set<string>();
let reloads = 0;

/**
 * Evaluates the config file again on every call (a reload must see the edited file), through the
 * process's one module graph: provider classes the file imports (and `openrtc` itself) must be
 * the same instances the agents use, or `instanceof` checks inside agents-js fail. Node caches a
 * module by URL, so a reload imports a same-directory copy under a new name.
 */
async function importFresh(file: string): Promise<unknown> {
  if (!imported.has(file)) {
    imported.add(file);
    try {
      return await import(pathToFileURL(file).href);
    } catch (err) {
      // A .ts file outside an ESM package is compiled as CommonJS, which Node cannot load through
      // import() from here; tsx's own loader can (in a graph of its own, which is fine for data).
      if (!(err instanceof Error && /require\(\) ES Module|ERR_REQUIRE/.test(`${(err as NodeJS.ErrnoException).code ?? ''} ${err.message}`))) throw err;
      imported.delete(file);
      return tsImport(pathToFileURL(file).href, import.meta.url);
    }
  }
  const ext = path.extname(file);
  const copy = path.join(path.dirname(file), `.${path.basename(file, ext)}.reload-${process.pid}-${++reloads}${ext}`);
  copyFileSync(file, copy);
  try {
    return await import(pathToFileURL(copy).href);
  } finally {
    rmSync(copy, { force: true });
  }
}

/**
 * Reads and validates a config file. The file should only produce data and callables; agents are
 * referenced by module path and loaded once by the session host.
 */
export async function loadConfig(explicit?: string, cwd = process.cwd(), env = process.env): Promise<LoadedConfig> {
  const file = findConfigFile(explicit, cwd);
  if (!existsSync(file)) throw new ConfigError(file, ['file not found (pass --config PATH or create openrtc.config.ts)']);

  let exported: unknown;
  try {
    const mod = (await importFresh(file)) as { default?: unknown };
    exported = unwrapCommonJs(mod.default);
  } catch (err) {
    throw new ConfigError(file, [`could not be evaluated: ${firstLine(err)}`]);
  }
  if (exported === undefined) throw new ConfigError(file, ['has no default export (export default defineConfig({...}))']);

  const parsed = configSchema.safeParse(exported);
  if (!parsed.success) throw ConfigError.fromZod(file, parsed.error);
  const config = parsed.data;

  // Environment fills what the file leaves out, as every LiveKit tool does.
  config.livekit = {
    url: config.livekit.url ?? (env.LIVEKIT_URL || undefined),
    apiKey: config.livekit.apiKey ?? (env.LIVEKIT_API_KEY || undefined),
    apiSecret: config.livekit.apiSecret ?? (env.LIVEKIT_API_SECRET || undefined),
  };

  const dir = path.dirname(file);
  for (const [name, entry] of Object.entries(config.agents)) {
    if (typeof entry === 'string') config.agents[name] = path.resolve(dir, entry);
  }
  return { file, config };
}

/** A config outside an ESM package is compiled as CommonJS; its default export sits one level down. */
function unwrapCommonJs(value: unknown): unknown {
  if (typeof value === 'object' && value !== null && Object.hasOwn(value, '__esModule')) {
    return (value as { default?: unknown }).default;
  }
  return value;
}

function firstLine(err: unknown): string {
  const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return redactText(text.split('\n')[0] ?? text);
}
