// The LiveKit server the tests and benchmarks run against: one pinned tag, built from the Go
// module proxy into a folder git ignores. The install script and the test harness both read the
// pin and the path from here.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Pinned because later commits on LiveKit's main add `replace` lines to go.mod, which
 * `go install module@version` refuses.
 */
export const LIVEKIT_SERVER_VERSION = '1.13.5';
export const LIVEKIT_SERVER_MODULE = 'github.com/livekit/livekit-server/cmd/server';
export const INSTALL_COMMAND = 'npm run livekit-server:install';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The version is part of the path, so a bumped pin builds anew and an unchanged one is a no-op. */
export const INSTALL_DIR = path.join(REPO, '.livekit', `v${LIVEKIT_SERVER_VERSION}`, 'bin');

/** `go install` names the binary after the package folder, `cmd/server`. */
export const INSTALLED_BINARY = path.join(INSTALL_DIR, 'server');

export interface ServerBinary {
  path: string;
  /** Where the path came from, for messages. */
  source: 'LIVEKIT_SERVER_BIN' | 'installed';
}

/** `LIVEKIT_SERVER_BIN` when set, else the installed pin; undefined when neither exists. */
export function findServerBinary(env: NodeJS.ProcessEnv = process.env): ServerBinary | undefined {
  const override = env.LIVEKIT_SERVER_BIN;
  if (override)
    return existsSync(override) ? { path: override, source: 'LIVEKIT_SERVER_BIN' } : undefined;
  return existsSync(INSTALLED_BINARY) ? { path: INSTALLED_BINARY, source: 'installed' } : undefined;
}
