import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, startDevWorker, type DevWorker } from '../support/dev-worker.js';
import { runCli } from '../support/run-cli.js';

const README = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');

/** The shell block the README's "Run it" section gives for the second terminal. */
function demoCommands(): string[][] {
  const section = README.slice(README.indexOf('## Run it'), README.indexOf('## Test'));
  const block = /In a\s+second terminal:\n\n```sh\n([\s\S]*?)```/.exec(section)?.[1];
  if (!block) throw new Error('README: no demo block under "Run it"');
  return block
    .split('\n')
    .map((line) => line.replace(/\s+#.*$/, '').trim())
    .filter((line) => line.startsWith('npx openrtc '))
    .map((line) =>
      (line.slice('npx openrtc '.length).match(/'[^']*'|\S+/g) ?? []).map((a) =>
        a.replace(/^'(.*)'$/, '$1'),
      ),
    );
}

describe('the README demo, as a user runs it', () => {
  let worker: DevWorker;
  beforeAll(async () => {
    worker = await startDevWorker();
  }, 90_000);
  afterAll(async () => {
    await worker?.stop();
  });

  it('says where the worker socket is looked for, next to the demo', () => {
    const runIt = README.slice(README.indexOf('## Run it'), README.indexOf('## Test'));
    expect(runIt).toContain('$OPENRTC_RUNTIME_DIR');
  });

  it("dispatches acme's calls for long enough that `top --tenant acme`, run next, shows them", async () => {
    const commands = demoCommands();
    const acme = commands.find((c) => c[0] === 'dispatch' && c.includes('acme'));
    expect(acme, 'an acme dispatch line').toBeDefined();
    const count = Number(acme![acme!.indexOf('--count') + 1]);
    // A person reads the output, then types the top line: the calls must still be up by then.
    expect(acme).toContain('--duration');
    expect(Number(acme![acme!.indexOf('--duration') + 1])).toBeGreaterThanOrEqual(60);
    // No --url and no LIVEKIT_URL, as in a fresh terminal: dispatch finds the dev worker itself.
    const env: NodeJS.ProcessEnv = { ...worker.env };
    delete env.LIVEKIT_URL;
    delete env.LIVEKIT_API_KEY;
    delete env.LIVEKIT_API_SECRET;
    const dispatched = await runCli(acme!, env);
    expect(dispatched.code, `${dispatched.stdout}${dispatched.stderr}`).toBe(0);
    expect(dispatched.stdout).toContain(`${count}/${count} accepted`);

    const topLine = commands.find((c) => c[0] === 'top');
    expect(topLine).toEqual(['top', '--tenant', 'acme']);
    // Piped, `top` prints one frame: the calls dispatched above are still up.
    const frame = await runCli(topLine!, env);
    expect(frame.code, frame.stderr).toBe(0);
    expect(frame.stdout.split('\n').filter((l) => /^ses_[0-9a-f]{12} +acme /.test(l))).toHaveLength(
      count,
    );
  }, 60_000);
});
