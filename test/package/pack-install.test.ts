// The package as a user gets it: `npm pack` (which builds dist/), installed into a fresh ESM
// project that has no tsx or @types/node of its own, then used as a library and as the CLI.
// One pack, one install (from the npm cache where it can), one `openrtc dev` with one dispatch.
// OPENRTC_PACK_DIR names a folder that keeps the packed and installed project between runs: CI
// packs and installs once, on Node 20, and runs this file again on Node 22 and 24 against it.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, REPO_ROOT, startWorkerProcess } from '../support/dev-worker.js';

const run = promisify(execFile);
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const repoPackage = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {
  peerDependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

interface PackedFile {
  path: string;
}

let work: string;
let app: string;
let packed: PackedFile[];

/** The environment a user's shell would have: no LiveKit settings, no test runner's conditions. */
function userEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' };
  for (const key of ['LIVEKIT_URL', 'LIVEKIT_API_KEY', 'LIVEKIT_API_SECRET', 'NODE_OPTIONS'])
    delete env[key];
  return env;
}

function write(file: string, text: string): void {
  writeFileSync(path.join(app, file), text);
}

const sharedDir = process.env.OPENRTC_PACK_DIR;

async function packAndInstall(): Promise<PackedFile[]> {
  const { stdout } = await run(NPM, ['pack', '--json', '--pack-destination', work], {
    cwd: REPO_ROOT,
    env: userEnv(),
    maxBuffer: 16 * 1024 * 1024,
  });
  const [info] = JSON.parse(stdout) as [{ filename: string; files: PackedFile[] }];
  mkdirSync(app);
  write('package.json', JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  // The peers as the README's Install section names them, at the versions this repo tests.
  const peers = Object.keys(repoPackage.peerDependencies).map(
    (name) => `${name}@${repoPackage.devDependencies[name]}`,
  );
  await run(
    NPM,
    [
      'install',
      '--prefer-offline',
      '--no-audit',
      '--no-fund',
      path.join(work, info.filename),
      ...peers,
    ],
    { cwd: app, env: userEnv(), maxBuffer: 16 * 1024 * 1024 },
  );
  return info.files;
}

beforeAll(async () => {
  if (sharedDir) mkdirSync(sharedDir, { recursive: true });
  work = sharedDir ?? mkdtempSync(path.join(os.tmpdir(), 'openrtc-pack-'));
  app = path.join(work, 'app');
  const done = path.join(work, 'packed-files.json');
  if (existsSync(done)) {
    packed = JSON.parse(readFileSync(done, 'utf8')) as PackedFile[];
    return;
  }
  rmSync(app, { recursive: true, force: true });
  packed = await packAndInstall();
  writeFileSync(done, JSON.stringify(packed));
}, 600_000);

afterAll(async () => {
  // A few hundred MB of node_modules: slow to delete on a busy disk.
  if (work && !sharedDir) await rm(work, { recursive: true, force: true });
}, 120_000);

describe('the packed tarball', () => {
  it('ships the build and the launcher, not the repository', () => {
    const paths = packed.map((f) => f.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        'package.json',
        'README.md',
        'bin/openrtc.js',
        'dist/index.js',
        'dist/index.d.ts',
        'dist/cli/main.js',
        // Loaded by path at run time, not by import: the build must carry them.
        'dist/config/reload-hooks.js',
        'dist/inference/process-main.js',
        'dist/store/lua/acquire-lease.lua',
      ]),
    );
    const unwanted = paths.filter((p) =>
      /^(src|test|bench|scripts|examples|runbooks|\.ci)\/|tsbuildinfo|^bin\/(?!openrtc\.js$)/.test(
        p,
      ),
    );
    expect(unwanted).toEqual([]);
  });

  it('installed the peers once, beside openrtc, so agent code shares their objects', () => {
    const nested = ['@livekit/agents', '@livekit/rtc-node'].map((name) =>
      path.join(app, 'node_modules/openrtc/node_modules', name),
    );
    for (const dir of nested) expect(() => readFileSync(path.join(dir, 'package.json'))).toThrow();
    const own = JSON.parse(readFileSync(path.join(app, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    expect(Object.keys(own.dependencies).sort()).toEqual([
      '@livekit/agents',
      '@livekit/rtc-node',
      'openrtc',
    ]);
  });
});

describe('a project that installed it', () => {
  it('imports the public API from plain JavaScript with node alone', async () => {
    write(
      'a.js',
      `import { defineConfig, currentTenant, tenantProviders, logger } from 'openrtc';
const config = defineConfig({ name: 'consumer', agents: {} });
console.log(JSON.stringify({ name: config.name, fns: [typeof currentTenant, typeof tenantProviders, typeof logger] }));
`,
    );
    const { stdout } = await run(process.execPath, ['a.js'], { cwd: app, env: userEnv() });
    expect(JSON.parse(stdout)).toEqual({
      name: 'consumer',
      fns: ['function', 'function', 'function'],
    });
  });

  it('type-checks a TypeScript consumer against the declarations, with no @types/node', async () => {
    write(
      'b.ts',
      `import { defineConfig, currentTenant, type TenantConfig } from 'openrtc';
const acme: TenantConfig = { instructions: 'You are the Acme line.', greeting: 'Hello.' };
export default defineConfig({ name: 'consumer', agents: {}, tenants: { config: { acme } } });
export const tenantId = (): string => currentTenant().id;
// The declarations are real types, not any: a wrong field type is an error.
// @ts-expect-error maxConcurrentSessions is a number
defineConfig({ name: 'consumer', agents: {}, maxConcurrentSessions: 'many' });
`,
    );
    write(
      'tsconfig.json',
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noEmit: true,
          // What `tsc --init` writes: declaration files are trusted, not re-checked.
          skipLibCheck: true,
          types: [],
        },
        files: ['b.ts'],
      }),
    );
    // The consumer's own compiler would be its devDependency; this repo's is the same release.
    const tsc = path.join(REPO_ROOT, 'node_modules/typescript/bin/tsc');
    // Exits non-zero (and the run rejects) on any type error.
    const { stdout } = await run(process.execPath, [tsc, '--noEmit', '-p', '.', '--listFiles'], {
      cwd: app,
    });
    const files = stdout.split('\n');
    expect(files.some((f) => f.endsWith('node_modules/openrtc/dist/index.d.ts'))).toBe(true);
    // openrtc's own sources are not the consumer's to check, and it needs no Node types from us.
    expect(
      files.filter((f) => /node_modules\/openrtc\/(?!dist\/|node_modules\/).*\.tsx?$/.test(f)),
    ).toEqual([]);
    expect(files.filter((f) => f.includes('@types/node'))).toEqual([]);
  }, 120_000);

  it('runs `npx openrtc --help`', async () => {
    const { stdout } = await run('npx', ['--no-install', 'openrtc', '--help'], {
      cwd: app,
      env: userEnv(),
    });
    expect(stdout).toContain('Usage: openrtc');
    expect(stdout).toContain('dispatch');
  });

  it('runs `openrtc dev` with a .js config and agent (and a .ts one), through one dispatch', async () => {
    write(
      'agent.js',
      `import { defineAgent } from '@livekit/agents';
import { currentTenant, logger } from 'openrtc';
export default defineAgent({
  entry: async () => {
    logger().info({ consumer_tenant: currentTenant().id }, 'consumer agent ran');
  },
});
`,
    );
    // A TypeScript agent beside it: the build registers tsx only to load this one (the worker
    // would not start if it could not).
    write(
      'typed-agent.ts',
      `import { defineAgent, type JobContext } from '@livekit/agents';
export default defineAgent({ entry: async (ctx: JobContext): Promise<void> => { await ctx.connect(); } });
`,
    );
    write(
      'openrtc.config.js',
      `import { defineConfig } from 'openrtc';
export default defineConfig({ name: 'consumer', agents: { hello: './agent.js', typed: './typed-agent.ts' }, warmStart: false, inference: { enabled: false } });
`,
    );
    const port = String(await freePort());
    const worker = await startWorkerProcess({
      bin: path.join(app, 'node_modules/openrtc/bin/openrtc.js'),
      cwd: app,
      args: ['dev', '--port', port, '--log-format', 'json'],
      env: { ONNXRUNTIME_NODE_INSTALL: 'skip' },
    });
    try {
      // No --url: dispatch finds the dev worker's local dispatcher through its socket.
      const env = { ...userEnv(), OPENRTC_RUNTIME_DIR: worker.runtimeDir };
      const { stdout } = await run(
        process.execPath,
        [
          path.join(app, 'node_modules/openrtc/bin/openrtc.js'),
          'dispatch',
          '--agent',
          'hello',
          '--tenant',
          'acme',
        ],
        { cwd: app, env },
      );
      expect(stdout).toContain('1/1 accepted');
      const line = await worker.waitForLog((l) => l.msg === 'consumer agent ran');
      expect(line).toMatchObject({ consumer_tenant: 'acme', tenant: 'acme', agent: 'hello' });

      // A reload goes through the build's own module hooks (dist/config/reload-hooks.js).
      write('caps.js', 'export const caps = { acme: 3 };\n');
      write(
        'openrtc.config.js',
        readFileSync(path.join(app, 'openrtc.config.js'), 'utf8')
          .replace(
            "import { defineConfig } from 'openrtc';",
            "$&\nimport { caps } from './caps.js';",
          )
          .replace('warmStart: false,', 'warmStart: false, tenants: { maxSessions: caps },'),
      );
      const reload = await run(
        process.execPath,
        [path.join(app, 'node_modules/openrtc/bin/openrtc.js'), 'config', 'reload'],
        { cwd: app, env },
      );
      expect(reload.stdout).toContain('changed: tenants.maxSessions');
    } finally {
      await worker.stop();
    }
    expect(await worker.exited).toBe(0);
  }, 120_000);
});
