// `npm run bench`: every benchmark in one run, side by side, printed as tables and written to
// bench/results/latest.json. Timings on a shared machine are noisy: read the ratios and medians.
// `npm run bench -- density admission` runs only the named sections and updates only their
// entries in the results file.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchAdmissionOverWire } from './admission-wire.js';
import { benchAttributionWithSessions, benchDensity, densitySettings } from './density/density.js';
import { attributionTable, densityTables } from './density/density-tables.js';
import { benchAdmission, benchAttributionOverhead, benchHookCost, benchSnapshot, benchSubscribers } from './introspection.js';
import { describeMachine, machineInfo } from './machine.js';
import { round } from './stats.js';
import { formatTable } from './table.js';

type Section = () => Promise<unknown>;

const sections: Record<string, Section> = {
  async admission() {
    const admission = await benchAdmission();
    console.log(
      formatTable('Admission, in-process (20,000 decisions, 50 tenants)', ['metric', 'value'], [
        ['decisions / s', admission.decisionsPerSecond],
        ['p50 latency (µs)', round(admission.p50Us)],
        ['p99 latency (µs)', round(admission.p99Us)],
      ]),
    );
    return admission;
  },

  async admissionWire() {
    const wire = await benchAdmissionOverWire();
    console.log(
      formatTable(
        `Admission over the wire: ${wire.requests} availability requests at once, tenant cap ${wire.cap}, to an openrtc worker in its own process (${wire.bursts.length} bursts)`,
        ['burst', 'answered', 'unanswered', 'accepted', 'exact', 'rejections', 'p50 (ms)', 'p99 (ms)', 'max (ms)', 'send (ms)', 'drain (ms)', 'wall (ms)'],
        [
          ...wire.bursts.map((b, i) => [
            String(i + 1),
            b.answered,
            b.unanswered,
            b.accepted,
            b.exact ? 'yes' : 'NO',
            Object.entries(b.rejectReasons).map(([reason, n]) => `${reason} ${n}`).join(', ') || '-',
            round(b.p50Ms),
            round(b.p99Ms),
            round(b.maxMs),
            round(b.sendMs),
            round(b.drainMs),
            round(b.wallMs),
          ]),
          ['median', '', '', '', wire.allExact ? 'all' : 'NOT all', '', round(wire.medianP50Ms), round(wire.medianP99Ms), '', '', '', ''],
        ],
      ),
    );
    console.log('latency: request written by the local dispatcher -> its answer decoded there; the dispatcher writes the burst in chunks of 25 and reads answers in between (send = time to write all 1,000)');
    return wire;
  },

  async snapshot() {
    const snapshot = await benchSnapshot();
    console.log(
      formatTable(`Snapshot with ${snapshot.sessions} sessions (200 rounds)`, ['metric', 'p50 (ms)', 'p99 (ms)'], [
        ['build', round(snapshot.buildP50Ms, 3), round(snapshot.buildP99Ms, 3)],
        ['socket round trip', round(snapshot.rttP50Ms, 3), round(snapshot.rttP99Ms, 3)],
      ]),
    );
    return snapshot;
  },

  async overhead() {
    const overhead = await benchAttributionOverhead();
    console.log(
      formatTable(`Attribution overhead, ${overhead.sessions} synthetic sessions, callbacks every 20 ms (median of 3 alternating runs)`, ['mode', 'CPU % of a core', 'heap Δ (MiB)'], [
        ['attribution off', round(overhead.cpuOffPct), round(overhead.heapDeltaOffMiB)],
        ['attribution on', round(overhead.cpuOnPct), round(overhead.heapDeltaOnMiB)],
        ['overhead', round(overhead.overheadPctOfCore), ''],
      ]),
    );
    return overhead;
  },

  async hookCost() {
    const cost = await benchHookCost();
    console.log(
      formatTable(`Attribution hook per promise reaction (${cost.awaits.toLocaleString('en-US')} awaits in a session scope, median of ${cost.repeats})`, ['hook', 'ns per await'], [
        ['off (AsyncLocalStorage only)', round(cost.offNsPerAwait, 0)],
        ['continuous', round(cost.onNsPerAwait, 0)],
        ['added by the hook', round(cost.hookNsPerAwait, 0)],
      ]),
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
          ['1', round(subs.one.p50Ms), round(subs.one.p99Ms), round(subs.one.maxMs), subs.onePushesPerSecond],
          [String(subs.clients), round(subs.busy.p50Ms), round(subs.busy.p99Ms), round(subs.busy.maxMs), subs.pushesPerSecond],
        ],
      ),
    );
    if (subs.lostClients > 0) console.log(`clients dropped as too slow while measured: ${subs.lostClients}`);
    return subs;
  },

  async density() {
    const result = await benchDensity(densitySettings(), (run) => {
      const loop = run.loop ? `, loop p99 ${round(run.loop.p99Ms, 1)} ms` : '';
      console.error(`  density: ${run.kind} N=${run.sessions}: ${run.started} started, peak RSS ${Math.round(run.peakRssMiB)} MiB${loop}`);
    });
    console.log(densityTables(result));
    return result;
  },

  async attributionWithSessions() {
    const cost = await benchAttributionWithSessions();
    console.log(attributionTable(cost));
    return cost;
  },
};

const wanted = process.argv.slice(2);
const unknown = wanted.filter((name) => !Object.hasOwn(sections, name));
if (unknown.length > 0) {
  console.error(`unknown benchmark section: ${unknown.join(', ')} (known: ${Object.keys(sections).join(', ')})`);
  process.exit(2);
}

const machine = machineInfo();
console.log(describeMachine(machine));
const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'results');
const file = path.join(dir, 'latest.json');
const results: Record<string, unknown> = existsSync(file) && wanted.length > 0 ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>) : {};
for (const [name, run] of Object.entries(sections)) {
  if (wanted.length > 0 && !wanted.includes(name)) continue;
  results[name] = await run();
}
results.machine = machine;
mkdirSync(dir, { recursive: true });
writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
console.log(`\nwritten: bench/results/latest.json`);
