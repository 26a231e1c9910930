// `npm run livekit-server:install`: builds the pinned LiveKit server for the tests and benchmarks
// with `go install`, or does nothing when that version is already there. Exits non-zero, with
// the command and its output, when it cannot.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import {
  findServerBinary,
  INSTALL_DIR,
  INSTALLED_BINARY,
  LIVEKIT_SERVER_MODULE,
  LIVEKIT_SERVER_VERSION,
} from './livekit-server.js';

function reportedVersion(binary: string): string | undefined {
  try {
    // Prints "livekit-server version 1.13.5".
    return /(\d+\.\d+\.\d+)/.exec(
      execFileSync(binary, ['--version'], { encoding: 'utf8', timeout: 10_000 }),
    )?.[1];
  } catch {
    return undefined;
  }
}

function fail(message: string): never {
  process.stderr.write(`livekit-server:install: ${message}\n`);
  process.exit(1);
}

const override = process.env.LIVEKIT_SERVER_BIN;
if (override) {
  const found = findServerBinary();
  if (!found) fail(`LIVEKIT_SERVER_BIN=${override} does not exist`);
  const version = reportedVersion(found.path);
  if (!version)
    fail(`LIVEKIT_SERVER_BIN=${override} does not run (\`${override} --version\` failed)`);
  if (version !== LIVEKIT_SERVER_VERSION) {
    process.stdout.write(
      `livekit-server:install: warning: LIVEKIT_SERVER_BIN is version ${version}, the tests pin ${LIVEKIT_SERVER_VERSION}\n`,
    );
  }
  process.stdout.write(
    `livekit-server:install: using LIVEKIT_SERVER_BIN=${override} (version ${version}); nothing built\n`,
  );
  process.exit(0);
}

if (reportedVersion(INSTALLED_BINARY) === LIVEKIT_SERVER_VERSION) {
  process.stdout.write(
    `livekit-server:install: livekit-server ${LIVEKIT_SERVER_VERSION} already installed at ${INSTALLED_BINARY}; nothing to do\n`,
  );
  process.exit(0);
}

const target = `${LIVEKIT_SERVER_MODULE}@v${LIVEKIT_SERVER_VERSION}`;
const go = spawnSync('go', ['version'], { encoding: 'utf8' });
if (go.error || go.status !== 0)
  fail(
    `Go is not installed (needed to build ${target}); install Go, or set LIVEKIT_SERVER_BIN to a livekit-server binary`,
  );

mkdirSync(INSTALL_DIR, { recursive: true });
process.stdout.write(
  `livekit-server:install: building ${target} with ${go.stdout.trim()} into ${INSTALL_DIR} (a few minutes on a cold cache)\n`,
);
const started = Date.now();
const build = spawnSync('go', ['install', target], {
  stdio: ['ignore', 'inherit', 'inherit'],
  env: { ...process.env, GOBIN: INSTALL_DIR },
});
if (build.error || build.status !== 0)
  fail(
    `\`GOBIN=${INSTALL_DIR} go install ${target}\` failed (${build.error?.message ?? `exit ${build.status}`})`,
  );
const version = reportedVersion(INSTALLED_BINARY);
if (version !== LIVEKIT_SERVER_VERSION)
  fail(
    `built ${INSTALLED_BINARY}, but it reports version ${version ?? 'nothing'}, not ${LIVEKIT_SERVER_VERSION}`,
  );
process.stdout.write(
  `livekit-server:install: built livekit-server ${version} at ${INSTALLED_BINARY} in ${Math.round((Date.now() - started) / 1000)} s\n`,
);
