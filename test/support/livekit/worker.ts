import { randomBytes } from 'node:crypto';
import path from 'node:path';
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
export function startLivekitWorker(server: LivekitServerInfo, env: NodeJS.ProcessEnv = {}, nodeArgs: string[] = []): Promise<DevWorker> {
  const livekit = { LIVEKIT_URL: server.url, LIVEKIT_API_KEY: server.apiKey, LIVEKIT_API_SECRET: server.apiSecret };
  return startWorkerProcess({
    args: ['start', '--config', LIVEKIT_TEST_CONFIG, '--log-format', 'json'],
    env: { ...livekit, OPENRTC_TEST_AGENT: ROOM_AGENT, ...env },
    cliEnv: livekit,
    nodeArgs,
  });
}
