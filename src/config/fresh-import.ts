import { createRequire, register } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { errorMessage } from '../errors/describe-error.js';
import { ensureTypeScriptLoader } from './typescript-loader.js';

export interface FreshModule {
  module: unknown;
  /** The files this evaluation read: the config file and every project module it imports. */
  files: string[];
  /** False when only the config file itself could be read afresh (its imports are the start-up ones). */
  wholeGraph: boolean;
}

const PARAM = 'openrtc-reload';
/** openrtc's own sources: shared with the agents, never evaluated twice. */
const OWN_SOURCES = `${pathToFileURL(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')).href}/`;
const requireCache = createRequire(import.meta.url).cache;
/** `.ts` when openrtc runs from its sources, `.js` from its build. */
const OWN_EXTENSION = path.extname(fileURLToPath(import.meta.url));

interface Hooks {
  port: MessagePort;
  files: Map<number, Set<string>>;
  flushed: Map<number, () => void>;
}

let hooks: Hooks | undefined | null;
let generation = 0;
const commonJs = new Set<string>();
const imported = new Set<string>();

function installHooks(): Hooks | undefined {
  if (hooks !== undefined) return hooks ?? undefined;
  try {
    const { port1, port2 } = new MessageChannel();
    const installed: Hooks = { port: port1, files: new Map(), flushed: new Map() };
    port1.on('message', (m: { generation?: number; url?: string; flushed?: number }) => {
      if (m.flushed !== undefined) installed.flushed.get(m.flushed)?.();
      else if (m.generation !== undefined && m.url) {
        const set = installed.files.get(m.generation) ?? new Set<string>();
        set.add(m.url);
        installed.files.set(m.generation, set);
      }
    });
    port1.unref();
    register(new URL(`./reload-hooks${OWN_EXTENSION}`, import.meta.url), {
      data: { port: port2, param: PARAM, shared: [OWN_SOURCES] },
      transferList: [port2],
    });
    hooks = installed;
  } catch {
    hooks = null;
  }
  return hooks ?? undefined;
}

/** Waits until the hooks thread has posted every file of this generation (bounded: a missing hook never answers). */
function filesOf(h: Hooks, gen: number): Promise<string[]> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      h.flushed.delete(gen);
      const urls = [...(h.files.get(gen) ?? [])];
      h.files.delete(gen);
      resolve(urls.map(toPath));
    };
    const timer = setTimeout(done, 1_000);
    h.flushed.set(gen, done);
    h.port.postMessage({ flush: gen });
  });
}

/** An evaluation that failed, with the files it had reached (where a syntax error may be). */
export class EvaluationError extends Error {
  constructor(
    override readonly cause: unknown,
    readonly files: string[],
  ) {
    super(errorMessage(cause));
    this.name = 'EvaluationError';
  }
}

function toPath(url: string): string {
  const u = new URL(url);
  u.search = '';
  return fileURLToPath(u);
}

function isCommonJsFailure(err: unknown): boolean {
  return (
    err instanceof Error &&
    /require\(\) ES Module|ERR_REQUIRE/.test(
      `${(err as NodeJS.ErrnoException).code ?? ''} ${err.message}`,
    )
  );
}

/**
 * Evaluates `file` with the module graph it imports as they are on disk now. The first load is a
 * plain import; a reload goes through the module hooks above (ES modules) or through tsx with the
 * project's entries dropped from the require cache (a `.ts` config outside an ESM package is
 * compiled to CommonJS). Either way packages and openrtc itself keep their one instance.
 */
export async function importFresh(file: string): Promise<FreshModule> {
  const href = pathToFileURL(file).href;
  if (commonJs.has(file)) return importCommonJs(file, href);
  if (!imported.has(file)) {
    // tsx's hooks go first, so the reload hooks see (and tag) what tsx resolved.
    await ensureTypeScriptLoader(file);
    installHooks();
    try {
      const module = await import(href);
      imported.add(file);
      return { module, files: [file], wholeGraph: true };
    } catch (err) {
      if (!isCommonJsFailure(err)) throw err;
      commonJs.add(file);
      return importCommonJs(file, href);
    }
  }
  const gen = ++generation;
  const h = installHooks();
  let module: unknown;
  try {
    module = await import(`${href}?${PARAM}=${gen}`);
  } catch (err) {
    throw new EvaluationError(err, h ? ordered(file, await filesOf(h, gen)) : [file]);
  }
  const files = h ? await filesOf(h, gen) : [];
  if (!files.includes(file)) return { module, files: [file], wholeGraph: false };
  return { module, files: ordered(file, files), wholeGraph: true };
}

function ordered(file: string, files: string[]): string[] {
  return [file, ...files.filter((f) => f !== file)];
}

async function importCommonJs(file: string, href: string): Promise<FreshModule> {
  const ownDir = fileURLToPath(OWN_SOURCES);
  const project = (key: string) =>
    !key.includes(`${path.sep}node_modules${path.sep}`) &&
    !key.startsWith(ownDir) &&
    path.isAbsolute(key);
  for (const key of Object.keys(requireCache)) if (project(key)) delete requireCache[key];
  const { tsImport } = await import('tsx/esm/api');
  const module = await tsImport(href, import.meta.url);
  const files = Object.keys(requireCache)
    .filter(project)
    .map((key) => key.replace(/\?.*$/, ''));
  return { module, files: ordered(file, [...new Set(files)]), wholeGraph: true };
}
