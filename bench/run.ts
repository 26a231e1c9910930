// `npm run bench`: every benchmark in one run, side by side, printed as tables and written to
// bench/results/latest.json. Timings on a shared machine are noisy: read the ratios and medians.
// `npm run bench -- density admission` runs only the named sections and updates only their
// entries in the results file.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchAdmissionOverWire } from './admission-wire.js';
import { benchFleet } from './fleet.js';
import { fleetTables } from './fleet-tables.js';
import {
  benchAttributionWithSessions,
  benchDensity,
  densitySettings,
  type DensityMedia,
} from './density/density.js';
import { attributionTable, densityTables } from './density/density-tables.js';
import {
  benchAdmission,
  benchAttributionOverhead,
  benchHookCost,
  benchSnapshot,
  benchSubscribers,
} from './introspection.js';
import { describeMachine, machineInfo } from './machine.js';
import { benchOverload } from './overload/overload.js';
import { benchSoak, SOAK_FLAGS, soakSettings } from './soak/soak.js';
import { soakTables, writeSoakChart } from './soak/soak-report.js';
import { benchStartup } from './startup.js';
import { round } from './stats.js';
import { formatTable } from './table.js';

type Section = () => Promise<unknown>;

const sections: Record<string, Section> = {
  async fleet() {
    const fleet = await benchFleet();
    console.log(fleetTables(fleet));
    return fleet;
  },

  async admission() {
    const admission = await benchAdmission();
    console.log(
      formatTable(
        'Admission, in-process (20,000 decisions, 50 tenants)',
        ['metric', 'value'],
        [
          ['decisions / s', admission.decisionsPerSecond],
          ['p50 latency (µs)', round(admission.p50Us)],
          ['p99 latency (µs)', round(admission.p99Us)],
        ],
      ),
    );
    return admission;
  },

  async admissionWire() {
    const wire = await benchAdmissionOverWire();
    console.log(
      formatTable(
        `Admission over the wire: ${wire.requests} availability requests at once, tenant cap ${wire.cap}, to an openrtc worker in its own process (${wire.bursts.length} bursts)`,
        [
          'burst',
          'answered',
          'unanswered',
          'accepted',
          'exact',
          'rejections',
          'p50 (ms)',
          'p99 (ms)',
          'max (ms)',
          'send (ms)',
          'drain (ms)',
          'wall (ms)',
        ],
        [
          ...wire.bursts.map((b, i) => [
            String(i + 1),
            b.answered,
            b.unanswered,
            b.accepted,
            b.exact ? 'yes' : 'NO',
            Object.entries(b.rejectReasons)
              .map(([reason, n]) => `${reason} ${n}`)
              .join(', ') || '-',
            round(b.p50Ms),
            round(b.p99Ms),
            round(b.maxMs),
            round(b.sendMs),
            round(b.drainMs),
            round(b.wallMs),
          ]),
          [
            'median',
            '',
            '',
            '',
            wire.allExact ? 'all' : 'NOT all',
            '',
            round(wire.medianP50Ms),
            round(wire.medianP99Ms),
            '',
            '',
            '',
            '',
          ],
        ],
      ),
    );
    console.log(
      'latency: request written by the local dispatcher -> its answer decoded there; the dispatcher writes the burst in chunks of 25 and reads answers in between (send = time to write all 1,000)',
    );
    console.log(
      formatTable(
        `Cold burst: the first ${wire.requests} requests a fresh worker answers, warm start off and on (median of ${wire.coldByMode[0]?.workers ?? 0} workers each, alternating)`,
        ['warm start', 'p50 (ms)', 'p99 (ms)', 'max (ms)', 'all exact'],
        wire.coldByMode.map((m) => [
          m.warmStart,
          round(m.medianP50Ms),
          round(m.medianP99Ms),
          round(m.medianMaxMs),
          wire.cold.filter((c) => c.warmStart === m.warmStart).every((c) => c.exact) ? 'yes' : 'NO',
        ]),
      ),
    );
    return wire;
  },

  async startup() {
    const result = await benchStartup();
    console.log(
      formatTable(
        `CLI, exec -> exit, beside bare Node in the same run (${result.commands[0]?.runs ?? 0} rounds, interleaved; tenant list against one running worker)`,
        ['command', 'runs from', 'median (ms)', 'min (ms)', 'max (ms)', '× bare node'],
        result.commands.map((c) => [
          c.command,
          c.build,
          round(c.medianMs, 0),
          round(c.minMs, 0),
          round(c.maxMs, 0),
          round(c.timesBareNode, 2),
        ]),
      ),
    );
    const phaseNames = [
      'modules',
      'config',
      'agents',
      'prewarm',
      'warm_start',
      'listen',
      'register',
    ];
    console.log(
      formatTable(
        `openrtc start, exec -> registered with the dispatcher (${result.byMode[0]?.runs ?? 0} workers per mode, alternating)`,
        [
          'runs from',
          'warm start',
          'median (ms)',
          'min (ms)',
          'max (ms)',
          ...phaseNames.map((p) => `${p} (ms)`),
        ],
        result.byMode.map((m) => [
          m.build,
          m.warmStart,
          round(m.medianMs, 0),
          round(m.minMs, 0),
          round(m.maxMs, 0),
          ...phaseNames.map((p) => m.medianPhases[p] ?? '-'),
        ]),
      ),
    );
    console.log(
      'sources: a checkout (src/ through tsx); dist: the build, as an installed package runs it. phases: medians of what each worker logs in its ready line; modules = process start to start(), mostly importing @livekit/agents; config and agents include tsx for the TypeScript bench config and agent',
    );
    return result;
  },

  async snapshot() {
    const snapshot = await benchSnapshot();
    console.log(
      formatTable(
        `Snapshot with ${snapshot.sessions} sessions (200 rounds)`,
        ['metric', 'p50 (ms)', 'p99 (ms)'],
        [
          ['build', round(snapshot.buildP50Ms, 3), round(snapshot.buildP99Ms, 3)],
          ['socket round trip', round(snapshot.rttP50Ms, 3), round(snapshot.rttP99Ms, 3)],
        ],
      ),
    );
    return snapshot;
  },

  async overhead() {
    const overhead = await benchAttributionOverhead();
    console.log(
      formatTable(
        `Attribution overhead, ${overhead.sessions} synthetic sessions, callbacks every 20 ms (median of 3 alternating runs)`,
        ['mode', 'CPU % of a core', 'heap Δ (MiB)'],
        [
          ['attribution off', round(overhead.cpuOffPct), round(overhead.heapDeltaOffMiB)],
          ['attribution on', round(overhead.cpuOnPct), round(overhead.heapDeltaOnMiB)],
          ['overhead', round(overhead.overheadPctOfCore), ''],
        ],
      ),
    );
    return overhead;
  },

  async hookCost() {
    const cost = await benchHookCost();
    console.log(
      formatTable(
        `Attribution hook per promise reaction (${cost.awaits.toLocaleString('en-US')} awaits in a session scope, median of ${cost.repeats})`,
        ['hook', 'ns per await'],
        [
          ['off (AsyncLocalStorage only)', round(cost.offNsPerAwait, 0)],
          ['continuous', round(cost.onNsPerAwait, 0)],
          ['added by the hook', round(cost.hookNsPerAwait, 0)],
        ],
      ),
    );
    return cost;
  },

  async subscribers() {
    const subs = await benchSubscribers();
    console.log(
      formatTable(
        `Worker event-loop delay, top clients in their own process (nice 19) subscribed at ${subs.hz} Hz (${subs.sessions.toLocaleString('en-US')} sessions, median of ${subs.repeats} × ${subs.measureMs / 1000} s)`,
        ['clients', 'p50 (ms)', 'p99 (ms)', 'max (ms)', 'pushes/s'],
        [
          ['0', round(subs.idle.p50Ms), round(subs.idle.p99Ms), round(subs.idle.maxMs), 0],
          [
            '1',
            round(subs.one.p50Ms),
            round(subs.one.p99Ms),
            round(subs.one.maxMs),
            subs.onePushesPerSecond,
          ],
          [
            String(subs.clients),
            round(subs.busy.p50Ms),
            round(subs.busy.p99Ms),
            round(subs.busy.maxMs),
            subs.pushesPerSecond,
          ],
        ],
      ),
    );
    if (subs.lostClients > 0)
      console.log(`clients dropped as too slow while measured: ${subs.lostClients}`);
    return subs;
  },

  async density() {
    const result = await benchDensity(densitySettings(process.env, media), (run) => {
      const loop = run.loop ? `, loop p99 ${round(run.loop.p99Ms, 1)} ms` : '';
      console.error(
        `  density: ${run.kind} N=${run.sessions}: ${run.started} started, peak RSS ${Math.round(run.peakRssMiB)} MiB${loop}`,
      );
    });
    console.log(densityTables(result));
    return result;
  },

  async overload() {
    const result = await benchOverload(undefined, (row) => {
      console.error(
        `  overload: ${row.label}: ${row.run.accepted} accepted, ${row.run.started} started, loop p99 ${row.run.loop ? round(row.run.loop.p99Ms, 1) : '-'} ms`,
      );
    });
    const s = result.settings;
    console.log(
      formatTable(
        `Overload: talking VAD sessions offered at ${s.arrivalsPerS}/s to one worker, then all accepted talk for ${s.holdMs / 1000} s`,
        [
          'run',
          'accepted',
          'worker_overloaded',
          'turned away while full',
          'other',
          'loop p50 / p99 / max (ms)',
          'VAD turns / session-min',
          'replies / session-min',
          'CPU (% core)',
          'peak RSS (MiB)',
        ],
        result.rows.map(({ label, run }) => {
          const {
            assigned: _a,
            worker_overloaded: overloaded = 0,
            no_worker: full = 0,
            ...other
          } = run.outcomes;
          const loop = run.loop
            ? `${round(run.loop.p50Ms, 1)} / ${round(run.loop.p99Ms, 1)} / ${round(run.loop.maxMs, 0)}`
            : '-';
          return [
            label,
            `${run.accepted}${run.started !== run.accepted ? ` (${run.started} started)` : ''}`,
            overloaded,
            full,
            Object.entries(other)
              .map(([k, n]) => `${k} ${n}`)
              .join(', ') || '-',
            loop,
            round(run.speechTurnsPerSessionMin, 1),
            round(run.repliesPerSessionMin, 1),
            round(run.cpuPctOfCore, 0),
            round(run.peakRssMiB, 0),
          ];
        }),
      ),
    );
    console.log(
      'turned away while full: the worker reported WS_FULL, so the dispatcher offered the call to no worker (LiveKit does the same); loop delay from a probe in the worker over the hold',
    );
    return result;
  },

  // `npm run bench -- soak [--minutes 30] [--concurrency 30] [--sample-s 30] [--seed 17] [--no-stock]`
  async soak() {
    const result = await benchSoak(soakSettings(process.argv.slice(2)));
    if ('skipped' in result) return result;
    console.log(soakTables(result));
    mkdirSync(dir, { recursive: true });
    const chart = path.join(dir, 'soak.png');
    await writeSoakChart(result, chart);
    console.log(`\nchart: ${path.relative(process.cwd(), chart)}`);
    return result;
  },

  async attributionWithSessions() {
    const cost = await benchAttributionWithSessions();
    console.log(attributionTable(cost));
    return cost;
  },
};

