// The soak's printed tables and its chart.
import { writeFileSync } from 'node:fs';
import { round } from '../stats.js';
import { formatTable } from '../table.js';
import { renderChart, type ChartPoint } from './soak-chart.js';
import { SERIES, type SoakResult, type SoakRun, type SoakSample } from './soak.js';

const SAMPLE_COLUMNS: [keyof SoakSample, string][] = [
  ['atS', 't (s)'],
  ['sessionsServed', 'served'],
  ['live', 'live'],
  ['rssMiB', 'RSS'],
  ['pssMiB', 'PSS'],
  ['heapUsedMiB', 'heap used'],
  ['heapTotalMiB', 'heap total'],
  ['externalMiB', 'external'],
  ['arrayBuffersMiB', 'arrayBuffers'],
  ['nativeMiB', 'native'],
  ['fds', 'fds'],
  ['handles', 'handles'],
  ['timers', 'timers'],
  ['ffiListeners', 'FFI listeners'],
  ['trackedEntries', 'own map entries'],
  ['children', 'children'],
  ['childrenRssMiB', 'children RSS'],
];

const cell = (v: unknown) => (typeof v === 'number' ? round(v, 1) : '-');

/** `+1.25 ± 0.4`: growth per 1,000 sessions and its 95 % interval (∞ with too few samples). */
function growthText(g: SoakRun['growth'][string]): string {
  const sign = g.per1000 > 0 ? '+' : '';
  const ci = Number.isFinite(g.ci95) ? String(round(g.ci95, 2)) : '∞';
  return `${sign}${round(g.per1000, 2)} ± ${ci}`;
}

export function soakTables(result: SoakResult): string {
  const { settings: s } = result;
  const out: string[] = [];
  for (const run of result.runs) {
    out.push(
      formatTable(
        `Soak, ${run.kind}: ${s.minutes} min, about ${s.concurrency} calls at once, talk ${s.talkS[0]}–${s.talkS[1]} s (seed ${s.seed}); ${run.calls} calls (${Object.entries(
          run.endings,
        )
          .map(([k, n]) => `${k} ${n}`)
          .join(
            ', ',
          )}; ${run.failedCalls} failed), ${run.sessionsStarted} sessions started, ${run.sessionsEnded} ended, ${run.notDispatched} jobs LiveKit found no worker for. MiB unless named.`,
        SAMPLE_COLUMNS.map(([, title]) => title),
        run.samples.map((x) => SAMPLE_COLUMNS.map(([key]) => cell(x[key]))),
      ),
    );
  }
  const keys = Object.keys(SERIES).filter((k) => result.runs.some((r) => r.growth[k]));
  out.push(
    formatTable(
      'Growth per 1,000 sessions after warm-up (least-squares slope ± 95 % interval); stock: parent process, and its children apart',
      ['series', ...result.runs.map((r) => r.kind)],
      keys.map((k) => [
        SERIES[k] ?? k,
        ...result.runs.map((r) => {
          const g = r.growth[k];
          return g ? `${growthText(g)} (${g.points} pts)` : '-';
        }),
      ]),
    ),
  );
  return out.join('\n\n');
}

/**
 * Writes the chart as PNG: one panel per series, every run on it, each panel headed by every run's
 * growth per 1,000 sessions after warm-up, so the trend is read, not guessed from the lines.
 */
export async function writeSoakChart(result: SoakResult, file: string): Promise<void> {
  const points: ChartPoint[] = [];
  for (const [key, title] of Object.entries(SERIES)) {
    const growth = result.runs.flatMap((r) => {
      const g = r.growth[key];
      return g ? [`${r.kind} ${growthText(g)}`] : [];
    });
    const panel = growth.length ? `${title}\nper 1,000 sessions: ${growth.join(', ')}` : title;
    for (const run of result.runs)
      for (const x of run.samples) {
        const value = x[key as keyof SoakSample];
        if (typeof value === 'number')
          points.push({
            worker: run.kind,
            series: panel,
            sessions: x.sessionsServed,
            atS: x.atS,
            value,
          });
      }
  }
  const title = `openrtc soak: ${result.settings.minutes} min, about ${result.settings.concurrency} calls at once; growth after warm-up, least-squares slope ± 95 % interval`;
  writeFileSync(file, await renderChart(title, points));
}
