#!/usr/bin/env node
// Launcher: TypeScript sources, the config file and agent modules all load through tsx, so a
// fresh clone runs after `npm ci` with no build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv);
