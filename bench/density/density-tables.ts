// The density benchmark's tables, as `npm run bench` prints them.
import { round } from '../stats.js';
import { formatTable } from '../table.js';
import type { AttributionCost, DensityResult } from './density.js';

const ms = (n: number) => (Number.isFinite(n) ? String(Math.round(n)) : '-');

export function densityTables(result: DensityResult): string {
  return result.settings.media === 'room' ? roomTables(result) : noRoomTables(result);
}

function noRoomTables(result: DensityResult): string {
  const { settings } = result;
  const turns = settings.turnDetector
    ? 'turns ended by inference.TurnDetector v1-mini'
    : 'turns ended by the VAD';
  const title = `Density: one openrtc worker, real AgentSessions with inference.VAD fed 16 kHz speech in 20 ms frames, ${turns} (calls arrive at ${settings.arrivalsPerS}/s, ${settings.holdMs / 1000} s hold)`;
  const rows = result.ours.map((r) => [
    r.sessions,
    `${r.started}${r.stoppedBy ? ' (memory ceiling)' : ''}`,
    r.failures,
    r.processes,
    round(r.peakRssMiB, 0),
    round(r.inferenceRssMiB, 0),
    round(r.rssPerSessionMiB),
    round(r.cpuPctOfCore, 0),
    r.loop
      ? `${round(r.loop.p50Ms, 1)} / ${round(r.loop.p99Ms, 1)} / ${round(r.loop.maxMs, 1)}`
      : '-',
    `${ms(r.startP50Ms)} / ${ms(r.startP99Ms)}`,
    `${round(r.speechTurnsPerSessionMin, 1)} / ${round(r.repliesPerSessionMin, 1)}`,
  ]);
  const density = formatTable(
    title,
    [
      'N',
      'started',
      'failed',
      'processes',
      'peak RSS MiB',
      'of it inference process',
      'RSS/session MiB',
      'CPU % core',
      'loop delay p50/p99/max ms',
      'start p50/p99 ms',
      'VAD turns / replies per min',
    ],
    rows,
  );
  const summary = [
    'loop delay: whole hold, from a probe loaded into the worker (2 ms resolution, so an idle loop reads about 2 ms)',
    limits(result),
  ].join('\n');
  return `${density}\n${summary}\n${sideBySide(result)}`;
}

function limits(result: DensityResult): string {
  const { settings } = result;
  const held =
    result.highestNUnder50Ms === undefined
      ? 'none of the sizes run'
      : `N = ${result.highestNUnder50Ms}`;
  const ceiling =
    result.stoppedAtN === undefined
      ? `no run reached the ${settings.memoryCeilingMiB} MiB memory ceiling`
      : `stopped at N = ${result.stoppedAtN}: memory ceiling of ${settings.memoryCeilingMiB} MiB`;
  return `highest N with every session started and loop p99 < 50 ms: ${held}; ${ceiling}`;
}

const perSession = (total: number, sessions: number) => round(total / Math.max(1, sessions), 1);

