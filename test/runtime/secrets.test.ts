import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { JobRecord } from '../../src/dispatcher/types.js';
import { SnapshotV1 } from '../../src/introspection/snapshot-schema.js';
import { REPO_ROOT } from '../support/dev-worker.js';
import { runCli } from '../support/run-cli.js';
import { FIXTURES, fixtureAgent, startRuntime, type RuntimeRig } from '../support/runtime-rig.js';
import { scratchDir } from '../support/scratch-dir.js';

/**
 * Distinctive fake keys, one per place a key can come from. None has a known prefix, a label
 * such as `apiKey=` or the length of a token, so no pattern could catch them: only the worker's
 * knowledge of the tenant's actual config can.
 */
const KEYS = {
  log: 'QUOKKA-log-7f3a9c',
  header: 'QUOKKA-header-41d0e2',
  deep: 'QUOKKA-deep-8e2b71',
  entry: 'QUOKKA-entry-c5a9f3',
  provider: 'QUOKKA-provider-2b8e1d',
  loader: 'QUOKKA-loader-5c4f0a',
};

const PROVIDERS = path.join(FIXTURES, 'providers/keyed-providers.ts');

const CONFIG = `import { KeyedLLM, KeyedSTT } from ${JSON.stringify(PROVIDERS)};
const K = ${JSON.stringify(KEYS)};
let vaultLoads = 0;
export default {
  name: 'rig',
  agents: { secret: ${JSON.stringify(fixtureAgent('secret-agent'))} },
  tenants: {
    config: (tenant) => {
      switch (tenant) {
        case 'acme':
          return {
            llm: new KeyedLLM({ apiKey: K.log, model: 'small', headers: { 'x-api-key': K.header } }),
            stt: new KeyedSTT({ region: 'eu', auth: { credentials: { token: K.deep } } }),
          };
        case 'entry':
          return { llm: new KeyedLLM({ apiKey: K.entry, model: 'small' }), settings: { failWith: 'entry' } };
        case 'provider':
          return { llm: new KeyedLLM({ apiKey: K.provider, model: 'small', failWith: 'provider' }) };
        case 'vault':
          vaultLoads += 1;
          if (vaultLoads > 1) throw new Error('vault refused the token ' + K.loader);
          return { llm: new KeyedLLM({ apiKey: K.loader, model: 'small' }) };
        default:
          return undefined;
      }
    },
  },
};
`;

let rig: RuntimeRig | undefined;
afterEach(async () => {
  await rig?.stop();
  rig = undefined;
});

function leaks(text: string, keys: Record<string, string>): string[] {
  return Object.entries(keys)
    .filter(([, key]) => text.includes(key))
    .map(([where]) => where);
}

