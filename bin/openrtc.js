#!/usr/bin/env node
// The `openrtc` command. An installed package runs its build (dist/, plain JavaScript: no
// TypeScript loader for openrtc's own code). A checkout of the repository (it has src/) runs its
// TypeScript sources through tsx, so a fresh clone works after `npm ci` with no build step and an
// edit to src/ is what runs next, never an older build. OPENRTC_DIST=1 runs a checkout's build
// (`npm run build` first), as the start-up benchmark does to compare the two.
import { existsSync } from 'node:fs';
import { register as registerHooks } from 'node:module';

const sources = new URL('../src/cli/main.ts', import.meta.url);
const useSources = process.env.OPENRTC_DIST !== '1' && existsSync(sources);

/** @type {{ main(argv: string[]): Promise<number> }} */
let cli;
if (useSources) {
  // A worker imports @livekit/agents (about 700 modules). Loaded before tsx's hooks are
  // registered, they skip the hooks' per-module round trip (about 0.2 s of start-up); the
  // TypeScript that imports them later gets the same, already-loaded modules. A supervisor
  // (`--workers`) runs no session, so it does not load them.
  const worker =
    (process.argv[2] === 'start' || process.argv[2] === 'dev') &&
    !process.argv.some((a) => a === '--workers' || a.startsWith('--workers='));
  if (worker) await import('@livekit/agents');
  const { register } = await import('tsx/esm/api');
  register();
  registerHooks('./checkout-conditions.js', import.meta.url);
  cli = await import(sources.href);
} else {
  const built = new URL('../dist/cli/main.js', import.meta.url);
  if (!existsSync(built)) {
    process.stderr.write(
      'openrtc: no build found (dist/cli/main.js): run `npm run build`, or reinstall the package\n',
    );
    process.exit(1);
  }
  cli = await import(built.href);
}
process.exitCode = await cli.main(process.argv);
