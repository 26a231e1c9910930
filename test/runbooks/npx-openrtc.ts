import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { OPENRTC_BIN } from '../support/dev-worker.js';

/**
 * A folder holding an `npx` that runs `npx openrtc …` straight through this checkout's CLI, as
 * npx itself resolves it (to `node_modules/.bin/openrtc`, which is `bin/openrtc.js`), and hands
 * anything else to the real npx. The runbooks say `npx openrtc` thirty-odd times; npm's own start
 * costs about half a second each time and proves nothing about the runbook.
 */
export function npxOpenrtcShim(): { pathEntry: string; remove(): void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'openrtc-npx-'));
  const realPath = process.env.PATH ?? '';
  const script = [
    '#!/bin/sh',
    `if [ "$1" = openrtc ]; then shift; exec '${process.execPath}' '${OPENRTC_BIN}' "$@"; fi`,
    `PATH='${realPath}' exec npx "$@"`,
    '',
  ].join('\n');
  writeFileSync(path.join(dir, 'npx'), script);
  chmodSync(path.join(dir, 'npx'), 0o755);
  return { pathEntry: dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
