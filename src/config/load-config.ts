import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { redactText } from '../secrets/redact-text.js';
import { ConfigError } from './config-error.js';
import { EvaluationError, importFresh } from './fresh-import.js';
import { configSchema, type OpenrtcConfig } from './schema.js';

export const DEFAULT_CONFIG_FILES = [
  'openrtc.config.ts',
  'openrtc.config.mts',
  'openrtc.config.js',
  'openrtc.config.mjs',
];

export interface LoadedConfig {
  /** Absolute path of the file that was read. */
  file: string;
  config: OpenrtcConfig;
  /** Every file this load evaluated: the config file and the project modules it imports. */
  files: string[];
  /** False when a reload could read only the config file itself afresh, not what it imports. */
  wholeGraph: boolean;
}

export function findConfigFile(explicit: string | undefined, cwd: string): string {
  if (explicit) return path.resolve(cwd, explicit);
  for (const name of DEFAULT_CONFIG_FILES) {
    const candidate = path.join(cwd, name);
    if (existsSync(candidate)) return candidate;
  }
  return path.join(cwd, DEFAULT_CONFIG_FILES[0]!);
}

/**
 * Reads and validates a config file. The file should only produce data and callables; agents are
 * referenced by module path and loaded once by the session host.
 */
export async function loadConfig(
  explicit?: string,
  cwd = process.cwd(),
  env = process.env,
): Promise<LoadedConfig> {
  const file = findConfigFile(explicit, cwd);
  if (!existsSync(file))
    throw new ConfigError(file, [
      'file not found (pass --config PATH or create openrtc.config.ts)',
    ]);

  let exported: unknown;
  let fresh;
  try {
    fresh = await importFresh(file);
    exported = unwrapCommonJs((fresh.module as { default?: unknown }).default);
  } catch (err) {
    const files = err instanceof EvaluationError ? err.files : [file];
    throw new ConfigError(file, [
      `could not be evaluated: ${describeEvaluationError(err instanceof EvaluationError ? err.cause : err, files)}`,
    ]);
  }
  if (exported === undefined)
    throw new ConfigError(file, ['has no default export (export default defineConfig({...}))']);

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
  return { file, config, files: fresh.files, wholeGraph: fresh.wholeGraph };
}

/** A config outside an ESM package is compiled as CommonJS; its default export sits one level down. */
function unwrapCommonJs(value: unknown): unknown {
  if (typeof value === 'object' && value !== null && Object.hasOwn(value, '__esModule')) {
    return (value as { default?: unknown }).default;
  }
  return value;
}

/** tsx (esbuild) reports `Transform failed with 1 error:` and then `<file>:<line>:<column>: ERROR: <reason>`. */
const TRANSFORM_ERROR = /^(.+?):(\d+):(\d+): ERROR: (.+)$/m;
/** What `node --check` prints for a JavaScript syntax error: `<file>:<line>`, the line, a caret, then the error. */
const NODE_CHECK = /^(.+):(\d+)\n.*\n( *)\^+\s*\n\s*SyntaxError: (.+)$/m;
const JS_FILE = /\.(c|m)?js$/;

/**
 * One line saying why the file could not be evaluated: for a syntax error the file, line, column
 * and reason (of whichever file of `files` it is in), else the error's name and first line.
 * Secrets are masked; the reload query never shows.
 */
export function describeEvaluationError(err: unknown, files: string[]): string {
  const clean = (text: string) => redactText(text.replace(/\?openrtc-reload=\d+/g, ''));
  if (!(err instanceof Error)) return clean(String(err));
  const transform = TRANSFORM_ERROR.exec(err.message);
  // esbuild counts columns from 0; editors and Node count from 1.
  if (transform)
    return clean(
      `${transform[1]}:${transform[2]}:${Number(transform[3]) + 1}: syntax error: ${transform[4]}`,
    );
  if (err instanceof SyntaxError) {
    // Node keeps the place of a syntax error in a module out of the error it throws; asking it to
    // check the JavaScript files involved finds it.
    for (const candidate of files.filter((f) => JS_FILE.test(f))) {
      const check = spawnSync(process.execPath, ['--check', candidate], {
        encoding: 'utf8',
        timeout: 5_000,
      });
      const place = check.status !== 0 ? NODE_CHECK.exec(check.stderr) : null;
      if (place)
        return clean(`${place[1]}:${place[2]}:${place[3]!.length + 1}: syntax error: ${place[4]}`);
    }
  }
  const text = `${err.name}: ${err.message}`;
  return clean(text.split('\n')[0] ?? text);
}
