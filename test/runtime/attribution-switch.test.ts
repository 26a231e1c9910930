import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { WorkerRuntime } from '../../src/runtime/worker-runtime.js';

const AGENT = `import { defineAgent } from '@livekit/agents';
export default defineAgent({ entry: async () => undefined });
`;
const config = (attribution: string) =>
  `export default { name: 'switch', agents: { a: './agent.ts' }, introspection: { attribution: '${attribution}' } };\n`;

let runtime: WorkerRuntime | undefined;
const dirs: string[] = [];
afterEach(async () => {
  await runtime?.stop(0);
  runtime = undefined;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('introspection.attribution', () => {
  it('is applied at start and switched between off, continuous and sampled by a reload', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'openrtc-attr-'));
    dirs.push(dir);
    writeFileSync(path.join(dir, 'agent.ts'), AGENT);
    const file = path.join(dir, 'openrtc.config.ts');
    writeFileSync(file, config('off'));
    runtime = await WorkerRuntime.start({
      configFile: file,
      cwd: dir,
      logger: pino({ level: 'silent' }),
      dev: true,
      devPort: 0,
      socketPath: path.join(dir, 'w.sock'),
    });
    expect(runtime.attribution.enabled).toBe(false);

    writeFileSync(file, config('continuous'));
    expect((await runtime.reloadConfig()).changed).toEqual(['introspection.attribution']);
    expect(runtime.attribution.enabled).toBe(true);
    expect(runtime.attribution.continuous).toBe(true);

    writeFileSync(file, config('sampled'));
    await runtime.reloadConfig();
    expect(runtime.attribution.enabled).toBe(true);
    expect(runtime.attribution.sampleMs).toBe(100);
    expect(runtime.attribution.continuous).toBe(false);

    writeFileSync(file, config('off'));
    await runtime.reloadConfig();
    expect(runtime.attribution.enabled).toBe(false);
  });
});
