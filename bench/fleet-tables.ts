// The fleet benchmark's tables, as `npm run bench -- fleet` prints them.
import type { FleetBench } from './fleet.js';
import { round } from './stats.js';
import { formatTable } from './table.js';

function decisionTable(title: string, rows: FleetBench['burst']): string {
  return formatTable(
    title,
    ['store', 'decisions', 'p50 (ms)', 'p99 (ms)', 'max (ms)', 'fell back'],
    rows.map((r) => [
      r.store,
      r.decisions,
      round(r.p50Ms),
      round(r.p99Ms),
      round(r.maxMs),
      r.fellBack,
    ]),
  );
}

export function fleetTables(fleet: FleetBench): string {
  const inProcess = decisionTable(
    'Fleet admission in-process: memory store against Redis store, 1 round trip per decision with auto-pipelining, decisions started at once (50 tenants)',
    fleet.burst,
  );
  const single = decisionTable(
    'Fleet admission in-process, one decision at a time: its own cost, no queue in front of it (50 tenants)',
    fleet.single,
  );
  const wireRows = fleet.wire.rows;
  const wire = formatTable(
    `Fleet admission over the wire: ${wireRows[0]?.requests ?? 0} availability requests at once from the local dispatcher to an openrtc worker process, tenant cap ${fleet.wire.cap}, medians over bursts`,
    ['store', 'bursts', 'p50 (ms)', 'p99 (ms)', 'max (ms)', 'exact', 'fell back'],
    wireRows.map((r) => [
      r.store,
      r.bursts,
      round(r.p50Ms),
      round(r.p99Ms),
      round(r.maxMs),
      r.exact ? 'yes' : 'NO',
      r.fellBack,
    ]),
  );
  const r = fleet.renewal;
  const renewal = formatTable(
    `Lease renewal: ${r.leases} live sessions' leases renewed in one call (${r.rounds} calls)`,
    ['leases', 'p50 (ms)', 'p99 (ms)', 'worker CPU / call (ms)', 'Redis CPU / call (ms)'],
    [
      [
        r.leases,
        round(r.p50Ms),
        round(r.p99Ms),
        round(r.clientCpuMsPerRound),
        round(r.redisCpuMsPerRound),
      ],
    ],
  );
  const d = fleet.density;
  const list = (xs: number[], digits = 1) => xs.map((x) => round(x, digits)).join(' / ');
  const density = formatTable(
    `Fleet density: talking VAD sessions (as the density bench), one worker process (memory store) against two sharing caps through Redis (calls arrive at ${d.arrivalsPerS}/s, ${d.holdMs / 1000} s hold; per worker: a / b)`,
    [
      'workers',
      'N',
      'taken per worker',
      'started',
      'not assigned',
      'loop p99 (ms)',
      'CPU % of a core',
      'peak RSS MiB',
      'held',
    ],
    d.runs.map((run) => [
      `${run.workers} (${run.store})`,
      run.sessions,
      run.acceptedByWorker.join(' / '),
      run.started,
      Object.entries(run.notAssigned)
        .map(([why, n]) => `${why} ${n}`)
        .join(', ') || '-',
      list(run.loopP99MsByWorker),
      list(run.cpuPctByWorker, 0),
      round(run.peakRssMiB, 0),
      run.held ? 'yes' : 'no',
    ]),
  );
  const highest = formatTable(
    'Fleet density: highest N with every call started and loop p99 < 50 ms on each worker',
    ['workers', 'highest N'],
    d.highestN.map((h) => [h.workers, h.n ?? '-']),
  );
  return [inProcess, single, wire, renewal, density, highest].join('\n');
}
