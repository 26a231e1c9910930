import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { InferenceRunner } from '@livekit/agents';
import { SharedInference } from '../../src/inference/shared-inference.js';
import { WorkerRuntime } from '../../src/runtime/worker-runtime.js';
import { memoryLogger } from '../session/support.js';

const noLocalEot = async () => ({
  registered: false as const,
  reason: 'test platform without the native binding',
});

let runtime: WorkerRuntime | undefined;
let inference: SharedInference | undefined;
const dirs: string[] = [];
afterEach(async () => {
  await runtime?.stop(0);
  await inference?.close();
  runtime = undefined;
  inference = undefined;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('inference.enabled', () => {
  it('false: the worker starts no inference process, stays healthy, and a session asking for inference gets a clear error', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'openrtc-inf-off-'));
    dirs.push(dir);
    writeFileSync(
      path.join(dir, 'agent.ts'),
      `import { defineAgent } from '@livekit/agents';\nexport default defineAgent({ entry: async () => undefined });\n`,
    );
    const file = path.join(dir, 'openrtc.config.ts');
    writeFileSync(
      file,
      `export default { name: 'inf-off', agents: { a: './agent.ts' }, inference: { enabled: false } };\n`,
    );
    const log = memoryLogger();
    runtime = await WorkerRuntime.start({
      configFile: file,
      cwd: dir,
      logger: log.logger,
      dev: true,
      devPort: 0,
      socketPath: path.join(dir, 'w.sock'),
    });
    expect(runtime.inference.state).toBe('disabled');
    expect(runtime.inference.health()).toEqual({ expected: false });
    expect(runtime.health()).toMatchObject({ healthy: true, message: 'OK' });
    expect(runtime.inference.pid).toBeUndefined();
    await expect(runtime.inference.doInference('lk_eot_audio', {})).rejects.toThrow(
      'inference method "lk_eot_audio" is not available: the inference process is disabled (inference.enabled: false)',
    );
    expect(runtime.snapshot().worker.inference).toMatchObject({
      state: 'disabled',
      runners: [],
      disabledReason: 'the inference process is disabled (inference.enabled: false)',
    });
    // Not registered either: with inference off, the local model is never asked for.
    expect(InferenceRunner.registeredRunners.lk_eot_audio).toBeUndefined();

    // Read at start only: a reload says so and changes nothing.
    writeFileSync(
      file,
      `export default { name: 'inf-off', agents: { a: './agent.ts' }, inference: { enabled: true } };\n`,
    );
    await runtime.reloadConfig();
    expect(log.lines().map((l) => l.msg)).toContain(
      'inference.enabled is read at start: drain and restart the worker to change it',
    );
    expect(runtime.inference.state).toBe('disabled');
    expect(runtime.config.inference.enabled).toBe(false);
  });

  it("'auto' starts no process when no runner is registered; true starts one anyway", async () => {
    const log = memoryLogger();
    inference = new SharedInference({
      enabled: 'auto',
      logger: log.logger,
      logLevel: 'warn',
      registerLocalEot: noLocalEot,
    });
    await inference.start();
    expect(inference.state).toBe('disabled');
    expect(inference.stats().disabledReason).toBe(
      'no InferenceRunner is registered on this worker',
    );
    expect(log.lines().map((l) => l.msg)).toContain(
      'local end-of-turn model unavailable: test platform without the native binding',
    );

    const forced = new SharedInference({
      enabled: true,
      logger: log.logger,
      logLevel: 'warn',
      registerLocalEot: noLocalEot,
    });
    inference = forced;
    await forced.start();
    expect(forced.state).toBe('running');
    expect(forced.pid).toBeGreaterThan(0);
    expect(forced.stats().runners).toEqual([]);
    await expect(forced.doInference('anything', {})).rejects.toThrow(
      /"anything" is not one of the inference process's runners \(none\)/,
    );
  });

  it('a runner that fails to load stops the start with an error naming it, and leaves no process', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'openrtc-inf-bad-'));
    dirs.push(dir);
    const runnerFile = path.join(dir, 'broken-runner.mjs');
    writeFileSync(
      runnerFile,
      `export default class Broken { async initialize() { throw new Error('weights missing'); } async run() {} async close() {} }\n`,
    );
    InferenceRunner.registerRunner('openrtc_test_broken', runnerFile);
    try {
      const log = memoryLogger();
      inference = new SharedInference({
        enabled: 'auto',
        logger: log.logger,
        logLevel: 'warn',
        registerLocalEot: noLocalEot,
      });
      await expect(inference.start()).rejects.toThrow(
        'inference runner "openrtc_test_broken" failed to load: weights missing',
      );
      expect(inference.state).toBe('stopped');
      expect(inference.pid).toBeUndefined();
    } finally {
      delete InferenceRunner.registeredRunners.openrtc_test_broken;
    }
  });
});
