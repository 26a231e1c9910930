import { defineConfig } from 'vitest/config';

const shared = {
  // Integration tests open real sockets and fork real processes; two cores are shared.
  testTimeout: 30_000,
  hookTimeout: 30_000,
  pool: 'forks',
  maxWorkers: 2,
} as const;

// `import 'openrtc'` in the demo config and fixtures resolves to src/ (package.json's
// `openrtc-source` condition), so a test always runs the code as edited, never a build in dist/.
// Vitest's own defaults follow ours: setting conditions replaces them. It also passes these to
// its test processes as Node's `--conditions`, so a native import resolves the same way.
const conditions = ['openrtc-source', 'node', 'development|production'];
const sources = { resolve: { conditions }, ssr: { resolve: { conditions } } };

export default defineConfig({
  test: {
    projects: [
      {
        ...sources,
        test: {
          ...shared,
          name: 'openrtc',
          include: ['test/**/*.test.ts', 'test/**/*.test.tsx'],
          exclude: ['test/livekit/**', 'test/soak/**'],
        },
      },
      {
        ...sources,
        // One long file of in-process churn: its own project, so it runs beside the other files
        // from the start rather than queueing behind them.
        test: {
          ...shared,
          name: 'soak',
          include: ['test/soak/**/*.test.ts'],
          testTimeout: 120_000,
        },
      },
      {
        ...sources,
        // Real rooms cost real CPU (WebRTC, Opus, a VAD per call): these run after the rest, one
        // file at a time, so they do not compete with each other or the rest for the two cores (a
        // starved worker reports a load LiveKit routes no job to), against one LiveKit server.
        test: {
          ...shared,
          name: 'livekit',
          fileParallelism: false,
          include: ['test/livekit/**/*.test.ts'],
          globalSetup: ['test/support/livekit/global-setup.ts'],
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
