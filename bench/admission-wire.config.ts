// The worker the admission-over-the-wire benchmark bursts at: one capped tenant, and a global cap
// far above it so only the tenant cap can bind.
import { defineConfig } from 'openrtc';

export default defineConfig({
  name: 'bench-admission',
  agents: { 'held-call': './held-call-agent.ts' },
  maxConcurrentSessions: 1_000,
  // Benchmarks run several workers on one machine: no fixed health port.
  http: { port: 0 },
  tenants: { maxSessions: { acme: Number(process.env.BENCH_TENANT_CAP ?? 20) } },
});
