import { describe, expect, it } from 'vitest';
import { describeReload } from '../../src/cli/commands/config.js';
import { diffConfigs } from '../../src/config/config-diff.js';
import { configSchema, type OpenrtcConfig } from '../../src/config/schema.js';

const parse = (input: unknown): OpenrtcConfig => configSchema.parse(input);

describe('diffConfigs', () => {
  it('names each changed setting by its path, and never calls a replaced function unchanged', () => {
    const loader = () => undefined;
    const before = parse({
      agents: { a: './a.ts' },
      tenants: { maxSessions: { acme: 2 }, config: loader },
      drainTimeoutMs: 5_000,
    });
    const after = parse({
      agents: { b: './b.ts' },
      tenants: { maxSessions: { acme: 5, globex: 1 }, config: () => undefined },
      drainTimeoutMs: 5_000,
    });
    expect(diffConfigs(before, after)).toEqual({
      changed: ['tenants.maxSessions.acme', 'tenants.maxSessions.globex'],
      notCompared: ['tenants.config'],
      needsRestart: ['agents'],
    });
    expect(diffConfigs(before, before)).toEqual({ changed: [], notCompared: [], needsRestart: [] });
  });
});

describe('describeReload', () => {
  it('says plainly what was re-read and what could not be compared', () => {
    expect(
      describeReload({
        changed: [],
        notCompared: ['tenants.config'],
        needsRestart: [],
        files: ['/x/openrtc.config.ts'],
        wholeGraph: false,
      }),
    ).toEqual([
      'config reloaded from openrtc.config.ts; no setting changed',
      "tenants.config: replaced by the new file's; what it holds (a function or provider objects) cannot be compared, so cached tenant configs were dropped",
      'only openrtc.config.ts was re-read: files it imports keep the version read at start (restart the worker to apply changes there)',
    ]);
  });
});
