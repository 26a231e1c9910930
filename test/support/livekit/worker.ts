import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { IpcClient } from '../../../src/ipc/ipc-client.js';
import { listWorkers } from '../../../src/ipc/socket-path.js';
import { SnapshotV1 } from '../../../src/introspection/snapshot-schema.js';
import { REPO_ROOT, startWorkerProcess, type DevWorker } from '../dev-worker.js';
import type { LivekitServerInfo } from './livekit-server.js';

/** The worker config the real-server tests run: the room voice agent, per-tenant voices. */
export const LIVEKIT_TEST_CONFIG = path.join(REPO_ROOT, 'test/fixtures/livekit/openrtc.config.ts');
/**
 * The agent name this test file's worker registers. Test files share one server and run two at a
 * time, and LiveKit spreads an agent's jobs over every worker registered under its name: each
 * file's worker gets its own name, so its jobs reach it and no other.
 */
export const ROOM_AGENT = `room-voice-${randomBytes(3).toString('hex')}`;

/** `openrtc start` against a real server, as the README runs it. */
export function startLivekitWorker(
  server: LivekitServerInfo,
  env: NodeJS.ProcessEnv = {},
  nodeArgs: string[] = [],
): Promise<DevWorker> {
  const livekit = {
    LIVEKIT_URL: server.url,
    LIVEKIT_API_KEY: server.apiKey,
    LIVEKIT_API_SECRET: server.apiSecret,
  };
  return startWorkerProcess({
    args: ['start', '--config', LIVEKIT_TEST_CONFIG, '--log-format', 'json'],
    env: { ...livekit, OPENRTC_TEST_AGENT: ROOM_AGENT, ...env },
    cliEnv: livekit,
    nodeArgs,
  });
}

/**
 * LiveKit sends a job only to a worker whose last reported load is under its target load (0.7,
 * `agents.target_load`), and drops a job no worker can take. A worker that has just started, or
 * is busy starting sessions, can report more for a moment: tests that need a job to arrive wait
 * until the worker says it has room, as a backend that checks before dispatching would.
 */
export async function untilRoutable(worker: DevWorker, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  let last: number | undefined;
  while (Date.now() < until) {
    last = (await workerSnapshot(worker).catch(() => undefined))?.worker.load?.load;
    if (last !== undefined && last < ROUTABLE_LOAD) return;
    await sleep(250);
  }
  throw new Error(
    `the worker's reported load stayed at or above ${ROUTABLE_LOAD} for ${timeoutMs} ms (last ${last})`,
  );
}

/** Under LiveKit's default target load of 0.7, with a margin for the report in flight. */
const ROUTABLE_LOAD = 0.6;

/**
 * The worker's snapshot, straight from its control socket: what `openrtc top --json` prints,
 * without starting a CLI process each time where the CLI is not what a test is about.
 */
export async function workerSnapshot(worker: DevWorker): Promise<SnapshotV1> {
  const [socket] = await listWorkers(worker.env);
  if (!socket) throw new Error(`no worker socket in ${worker.runtimeDir}`);
  const client = await IpcClient.connect(socket.socketPath);
  try {
    return SnapshotV1.parse(await client.request('snapshot'));
  } finally {
    client.close();
  }
}
