import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AgentServer, initializeLogger, ServerOptions } from '@livekit/agents';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalDispatcher } from '../../src/dispatcher/local-dispatcher.js';
import type { WorkerRecord } from '../../src/dispatcher/types.js';
import { SessionRegistry } from '../../src/introspection/registry.js';
import { setProcessLogger } from '../../src/logging/process-logger.js';
import { SessionHost } from '../../src/session/session-host.js';
import { WorkerHost } from '../../src/worker/worker-host.js';
import healthy from '../fixtures/agents/healthy-agent.js';
import { memoryLogger } from '../session/support.js';
import { admissionRig } from '../support/admission-rig.js';

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
  ({ server, running } = stockServer(dispatcher, 'stock'));
});

/** Stock `AgentServer` with its own process pool, registered under `agentName` ('' for automatic dispatch). */
function stockServer(
  d: LocalDispatcher,
  agentName: string,
): { server: AgentServer; running: Promise<void> } {
  const s = new AgentServer(
    new ServerOptions({
      agent: AGENT,
      wsURL: d.url,
      apiKey: API_KEY,
      apiSecret: API_SECRET,
      agentName,
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
  const r = s.run();
  r.catch(() => undefined);
  return { server: s, running: r };
}

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
    const outcome = await dispatcher.dispatch({
      agentName: 'stock',
      metadata,
      roomName: 'conformance-room',
    });
    if (outcome.status !== 'assigned') throw new Error(`not assigned: ${JSON.stringify(outcome)}`);
    expect(outcome.participantIdentity).toBe(`agent-${outcome.jobId}`);
    // agents-js stamps its agent name on the participant it asks for.
    expect(outcome.participantAttributes['lk.agent.name']).toBe('stock');

    await expect.poll(() => existsSync(marker), { timeout: 40_000, interval: 100 }).toBe(true);
    const written = JSON.parse(readFileSync(marker, 'utf8')) as Record<string, unknown>;
    expect(written).toMatchObject({
      jobId: outcome.jobId,
      metadata,
      room: 'conformance-room',
      agentName: 'stock',
      prewarmed: true,
    });
    expect(written.pid).not.toBe(process.pid);
    // Stock agents-js never sends updateJob; like LiveKit, the job stays running as assigned.
    expect(dispatcher.job(outcome.jobId)?.state).toBe('running');
    // ctx.shutdown() ends the job process; the pool then forgets the job.
    await expect.poll(() => server.activeJobs.length, { timeout: 10_000, interval: 100 }).toBe(0);
  }, 60_000);
});

/**
 * LiveKit's automatic dispatch: a room created with no agent dispatch gets a dispatch with an
 * empty agent name, and the server offers it to workers registered with an empty agent name
 * (livekit-server `createAgentDispatchesFromRoomAgent`). Stock agents-js registers that way when
 * no agent name is set; openrtc does for `agents: { '': ... }`.
 */
describe('automatic dispatch (an agent registered with no agent name)', () => {
  let autoDispatcher: LocalDispatcher;
  let autoServer: AgentServer;
  let autoRunning: Promise<void>;
  let autoRegistered: Promise<WorkerRecord>;

  beforeAll(async () => {
    autoDispatcher = await LocalDispatcher.start({
      port: 0,
      apiKey: API_KEY,
      apiSecret: API_SECRET,
    });
    autoRegistered = new Promise((resolve) => autoDispatcher.once('worker_registered', resolve));
    ({ server: autoServer, running: autoRunning } = stockServer(autoDispatcher, ''));
  });

  afterAll(async () => {
    await autoServer?.close();
    await autoRunning?.catch(() => undefined);
    await autoDispatcher?.close();
  });

  it('stock AgentServer with no agent name takes a job dispatched with no agent name', async () => {
    const w = await autoRegistered;
    expect(w.agentName).toBe('');
    const marker = join(dir, 'auto-job.json');
    const outcome = await autoDispatcher.dispatch({
      agentName: '',
      metadata: JSON.stringify({ marker }),
      roomName: 'auto-room',
    });
    if (outcome.status !== 'assigned') throw new Error(`not assigned: ${JSON.stringify(outcome)}`);
    await expect.poll(() => existsSync(marker), { timeout: 40_000, interval: 100 }).toBe(true);
    expect(JSON.parse(readFileSync(marker, 'utf8'))).toMatchObject({
      jobId: outcome.jobId,
      agentName: '',
      room: 'auto-room',
    });
    // A named dispatch does not reach a worker registered for automatic dispatch.
    const named = await autoDispatcher.dispatch({ agentName: 'someone-else', metadata: '{}' });
    expect(named.status).toBe('no_worker');
  }, 60_000);

  it('openrtc with agents { "": … } takes automatic jobs on that registration, and named jobs on their own', async () => {
    const log = memoryLogger();
    setProcessLogger(log.logger);
    const sessions = new SessionHost({
      agents: { '': healthy, named: healthy },
      registry: new SessionRegistry(),
      logger: log.logger,
      shutdownGraceMs: 500,
    });
    const { admission } = admissionRig({ maxConcurrentSessions: 10 });
    const host = new WorkerHost({
      url: autoDispatcher.url,
      apiKey: API_KEY,
      apiSecret: API_SECRET,
      agentNames: ['', 'named'],
      admission,
      sessions,
      logger: log.logger,
      version: 'test',
    });
    await host.start();
    try {
      expect(host.registrations().map((r) => [r.agentName, r.registered])).toEqual([
        ['', true],
        ['named', true],
      ]);
      const ours = autoDispatcher.workers().filter((w) => w.version === 'test');
      expect(ours.map((w) => w.agentName).sort()).toEqual(['', 'named']);
      const autoWorker = ours.find((w) => w.agentName === '')!.workerId;
      // Two workers take automatic jobs now (stock and ours); dispatch until ours gets one.
      let mine:
        | Extract<Awaited<ReturnType<LocalDispatcher['dispatch']>>, { status: 'assigned' }>
        | undefined;
      for (let i = 0; i < 6 && !mine; i++) {
        const o = await autoDispatcher.dispatch({
          agentName: '',
          metadata: JSON.stringify({ tenant: 'acme', marker: join(dir, `auto-${i}.json`) }),
        });
        if (o.status === 'assigned' && o.workerId === autoWorker) mine = o;
      }
      if (!mine)
        throw new Error('the openrtc automatic-dispatch registration was never offered a job');
      expect(mine.participantAttributes.tenant).toBe('acme');
      await autoDispatcher.waitForJob(mine.jobId, (j) => j.state === 'success', 10_000);
      const named = await autoDispatcher.dispatch({
        agentName: 'named',
        metadata: JSON.stringify({ tenant: 'acme' }),
      });
      expect(named).toMatchObject({
        status: 'assigned',
        workerId: ours.find((w) => w.agentName === 'named')!.workerId,
      });
      await autoDispatcher.waitForJob(named.jobId, (j) => j.state === 'success', 10_000);
      const agentsRun = log
        .lines()
        .filter((l) => l.msg === 'agent replied')
        .map((l) => l.agent);
      expect(agentsRun.sort()).toEqual(['', 'named']);
    } finally {
      await host.stop();
    }
  }, 60_000);
});
