// The density benchmark: how many talking sessions one openrtc worker holds, and what the same
// calls cost stock agents-js (a process per job), side by side in one run.
import os from 'node:os';
import { median } from '../stats.js';
import { buildAgent } from './build-agent.js';
import type { AttributionMode } from '../../src/config/schema.js';
import { findServerBinary, INSTALL_COMMAND } from '../../scripts/livekit-server.js';
import { runDensity, type DensityOptions, type DensityRun } from './density-run.js';
import { runRoomDensity } from './room-density-run.js';

/** `none`: audio pushed straight into each session. `room`: real rooms on a real LiveKit server. */
export type DensityMedia = 'none' | 'room';

export interface DensitySettings extends DensityOptions {
  media: DensityMedia;
  ours: number[];
  stock: number[];
}

const LOOP_P99_LIMIT_MS = 50;

function numbers(value: string | undefined, fallback: number[]): number[] {
  if (!value) return fallback;
  const list = value.split(',').map((s) => Number(s.trim()));
  if (list.some((n) => !Number.isInteger(n) || n <= 0))
    throw new Error(`expected a list of positive integers, got "${value}"`);
  return list;
}

/** Defaults from the issue; environment variables narrow a run while investigating. */
export function densitySettings(
  env: NodeJS.ProcessEnv = process.env,
  media: DensityMedia = 'none',
): DensitySettings {
  const ceilingMiB =
    Number(env.BENCH_MEMORY_CEILING_MIB) ||
    Math.min(16_384, Math.floor((os.totalmem() / 2 ** 20) * 0.6));
  // A real room costs far more than audio pushed in (WebRTC, Opus, rtc-node's event traffic), and
  // its callers and the server share the machine: smaller sizes tell the story there.
  const rooms = media === 'room';
  return {
    media,
    ours: numbers(env.BENCH_DENSITY_N, rooms ? [5, 10, 20, 30] : [5, 10, 20, 50, 100, 200, 400]),
    stock: numbers(env.BENCH_STOCK_N, rooms ? [5, 10] : [5, 10, 20]),
    arrivalsPerS: Number(env.BENCH_ARRIVALS_PER_S) || 20,
    holdMs: Number(env.BENCH_HOLD_MS) || 10_000,
    memoryCeilingBytes: ceilingMiB * 2 ** 20,
    tenants: 10,
    turnDetector: env.BENCH_TURN_DETECTOR === '1',
  };
}

export interface DensityResult {
  settings: Omit<DensitySettings, 'memoryCeilingBytes'> & { memoryCeilingMiB: number };
  ours: DensityRun[];
  stock: DensityRun[];
  /** Largest N whose openrtc run started every session and held loop p99 under 50 ms. */
  highestNUnder50Ms: number | undefined;
  stoppedAtN: number | undefined;
}

export async function benchDensity(
  settings: DensitySettings = densitySettings(),
  onRun: (run: DensityRun) => void = () => undefined,
): Promise<DensityResult> {
  const built = buildAgent();
  let run = (kind: 'openrtc' | 'stock', n: number) => runDensity(kind, n, built, settings);
  if (settings.media === 'room') {
    const binary = findServerBinary();
    if (!binary)
      throw new Error(
        `density --media room needs the LiveKit server: run \`${INSTALL_COMMAND}\` (or set LIVEKIT_SERVER_BIN)`,
      );
    run = (kind, n) => runRoomDensity(kind, n, built, settings, binary.path);
  }
  const ours: DensityRun[] = [];
  const stock: DensityRun[] = [];
  let stoppedAtN: number | undefined;
  const record = (list: DensityRun[], run: DensityRun) => {
    list.push(run);
    onRun(run);
  };
  // The sizes both run are measured back to back, so a noisy neighbour hits both alike.
  for (const n of [...new Set([...settings.ours, ...settings.stock])].sort((a, b) => a - b)) {
    if (settings.stock.includes(n)) record(stock, await run('stock', n));
    if (settings.ours.includes(n) && stoppedAtN === undefined) {
      const row = await run('openrtc', n);
      record(ours, row);
      if (row.stoppedBy) stoppedAtN = n;
    }
  }
  const held = ours.filter(
    (r) => !r.stoppedBy && r.failures === 0 && r.loop && r.loop.p99Ms < LOOP_P99_LIMIT_MS,
  );
  const { memoryCeilingBytes, ...rest } = settings;
  return {
    settings: { ...rest, memoryCeilingMiB: Math.round(memoryCeilingBytes / 2 ** 20) },
    ours,
    stock,
    highestNUnder50Ms: held.length > 0 ? Math.max(...held.map((r) => r.sessions)) : undefined,
    stoppedAtN,
  };
}

export interface AttributionCost {
  sessions: number;
  runs: number;
  /** Worker CPU, % of one core: the median, and every run so the spread is visible. */
  modes: { mode: AttributionMode; medianPct: number; runsPct: number[] }[];
}

/**
 * What per-session attribution costs with real talking sessions, where every audio frame runs
 * through promise reactions the hook brackets: the same N in each mode, alternating. N is kept
 * below saturation: a worker already using all of its main thread cannot show a cost in CPU.
 */
export async function benchAttributionWithSessions(
  settings: DensitySettings = densitySettings(),
  sessions = 50,
  rounds = 3,
): Promise<AttributionCost> {
  const built = buildAgent();
  const order: AttributionMode[] = ['off', 'sampled', 'continuous'];
  const runs = new Map<AttributionMode, number[]>(order.map((m) => [m, []]));
  for (let i = 0; i < rounds; i++) {
    for (const mode of order)
      runs
        .get(mode)!
        .push(
          (await runDensity('openrtc', sessions, built, { ...settings, attribution: mode }))
            .cpuPctOfCore,
        );
  }
  return {
    sessions,
    runs: rounds,
    modes: order.map((mode) => ({
      mode,
      medianPct: median(runs.get(mode)!),
      runsPct: runs.get(mode)!,
    })),
  };
}
