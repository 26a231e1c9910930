// The worker the admission-over-the-wire benchmark bursts at: one capped tenant, and a global cap
// far above it so only the tenant cap can bind.
import { defineConfig } from 'openrtc';
import { benchStore } from './bench-store.js';

export default defineConfig({
  name: 'bench-admission',
  agents: { 'held-call': './held-call-agent.ts' },
  maxConcurrentSessions: 1_000,
  // This benchmark measures admission's answers to 1,000 requests at once. Answering them holds
  // the event loop for a few hundred milliseconds, which the overload gate would rightly see.
  overload: { enabled: false },
  // Benchmarks run several workers on one machine: no fixed health port.
  http: { port: 0 },
  // The fleet benchmark runs it on the memory store and on Redis, side by side.
  tenants: {
    maxSessions: { acme: Number(process.env.BENCH_TENANT_CAP ?? 20) },
    store: benchStore(),
  },
  // The benchmarks compare a worker that warmed agents-js at start with one that did not.
  warmStart: process.env.BENCH_WARM_START !== 'off',
});