describe('provider keys never leave the worker', () => {
  it('masks the values of the tenant config the worker resolved in every output', async () => {
    rig = await startRuntime(CONFIG);
    const r = rig;
    const updates: JobRecord[] = [];
    r.runtime.dispatcher!.on('job_updated', (j) => updates.push(j));
    const dispatch = (tenant: string) =>
      r.dispatch({ agentName: 'secret', metadata: JSON.stringify({ tenant }) });
    const ended = (jobId: string) =>
      r.runtime.dispatcher!.waitForJob(
        jobId,
        (j) => j.state === 'success' || j.state === 'failed',
        20_000,
      );

    const acme = await dispatch('acme');
    expect((await ended(acme.jobId)).state).toBe('success');
    const entry = await dispatch('entry');
    expect(await ended(entry.jobId)).toMatchObject({
      state: 'failed',
      error: 'entry_error: Error: provider rejected key [redacted]',
    });
    const provider = await dispatch('provider');
    const failedProvider = await ended(provider.jobId);
    expect(failedProvider.state).toBe('failed');
    expect(failedProvider.error).toMatch(
      /^agent_session_error: .*upstream refused the credential \[redacted\]/,
    );
    const vault = await dispatch('vault');
    expect((await ended(vault.jobId)).state).toBe('success');

    const reload = await r.cli(['tenant', 'reload', 'vault']);
    expect(reload.code, reload.stderr).toBe(0);
    const refused = await runCli(
      ['dispatch', '--agent', 'secret', '--tenant', 'vault', '--url', r.runtime.dispatcher!.url],
      r.env,
    );
    expect(refused.stdout).toMatch(
      /rejected tenant_config_error: config load for tenant "vault" failed: Error: vault refused the token \[redacted\]/,
    );

    // A config file whose evaluation fails with a key the running config holds.
    r.write(
      'openrtc.config.ts',
      `throw new Error('cannot decrypt ' + ${JSON.stringify(KEYS.deep)});\nexport default {};\n`,
    );
    const badReload = await r.cli(['config', 'reload']);
    expect(badReload.code).toBe(1);
    expect(badReload.stderr).toMatch(/could not be evaluated: Error: cannot decrypt \[redacted\]/);

    const top = await r.cli(['top', '--json']);
    expect(top.code, top.stderr).toBe(0);
    const snapshot = SnapshotV1.parse(JSON.parse(top.stdout));
    expect(snapshot.events.some((e) => e.message.includes('[redacted]'))).toBe(true);
    const shows = await Promise.all(
      ['acme', 'entry', 'provider', 'vault'].map((t) => r.cli(['tenant', 'show', t, '--json'])),
    );
    const list = await r.cli(['tenant', 'list', '--json']);

    const logText = JSON.stringify(r.log.lines());
    expect(logText).toContain('providers for this call');
    expect(logText).toContain('calling the model with key [redacted]');
    // agents-js's own line about the provider's failure, through the worker's logger, masked too.
    expect(logText).toContain('AgentSession is closing due to an unrecoverable error');
    const audit = r.log.lines().filter((l) => l.audit === true);
    expect(audit.length).toBeGreaterThan(0);
    const outputs: Record<string, string> = {
      log: logText,
      audit: JSON.stringify(audit),
      'CLI stdout and stderr': [reload, refused, badReload, top, list, ...shows]
        .map((c) => c.stdout + c.stderr)
        .join('\n'),
      'top --json': top.stdout,
      'tenant show --json': shows.map((s) => s.stdout).join('\n'),
      'updateJob messages': JSON.stringify(updates.map((u) => u.error)),
      'availability answers': JSON.stringify([acme, entry, provider, vault]),
    };
    for (const [where, text] of Object.entries(outputs))
      expect(leaks(text, KEYS), where).toEqual([]);
  }, 90_000);

  it('masks a key from a secret-named environment variable in a start-up error', async () => {
    const dir = scratchDir('ortc-secret-');
    const file = path.join(dir, 'openrtc.config.ts');
    writeFileSync(
      file,
      `throw new Error('provider rejected ' + process.env.ACME_OPENAI_API_KEY);\nexport default {};\n`,
    );
    const env = {
      ...process.env,
      ACME_OPENAI_API_KEY: 'QUOKKA-env-3d9a7b',
      OPENRTC_RUNTIME_DIR: dir,
    };
    const result = await runCli(['start', '--config', file], env);
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe(
      `${file}: could not be evaluated: Error: provider rejected [redacted]`,
    );
  }, 30_000);

  it('is the guarantee the README states, in the words these tests check', () => {
    const readme = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8').replace(/\s+/g, ' ');
    for (const words of [
      'Values it knows are masked wherever they would appear.',
      'every tenant config it has resolved',
      'environment variables whose names contain `API_KEY`',
      '**the log**',
      '**session errors and the `updateJob` messages sent to LiveKit**',
      '**rejection messages**',
      '**config and reload errors** (CLI stderr and the `config reload refused` log line)',
      '**snapshot events** (`openrtc top --json`)',
      '**control answers** (`openrtc tenant show --json`, …)',
      '**the audit trail**',
      'a key with no known prefix and no label is caught because the worker holds it',
      'Log fields are redacted by name at any depth',
      '`[provider ClassName]`',
    ]) {
      expect(readme).toContain(words);
    }
  });
});
