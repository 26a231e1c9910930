// Start-up: `openrtc start` from exec to registered with the dispatcher, and where the worker's
// own start-up time goes (the phases it logs in its ready line), with warm start on and off.
import { setTimeout as sleep } from 'node:timers/promises';
import { startRig } from './admission-wire.js';
import { median } from './stats.js';

export type WarmMode = 'on' | 'off';

export interface StartupRun {
  warmStart: WarmMode;
  registeredMs: number;
  /** From the worker's ready line: ms per phase, `modules` measured from process start. */
  phases: Record<string, number>;
}

export interface StartupResult {
  runs: StartupRun[];
  byMode: {
    warmStart: WarmMode;
    runs: number;
    medianMs: number;
    minMs: number;
    maxMs: number;
    medianPhases: Record<string, number>;
  }[];
}

async function startOnce(warmStart: WarmMode): Promise<StartupRun> {
  let phases: Record<string, number> | undefined;
  const { dispatcher, worker } = await startRig(20, warmStart, {
    logLevel: 'info',
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
    return { warmStart, registeredMs: worker.registeredMs, phases: phases ?? {} };
  } finally {
    await worker.stop();
    await dispatcher.close();
  }
}

/** `rounds` workers per mode, alternating, so a noisy neighbour hits both alike. */
export async function benchStartup(
  rounds = Number(process.env.BENCH_STARTUP_ROUNDS) || 5,
): Promise<StartupResult> {
  const runs: StartupRun[] = [];
  for (let i = 0; i < rounds; i++)
    for (const mode of ['on', 'off'] as const) runs.push(await startOnce(mode));
  const byMode = (['on', 'off'] as const).map((warmStart) => {
    const mine = runs.filter((r) => r.warmStart === warmStart);
    const times = mine.map((r) => r.registeredMs);
    const keys = [...new Set(mine.flatMap((r) => Object.keys(r.phases)))];
    const medianPhases = Object.fromEntries(
      keys.map((k) => [k, median(mine.map((r) => r.phases[k] ?? 0))]),
    );
    return {
      warmStart,
      runs: mine.length,
      medianMs: median(times),
      minMs: Math.min(...times),
      maxMs: Math.max(...times),
      medianPhases,
    };
  });
  return { runs, byMode };
}