function roomTables(result: DensityResult): string {
  const { settings } = result;
  const title = `Density on real rooms: one openrtc worker and a LiveKit server, each room one caller speaking synthetic speech over WebRTC (Opus), each session a real AgentSession on the room with inference.VAD and a tone TTS (rooms dispatched at ${settings.arrivalsPerS}/s, ${settings.holdMs / 1000} s hold)`;
  const rows = result.ours.map((r) => [
    r.sessions,
    `${r.started}${r.stoppedBy ? ' (memory ceiling)' : ''}`,
    round(r.peakPssMiB, 0),
    round(r.pssPerSessionMiB),
    round(r.cpuPctOfCore, 0),
    perSession(r.cpuPctOfCore, r.started),
    r.loop
      ? `${round(r.loop.p50Ms, 1)} / ${round(r.loop.p99Ms, 1)} / ${round(r.loop.maxMs, 1)}`
      : '-',
    `${ms(r.startP50Ms)} / ${ms(r.startP99Ms)}`,
    `${round(r.speechTurnsPerSessionMin, 1)} / ${round(r.repliesPerSessionMin, 1)}`,
    r.media ? round(r.media.serverCpuPct, 0) : '-',
    r.media ? `${round(r.media.callersCpuPct, 0)} (${r.media.callerProcesses})` : '-',
  ]);
  const density = formatTable(
    title,
    [
      'N',
      'started',
      'peak PSS MiB',
      'PSS/session MiB',
      'worker CPU % core',
      'CPU/session %',
      'loop delay p50/p99/max ms',
      'start p50/p99 ms',
      'VAD turns / replies per min',
      'server CPU %',
      'callers CPU % (processes)',
    ],
    rows,
  );
  const notes = [
    'loop delay: whole hold, from a probe loaded into the worker; start: dispatch API call -> the session is up in its room',
    'memory: PSS of the worker and every process it forked (shared pages counted once); CPU: the worker tree, the server and the caller processes apart, all on the same 2 cores',
    limits(result),
  ].join('\n');
  const rowsVs: (string | number)[][] = [];
  for (const stock of result.stock) {
    const ours = result.ours.find((r) => r.sessions === stock.sessions);
    if (!ours) continue;
    rowsVs.push([
      stock.sessions,
      `${round(ours.peakPssMiB, 0)} / ${round(stock.peakPssMiB, 0)} (${stock.processes} processes)`,
      `${round(stock.peakPssMiB / ours.peakPssMiB, 1)}×`,
      `${round(ours.pssPerSessionMiB)} / ${round(stock.pssPerSessionMiB)}`,
      `${perSession(ours.cpuPctOfCore, ours.started)} / ${perSession(stock.cpuPctOfCore, stock.started)}`,
      `${round(ours.speechTurnsPerSessionMin, 1)} / ${round(stock.speechTurnsPerSessionMin, 1)}`,
      `${ms(ours.startP50Ms)} / ${ms(stock.startP50Ms)}`,
      `${ours.failures} / ${stock.failures}`,
    ]);
  }
  const versus = formatTable(
    'Same agent, same LiveKit server, real rooms: openrtc (one process) vs stock AgentServer (a process per job)',
    [
      'N',
      'PSS MiB ours / stock',
      'less memory',
      'PSS/session MiB ours / stock',
      'CPU/session % ours / stock',
      'VAD turns/min ours / stock',
      'start p50 ms ours / stock',
      'failed ours / stock',
    ],
    rowsVs,
  );
  return `${density}\n${notes}\n${versus}`;
}

function sideBySide(result: DensityResult): string {
  const rows: (string | number)[][] = [];
  for (const stock of result.stock) {
    const ours = result.ours.find((r) => r.sessions === stock.sessions);
    if (!ours) continue;
    rows.push([
      stock.sessions,
      round(ours.peakRssMiB, 0),
      `${round(stock.peakRssMiB, 0)} (${stock.processes} processes)`,
      round(ours.peakRssMiB / stock.peakRssMiB, 3),
      `${round(stock.peakRssMiB / ours.peakRssMiB, 1)}×`,
      `${round(ours.peakPssMiB, 0)} / ${round(stock.peakPssMiB, 0)} (${round(stock.peakPssMiB / ours.peakPssMiB, 1)}×)`,
      `${round(ours.inferenceRssMiB, 0)} / ${round(stock.inferenceRssMiB, 0)}`,
      `${round(ours.rssPerSessionMiB)} / ${round(stock.rssPerSessionMiB)}`,
      `${ms(ours.startP50Ms)} / ${ms(stock.startP50Ms)}`,
      `${ms(ours.startP99Ms)} / ${ms(stock.startP99Ms)}`,
      `${round(ours.cpuPctOfCore, 0)} / ${round(stock.cpuPctOfCore, 0)}`,
      `${ours.failures} / ${stock.failures}`,
    ]);
  }
  return formatTable(
    'Same agent, same dispatcher: openrtc (one process per worker, plus its inference process) vs stock AgentServer (a process per job, plus its inference process); total RSS of the worker and every process it forked',
    [
      'N',
      'openrtc RSS MiB',
      'stock RSS MiB',
      'ratio ours/stock',
      'less memory',
      'PSS MiB ours / stock',
      'inference process RSS MiB ours / stock',
      'RSS/session MiB ours / stock',
      'start p50 ms ours / stock',
      'start p99 ms ours / stock',
      'CPU % core ours / stock',
      'failed ours / stock',
    ],
    rows,
  );
}

export function attributionTable(cost: AttributionCost): string {
  const off = cost.modes.find((m) => m.mode === 'off')?.medianPct ?? Number.NaN;
  return formatTable(
    `Attribution modes with ${cost.sessions} real talking sessions (${cost.runs} alternating runs each; the machine's noise is the spread of each row)`,
    ['introspection.attribution', 'worker CPU % of a core (median)', 'vs off', 'each run'],
    cost.modes.map((m) => [
      m.mode,
      round(m.medianPct, 1),
      m.mode === 'off' ? '' : round(m.medianPct - off, 1),
      m.runsPct.map((n) => round(n, 0)).join(', '),
    ]),
  );
}
