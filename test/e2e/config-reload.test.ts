import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startDevWorker, type DevWorker } from '../support/dev-worker.js';
import { runCli } from '../support/run-cli.js';
import { fixtureAgent } from '../support/runtime-rig.js';
import { scratchDir } from '../support/scratch-dir.js';

let worker: DevWorker | undefined;
afterEach(async () => {
  await worker?.stop();
  worker = undefined;
});

const LK_SECRET = 'QUOKKA-lk-secret-9f1';
const config = (extra = '') => `import { caps } from './caps.ts';
${extra}
export default {
  name: 'reload',
  agents: { demo: ${JSON.stringify(fixtureAgent('long-call-agent'))} },
  livekit: { apiSecret: ${JSON.stringify(LK_SECRET)} },
  tenants: { maxSessions: caps },
};
`;

// A .ts config in an ESM package is an ES module; outside one, tsx compiles it to CommonJS.
describe.each([
  ['an ES module', true],
  ['CommonJS', false],
])('openrtc config reload of a config that is %s', (_format, esm) => {
  it('sees an edit in a module the config imports, and shows where a syntax error is', async () => {
    const dir = scratchDir('ortc-reload-');
    if (esm) writeFileSync(path.join(dir, 'package.json'), '{ "type": "module" }\n');
    const file = path.join(dir, 'openrtc.config.ts');
    const caps = path.join(dir, 'caps.ts');
    writeFileSync(caps, 'export const caps = { acme: 2 };\n');
    writeFileSync(file, config());
    worker = await startDevWorker(['--config', file]);
    const env = worker.env;
    const configuredCap = async () =>
      (
        JSON.parse((await runCli(['tenant', 'show', 'acme', '--json'], env)).stdout) as {
          configuredCap: number;
        }
      ).configuredCap;
    expect(await configuredCap()).toBe(2);

    writeFileSync(caps, 'export const caps = { acme: 5 };\n');
    const reload = await runCli(['config', 'reload'], env);
    expect(reload.code, reload.stderr).toBe(0);
    expect(reload.stdout).toContain(
      'config reloaded from openrtc.config.ts and the 1 project file it imports (caps.ts); changed: tenants.maxSessions.acme',
    );
    expect(await configuredCap()).toBe(5);

    const again = await runCli(['config', 'reload'], env);
    expect(again.stdout).toContain('no setting changed');

    writeFileSync(caps, 'export const caps = { acme: 7 ;\n');
    const broken = await runCli(['config', 'reload'], env);
    expect(broken.code).toBe(1);
    expect(broken.stderr.trim()).toBe(
      `openrtc: ${file}: could not be evaluated: ${caps}:1:31: syntax error: Expected "}" but found ";"`,
    );
    expect(await configuredCap()).toBe(5);

    writeFileSync(caps, 'export const caps = { acme: 7 };\n');
    writeFileSync(file, config(`const stray = 1 ${JSON.stringify(LK_SECRET)};`));
    const brokenTop = await runCli(['config', 'reload'], env);
    expect(brokenTop.code).toBe(1);
    expect(brokenTop.stderr).toMatch(
      new RegExp(
        `^openrtc: ${file}: could not be evaluated: ${file}:2:\\d+: syntax error: .*\\[redacted\\]`,
      ),
    );
    expect(brokenTop.stderr + JSON.stringify(worker.logs)).not.toContain(LK_SECRET);
    expect(
      worker.logs.some((l) => l.includes('config reload refused') && l.includes('syntax error')),
    ).toBe(true);
  }, 120_000);
});

describe('openrtc config reload of a JavaScript config', () => {
  it('names the file, line and column of a syntax error in a module the config imports', async () => {
    const dir = scratchDir('ortc-reload-js-');
    const file = path.join(dir, 'openrtc.config.mjs');
    const caps = path.join(dir, 'caps.mjs');
    writeFileSync(caps, 'export const caps = { acme: 2 };\n');
    writeFileSync(file, config().replace("'./caps.ts'", "'./caps.mjs'"));
    worker = await startDevWorker(['--config', file]);
    writeFileSync(caps, '\nexport const caps = { acme: 3 ;\n');
    const broken = await runCli(['config', 'reload'], worker.env);
    expect(broken.code).toBe(1);
    expect(broken.stderr.trim()).toBe(
      `openrtc: ${file}: could not be evaluated: ${caps}:2:31: syntax error: Unexpected token ';'`,
    );
  }, 60_000);
});
