/** What tsx compiles: the user's TypeScript config, agent and project modules. */
const TYPESCRIPT = /\.[cm]?tsx?$/;

// openrtc's own code runs from its build as plain JavaScript; only a user's TypeScript needs a
// loader. When openrtc itself runs from its TypeScript sources (a checkout), the launcher has
// registered tsx already.
let registered = import.meta.url.endsWith('.ts');

/**
 * Registers tsx's module hooks before `file` is imported, when it is TypeScript: once per process,
 * and never for a plain `.js` config and agents, which load with Node alone.
 */
export async function ensureTypeScriptLoader(file: string): Promise<void> {
  if (registered || !TYPESCRIPT.test(file)) return;
  registered = true;
  const { register } = await import('tsx/esm/api');
  register();
}