/** Sections too long for a run of everything: they run only when named. */
const ONLY_WHEN_NAMED = new Set(['soak']);

// `--media room` runs the density section on real rooms; the soak's flags are the soak's; every
// other argument names a section.
const args = process.argv.slice(2).filter((a, i, all) => {
  if (a === '--no-stock') return false;
  return !SOAK_FLAGS.includes(a) && !SOAK_FLAGS.includes(all[i - 1] ?? '');
});
const mediaAt = args.indexOf('--media');
const mediaArg = mediaAt >= 0 ? args[mediaAt + 1] : 'none';
if (mediaArg !== 'none' && mediaArg !== 'room') {
  console.error(`--media must be "none" or "room", got ${JSON.stringify(mediaArg)}`);
  process.exit(2);
}
const media: DensityMedia = mediaArg;
const wanted = mediaAt >= 0 ? args.filter((_, i) => i !== mediaAt && i !== mediaAt + 1) : args;
const unknown = wanted.filter((name) => !Object.hasOwn(sections, name));
if (unknown.length > 0) {
  console.error(
    `unknown benchmark section: ${unknown.join(', ')} (known: ${Object.keys(sections).join(', ')})`,
  );
  process.exit(2);
}

const machine = machineInfo();
console.log(describeMachine(machine));
const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'results');
const file = path.join(dir, 'latest.json');
const results: Record<string, unknown> =
  existsSync(file) && wanted.length > 0
    ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>)
    : {};
for (const [name, run] of Object.entries(sections)) {
  if (wanted.length > 0 ? !wanted.includes(name) : ONLY_WHEN_NAMED.has(name)) continue;
  // Real-room figures sit beside the no-room ones, never over them.
  results[name === 'density' && media === 'room' ? 'densityRooms' : name] = await run();
}
results.machine = machine;
mkdirSync(dir, { recursive: true });
writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
console.log(`\nwritten: bench/results/latest.json`);
