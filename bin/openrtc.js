#!/usr/bin/env node
// Launcher: TypeScript sources, the config file and agent modules all load through tsx, so a
// fresh clone runs after `npm ci` with no build step.
import { register } from 'tsx/esm/api';

// A worker imports @livekit/agents (about 700 modules). Loaded before tsx's hooks are registered,
// they skip the hooks' per-module round trip (about 0.2 s of start-up); the TypeScript that
// imports them later gets the same, already-loaded modules.
if (process.argv[2] === 'start' || process.argv[2] === 'dev') await import('@livekit/agents');

register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv);
