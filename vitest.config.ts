import { defineConfig } from 'vitest/config';
import {
  REAL_SERVER_PROJECT,
  SOAK_PROJECT,
  SpreadSequencer,
} from './test/support/spread-sequencer.js';

const shared = {
  // Integration tests open real sockets and fork real processes; two cores are shared.
  testTimeout: 30_000,
  hookTimeout: 30_000,
  pool: 'forks',
  maxWorkers: 2,
} as const;

// The files before the real-server ones mostly wait on their child processes (two forks kept
// about 1.2 of the two cores busy), so a third fork runs beside them.
const FIRST_GROUP_WORKERS = 3;

// `import 'openrtc'` in the demo config and fixtures resolves to src/ (package.json's
// `openrtc-source` condition), so a test always runs the code as edited, never a build in dist/.
// Vitest's own defaults follow ours: setting conditions replaces them. It also passes these to
// its test processes as Node's `--conditions`, so a native import resolves the same way.
const conditions = ['openrtc-source', 'node', 'development|production'];
const sources = { resolve: { conditions }, ssr: { resolve: { conditions } } };

const LIVEKIT_SETUP = 'test/support/livekit/global-setup.ts';
const MANY_ROOMS = 'test/livekit/many-rooms.test.ts';

export default defineConfig({
  test: {
    // The heavy projects' files are spread among the others rather than run back to back.
    sequence: { sequencer: SpreadSequencer },
    projects: [
      {
        ...sources,
        test: {
          ...shared,
          maxWorkers: FIRST_GROUP_WORKERS,
          name: 'openrtc',
          include: ['test/**/*.test.ts', 'test/**/*.test.tsx'],
          exclude: ['test/livekit/**', 'test/soak/**'],
        },
      },
      {
        ...sources,
        // One long file of in-process churn: its own project, which the sequencer places mid-run
        // beside the lighter files, rather than last.
        test: {
          ...shared,
          maxWorkers: FIRST_GROUP_WORKERS,
          name: SOAK_PROJECT,
          include: ['test/soak/**/*.test.ts'],
          testTimeout: 120_000,
        },
      },
      {
        ...sources,
        // The real-server files of a room or two run after the rest, one at a time: beside the
        // others on two cores, a call's agent was seen falling behind real time (no reply within
        // 45 s). Each registers its own agent name and reads only its own jobs in the shared
        // server's log.
        test: {
          ...shared,
          name: REAL_SERVER_PROJECT,
          include: ['test/livekit/**/*.test.ts'],
          exclude: [MANY_ROOMS],
          globalSetup: [LIVEKIT_SETUP],
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
      {
        ...sources,
        // Twenty real rooms in one worker cost real CPU (WebRTC, Opus, two VADs per call): this
        // file runs after everything else, alone, against a LiveKit server of its own, so nothing
        // competes with it for the two cores (a starved worker's sessions fall behind real time).
        test: {
          ...shared,
          name: 'livekit-many',
          include: [MANY_ROOMS],
          globalSetup: [LIVEKIT_SETUP],
          sequence: { groupOrder: 2 },
        },
      },
    ],
  },
});
