import path from 'node:path';
import { REPO_ROOT, startWorkerProcess, type DevWorker } from '../dev-worker.js';
import type { LivekitServerInfo } from './livekit-server.js';

/** The worker config the real-server tests run: the room voice agent, per-tenant voices. */
export const LIVEKIT_TEST_CONFIG = path.join(REPO_ROOT, 'test/fixtures/livekit/openrtc.config.ts');
export const ROOM_AGENT = 'room-voice';

/** `openrtc start` against a real server, as the README runs it. */
export function startLivekitWorker(server: LivekitServerInfo, env: NodeJS.ProcessEnv = {}, nodeArgs: string[] = []): Promise<DevWorker> {
  const livekit = { LIVEKIT_URL: server.url, LIVEKIT_API_KEY: server.apiKey, LIVEKIT_API_SECRET: server.apiSecret };
  return startWorkerProcess({ args: ['start', '--config', LIVEKIT_TEST_CONFIG], env: { ...livekit, ...env }, cliEnv: livekit, nodeArgs });
}
