// Overload protection: more talking VAD sessions offered to one worker than it can serve, with
// protection on (the worker reports its measured load, marks itself full past load.threshold and
// rejects worker_overloaded while its loop is late) and then off (it takes every call). Beside
// them, an unloaded worker's turn rate: what a caller gets when the worker keeps up.
import os from 'node:os';
import { buildAgent } from '../density/build-agent.js';
import { runDensity, type DensityOptions, type DensityRun } from '../density/density-run.js';

export interface OverloadSettings extends DensityOptions {
  /** Sessions offered with protection on and off. */
  offered: number;
  /** Sessions of the unloaded reference run. */
  referenceN: number;
}

export function overloadSettings(env: NodeJS.ProcessEnv = process.env): OverloadSettings {
  return {
    offered: Number(env.BENCH_OVERLOAD_N) || 300,
    referenceN: Number(env.BENCH_OVERLOAD_REFERENCE_N) || 20,
    arrivalsPerS: Number(env.BENCH_ARRIVALS_PER_S) || 20,
    holdMs: Number(env.BENCH_HOLD_MS) || 10_000,
    memoryCeilingBytes:
      (Number(env.BENCH_MEMORY_CEILING_MIB) ||
        Math.min(16_384, Math.floor((os.totalmem() / 2 ** 20) * 0.6))) *
      2 ** 20,
    tenants: 10,
  };
}

export interface OverloadRow {
  label: string;
  protection: 'on' | 'off';
  run: DensityRun;
}

export interface OverloadResult {
  settings: Omit<OverloadSettings, 'memoryCeilingBytes'>;
  rows: OverloadRow[];
}

export async function benchOverload(
  settings: OverloadSettings = overloadSettings(),
  onRun: (row: OverloadRow) => void = () => undefined,
): Promise<OverloadResult> {
  const built = buildAgent();
  const rows: OverloadRow[] = [];
  const plan: Omit<OverloadRow, 'run'>[] = [
    { label: `unloaded reference (${settings.referenceN} offered)`, protection: 'on' },
    { label: `protection on (${settings.offered} offered)`, protection: 'on' },
    { label: `protection off (${settings.offered} offered)`, protection: 'off' },
  ];
  for (const [i, p] of plan.entries()) {
    const n = i === 0 ? settings.referenceN : settings.offered;
    const row = {
      ...p,
      run: await runDensity('openrtc', n, built, { ...settings, protection: p.protection }),
    };
    rows.push(row);
    onRun(row);
  }
  const { memoryCeilingBytes: _ceiling, ...rest } = settings;
  return { settings: rest, rows };
}
