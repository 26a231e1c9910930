import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'test/**/*.test.tsx'],
    // Integration tests open real sockets and fork real processes; two cores are shared.
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // One real LiveKit server for the run, shared by every file that needs it.
    globalSetup: ['test/support/livekit/global-setup.ts'],
    maxWorkers: 2,
  },
});
