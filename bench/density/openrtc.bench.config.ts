// The worker the density benchmark runs: one agent, caps out of the way, tenants spread as an
// agency's would be. `npm run bench` points it at its own local dispatcher.
import { defineConfig, type AttributionMode } from 'openrtc';
import { benchStore } from '../bench-store.js';

export default defineConfig({
  name: 'bench-density',
  // The harness passes the agent compiled to JavaScript, the same file the stock worker runs.
  agents: { 'vad-agent': process.env.BENCH_AGENT_MODULE ?? './vad-agent.ts' },
  maxConcurrentSessions: 2_000,
  // The fleet benchmark runs two of these sharing their caps through Redis.
  tenants: { maxSessions: { '*': 2_000 }, store: benchStore() },
  drainTimeoutMs: 5_000,
  // Benchmarks run several workers on one machine: no fixed health port.
  http: { port: 0 },
  // Density forces N sessions onto one worker (off); the overload benchmark compares on and off.
  overload: { enabled: process.env.BENCH_OVERLOAD === 'on' },
  // The harness switches attribution's mode to measure what each costs; the schema checks it.
  introspection: { attribution: (process.env.BENCH_ATTRIBUTION ?? 'sampled') as AttributionMode },
});
