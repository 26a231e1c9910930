// Start-up, side by side in one run: bare `node -e ''`, then `openrtc --help` and `openrtc tenant
// list` (against a running worker) from exec to exit, and `openrtc start` from exec to registered
// with the dispatcher (with where the worker's own time goes: the phases of its ready line), each
// run from the TypeScript sources (a checkout, through tsx) and from the build (dist/, what an
// installed package runs), with warm start on and off.
import { execFileSync, spawn } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { startRig } from './admission-wire.js';
import { median } from './stats.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(REPO, 'bin/openrtc.js');

export type WarmMode = 'on' | 'off';
/** `sources`: a checkout runs src/ through tsx. `dist`: the build, as an installed package runs. */
export type Build = 'sources' | 'dist';
const BUILDS: readonly Build[] = ['sources', 'dist'];

export interface StartupRun {
  build: Build;
  warmStart: WarmMode;
  registeredMs: number;
  /** From the worker's ready line: ms per phase, `modules` measured from process start. */
  phases: Record<string, number>;
}

export interface Spread {
  runs: number;
  medianMs: number;
  minMs: number;
  maxMs: number;
}

export interface CommandTiming extends Spread {
  command: string;
  build: Build | '-';
  /** Median over bare `node -e ''`'s median, from the same run. */
  timesBareNode: number;
}

export interface StartupResult {
  runs: StartupRun[];
  byMode: (Spread & {
    build: Build;
    warmStart: WarmMode;
    medianPhases: Record<string, number>;
  })[];
  commands: CommandTiming[];
}

function buildEnv(build: Build): NodeJS.ProcessEnv {
  return build === 'dist' ? { OPENRTC_DIST: '1' } : {};
}

function spread(times: number[]): Spread {
  return {
    runs: times.length,
    medianMs: median(times),
    minMs: Math.min(...times),
    maxMs: Math.max(...times),
  };
}

/** Exec to exit of one command; a failure is an error (a timing of an error message is no timing). */
function timeCommand(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, args, {
      cwd: REPO,
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) => {
      const ms = performance.now() - started;
      if (code === 0) resolve(ms);
      else reject(new Error(`${args.join(' ')} exited with ${code}:\n${stderr}`));
    });
  });
}

async function startOnce(build: Build, warmStart: WarmMode): Promise<StartupRun> {
  let phases: Record<string, number> | undefined;
  const { dispatcher, worker } = await startRig(20, warmStart, {
    logLevel: 'info',
    env: buildEnv(build),
    onLogLine: (line) => {
      try {
        const entry = JSON.parse(line) as { startup_ms?: Record<string, number> };
        if (entry.startup_ms) phases = entry.startup_ms;
      } catch {
        // not a log line
      }
    },
  });
  try {
    // The ready line follows registration by a moment.
    const deadline = Date.now() + 5_000;
    while (!phases && Date.now() < deadline) await sleep(20);
    return { build, warmStart, registeredMs: worker.registeredMs, phases: phases ?? {} };
  } finally {
    await worker.stop();
    await dispatcher.close();
  }
}

/** Bare Node, `--help` and `tenant list` (against one running worker), interleaved round by round. */
async function benchCommands(rounds: number): Promise<CommandTiming[]> {
  const { dispatcher, worker } = await startRig(20, 'on', { env: buildEnv('dist') });
  const cases = [
    { command: "node -e ''", build: '-' as const, args: ['-e', ''] },
    ...BUILDS.flatMap((build) => [
      { command: 'openrtc --help', build, args: [BIN, '--help'] },
      { command: 'openrtc tenant list', build, args: [BIN, 'tenant', 'list'] },
    ]),
  ];
  const times = cases.map(() => [] as number[]);
  try {
    for (let i = 0; i < rounds; i++)
      for (const [k, c] of cases.entries()) {
        const env = { ...worker.env, ...(c.build === '-' ? {} : buildEnv(c.build)) };
        times[k]!.push(await timeCommand(c.args, env));
      }
  } finally {
    await worker.stop();
    await dispatcher.close();
  }
  const bare = median(times[0]!);
  return cases.map((c, k) => {
    const s = spread(times[k]!);
    return { command: c.command, build: c.build, ...s, timesBareNode: s.medianMs / bare };
  });
}

/**
 * `rounds` of each: commands first, then workers, every combination per round, so a noisy
 * neighbour hits all alike. The build is brought up to date first (incremental `tsc`).
 */
export async function benchStartup(
  rounds = Number(process.env.BENCH_STARTUP_ROUNDS) || 5,
): Promise<StartupResult> {
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: REPO, stdio: 'inherit' });
  const commands = await benchCommands(rounds);
  const runs: StartupRun[] = [];
  const modes = BUILDS.flatMap((build) => (['on', 'off'] as const).map((w) => [build, w] as const));
  for (let i = 0; i < rounds; i++)
    for (const [build, warmStart] of modes) runs.push(await startOnce(build, warmStart));
  const byMode = modes.map(([build, warmStart]) => {
    const mine = runs.filter((r) => r.build === build && r.warmStart === warmStart);
    const keys = [...new Set(mine.flatMap((r) => Object.keys(r.phases)))];
    const medianPhases = Object.fromEntries(
      keys.map((k) => [k, median(mine.map((r) => r.phases[k] ?? 0))]),
    );
    return { build, warmStart, ...spread(mine.map((r) => r.registeredMs)), medianPhases };
  });
  return { runs, byMode, commands };
}
