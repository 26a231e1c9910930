// Vitest global setup: one real LiveKit server for every test file of the run, started once and
// handed to the files through `provide`. Without a server binary the real-server tests skip,
// with one line naming the install command; in CI (CI=true) a missing binary fails the run.
import type { TestProject } from 'vitest/node';
import { findServerBinary, INSTALL_COMMAND } from '../../../scripts/livekit-server.js';
import { startLivekitServer, type LivekitServer } from './livekit-server.js';
import type { LivekitProvided } from './provided.js';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const binary = findServerBinary();
  if (!binary) {
    const why = process.env.LIVEKIT_SERVER_BIN
      ? `LIVEKIT_SERVER_BIN=${process.env.LIVEKIT_SERVER_BIN} does not exist`
      : 'no livekit-server binary';
    if (process.env.CI === 'true') {
      throw new Error(
        `${why}: the real-server tests must run in CI; run \`${INSTALL_COMMAND}\` first`,
      );
    }
    console.log(
      `real LiveKit server tests skipped: ${why}; run \`${INSTALL_COMMAND}\` to build it`,
    );
    project.provide('livekit', { available: false } satisfies LivekitProvided);
    return async () => undefined;
  }
  // A few UDP ports carry every peer connection of the run (the server muxes them).
  const server: LivekitServer = await startLivekitServer({ binary: binary.path, udpPorts: 4 });
  project.provide('livekit', {
    available: true,
    binary: binary.path,
    server: {
      url: server.url,
      httpUrl: server.httpUrl,
      apiKey: server.apiKey,
      apiSecret: server.apiSecret,
      ports: server.ports,
      logFile: server.logFile,
    },
  } satisfies LivekitProvided);
  return async () => {
    await server.stop();
  };
}
