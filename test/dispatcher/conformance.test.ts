import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AgentServer, initializeLogger, ServerOptions } from '@livekit/agents';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalDispatcher } from '../../src/dispatcher/local-dispatcher.js';
import type { WorkerRecord } from '../../src/dispatcher/types.js';

/**
 * The stock @livekit/agents worker, unmodified and with its own process pool, against our
 * dispatcher: if it registers, accepts, is assigned and runs the job in its child process, the
 * dispatcher speaks the protocol the way LiveKit's own client expects.
 */
const AGENT = fileURLToPath(new URL('../fixtures/stock-agent/agent.mjs', import.meta.url));
const API_KEY = 'conformance';
const API_SECRET = 'conformance-secret-long-enough-0000';

let dispatcher: LocalDispatcher;
let server: AgentServer;
let running: Promise<void>;
let dir: string;
let registered: Promise<WorkerRecord>;

beforeAll(async () => {
  initializeLogger({ pretty: false, level: 'error' });
  dir = mkdtempSync(join(tmpdir(), 'openrtc-conformance-'));
  dispatcher = await LocalDispatcher.start({ port: 0, apiKey: API_KEY, apiSecret: API_SECRET });
  registered = new Promise((resolve) => dispatcher.once('worker_registered', resolve));
  server = new AgentServer(
    new ServerOptions({
      agent: AGENT,
      wsURL: dispatcher.url,
      apiKey: API_KEY,
      apiSecret: API_SECRET,
      agentName: 'stock',
      numIdleProcesses: 1,
      // The health server binds locally on an ephemeral port; nothing reaches the internet.
      host: '127.0.0.1',
      port: 0,
      production: false,
      maxRetry: 0,
      // The pool forks a replacement idle process when the job starts; if close() finds it still
      // initializing, it cannot acknowledge the shutdown and is killed after this long.
      shutdownProcessTimeout: 1_000,
    }),
  );
  running = server.run();
  running.catch(() => undefined);
});

afterAll(async () => {
  await server?.close();
  await running?.catch(() => undefined);
  await dispatcher?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('stock @livekit/agents AgentServer against the local dispatcher', () => {
  it('registers under its agent name', async () => {
    const w = await registered;
    expect(w.agentName).toBe('stock');
    expect(w.workerId).toMatch(/^AW_/);
    expect(w.version).not.toBe('');
  });

  it('accepts an availability request, is assigned, and runs the job in its child process', async () => {
    const marker = join(dir, 'job.json');
    const metadata = JSON.stringify({ marker, tenant: 'acme' });
    const outcome = await dispatcher.dispatch({ agentName: 'stock', metadata, roomName: 'conformance-room' });
    if (outcome.status !== 'assigned') throw new Error(`not assigned: ${JSON.stringify(outcome)}`);
    expect(outcome.participantIdentity).toBe(`agent-${outcome.jobId}`);
    // agents-js stamps its agent name on the participant it asks for.
    expect(outcome.participantAttributes['lk.agent.name']).toBe('stock');

    await expect.poll(() => existsSync(marker), { timeout: 15_000, interval: 100 }).toBe(true);
    const written = JSON.parse(readFileSync(marker, 'utf8')) as Record<string, unknown>;
    expect(written).toMatchObject({ jobId: outcome.jobId, metadata, room: 'conformance-room', agentName: 'stock', prewarmed: true });
    expect(written.pid).not.toBe(process.pid);
    // Stock agents-js never sends updateJob; like LiveKit, the job stays running as assigned.
    expect(dispatcher.job(outcome.jobId)?.state).toBe('running');
    // ctx.shutdown() ends the job process; the pool then forgets the job.
    await expect.poll(() => server.activeJobs.length, { timeout: 10_000, interval: 100 }).toBe(0);
  });
});
