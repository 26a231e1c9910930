// `npm run bench`: every benchmark in one run, side by side, printed as tables and written to
// bench/results/latest.json. Timings on a shared machine are noisy: read the ratios and medians.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchAdmission, benchAttributionOverhead, benchSnapshot, benchSubscribers } from './introspection.js';
import { describeMachine, machineInfo } from './machine.js';
import { round } from './stats.js';
import { formatTable } from './table.js';

const machine = machineInfo();
console.log(describeMachine(machine));

const admission = await benchAdmission();
console.log(
  formatTable('Admission, in-process (20,000 decisions, 50 tenants)', ['metric', 'value'], [
    ['decisions / s', admission.decisionsPerSecond],
    ['p50 latency (µs)', round(admission.p50Us)],
    ['p99 latency (µs)', round(admission.p99Us)],
  ]),
);

const snapshot = await benchSnapshot();
console.log(
  formatTable(`Snapshot with ${snapshot.sessions} sessions (200 rounds)`, ['metric', 'p50 (ms)', 'p99 (ms)'], [
    ['build', round(snapshot.buildP50Ms, 3), round(snapshot.buildP99Ms, 3)],
    ['socket round trip', round(snapshot.rttP50Ms, 3), round(snapshot.rttP99Ms, 3)],
  ]),
);

const overhead = await benchAttributionOverhead();
console.log(
  formatTable(`Attribution overhead, ${overhead.sessions} sessions, callbacks every 20 ms (median of 3 alternating runs)`, ['mode', 'CPU % of a core', 'heap Δ (MiB)'], [
    ['attribution off', round(overhead.cpuOffPct), round(overhead.heapDeltaOffMiB)],
    ['attribution on', round(overhead.cpuOnPct), round(overhead.heapDeltaOnMiB)],
    ['overhead', round(overhead.overheadPctOfCore), ''],
  ]),
);

const subs = await benchSubscribers();
console.log(
  formatTable(`Event-loop delay with ${subs.clients} top clients subscribed at ${subs.hz} Hz (1,000 sessions)`, ['clients', 'p50 (ms)', 'p99 (ms)', 'max (ms)'], [
    ['0', round(subs.idle.p50Ms), round(subs.idle.p99Ms), round(subs.idle.maxMs)],
    [String(subs.clients), round(subs.busy.p50Ms), round(subs.busy.p99Ms), round(subs.busy.maxMs)],
  ]),
);
console.log(`snapshot pushes delivered: ${subs.pushesPerSecond}/s`);

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'results');
mkdirSync(dir, { recursive: true });
writeFileSync(path.join(dir, 'latest.json'), `${JSON.stringify({ machine, admission, snapshot, overhead, subscribers: subs }, null, 2)}\n`);
console.log(`\nwritten: bench/results/latest.json`);
