import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalDispatcher } from '../../src/dispatcher/local-dispatcher.js';
import { IpcClient } from '../../src/ipc/ipc-client.js';
import type { InferenceHealth } from '../../src/inference/shared-inference.js';
import { SnapshotV1 } from '../../src/introspection/snapshot-schema.js';
import { WorkerRuntime } from '../../src/runtime/worker-runtime.js';
import { headerLines } from '../../src/top/format.js';
import { freePort } from '../support/dev-worker.js';
import { parseExposition, sampleSum } from '../support/prometheus.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/agents');
const AGENTS = {
  healthy: path.join(FIXTURES, 'healthy-agent.ts'),
  blocker: path.join(FIXTURES, 'loop-blocker-agent.ts'),
};

let runtime: WorkerRuntime | undefined;
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  await runtime?.stop(0);
  runtime = undefined;
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A config file in a temp dir (rewritten by reload tests), and a runtime over it. */
function configFile(body: Record<string, unknown>): {
  file: string;
  dir: string;
  write(body: Record<string, unknown>): void;
} {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'openrtc-prod-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'openrtc.config.ts');
  const write = (b: Record<string, unknown>) =>
    writeFileSync(
      file,
      `export default ${JSON.stringify({ name: 'prod-test', agents: AGENTS, ...b })};\n`,
    );
  write(body);
  return { file, dir, write };
}

function startRuntime(
  file: string,
  dir: string,
  extra: { dev?: boolean; inference?: () => InferenceHealth } = {},
): Promise<WorkerRuntime> {
  return WorkerRuntime.start({
    configFile: file,
    cwd: dir,
    logger: pino({ level: 'silent' }),
    dev: extra.dev ?? true,
    devPort: 0,
    socketPath: path.join(dir, 'w.sock'),
    ...(extra.inference ? { inference: extra.inference } : {}),
  });
}

async function get(url: string): Promise<[number, string]> {
  const r = await fetch(url);
  return [r.status, await r.text()];
}

describe('metrics label cardinality', () => {
  it('a burst of 10,000 distinct tenant ids keeps the tenant series bounded by metrics.maxTenants', async () => {
    // Overload protection off: every request must reach admission, not find the worker full mid-burst.
    const { file, dir } = configFile({
      tenants: { requireConfig: true, config: {}, maxSessions: { acme: 5 } },
      metrics: { maxTenants: 500 },
      overload: { enabled: false },
    });
    runtime = await startRuntime(file, dir);
    const dispatcher = runtime.dispatcher!;
    const N = 10_000;
    for (let i = 0; i < N; i += 500) {
      await Promise.all(
        Array.from({ length: 500 }, (_, j) =>
          dispatcher.dispatch({
            agentName: 'healthy',
            metadata: JSON.stringify({ tenant: `t-${i + j}` }),
          }),
        ),
      );
    }
    const text = await (await fetch(`${runtime.http!.url}/metrics`)).text();
    const samples = parseExposition(text);
    const tenantLabels = new Set(
      samples.flatMap((s) => (s.labels.tenant !== undefined ? [s.labels.tenant] : [])),
    );
    // 500 own labels, the configured tenants' first (default, which has no traffic and so no
    // series yet, and acme), then the first 498 ids seen; everything later folds into _other.
    expect(tenantLabels.size).toBeLessThanOrEqual(501);
    expect(tenantLabels.has('_other')).toBe(true);
    expect(tenantLabels.has('acme')).toBe(true);
    expect([...tenantLabels].filter((t) => t.startsWith('t-'))).toHaveLength(498);
    expect(tenantLabels.has('t-0')).toBe(true);
    expect(tenantLabels.has(`t-${N - 1}`)).toBe(false);
    // Nothing is lost in the fold: every rejection is counted somewhere.
    expect(
      sampleSum(samples, 'openrtc_admissions_total', {
        decision: 'rejected',
        reason: 'tenant_not_configured',
      }),
    ).toBe(N);
    expect(sampleSum(samples, 'openrtc_admissions_total', { tenant: '_other' })).toBe(N - 498);
    expect(samples.find((s) => s.name === 'openrtc_metrics_tenants_folded')?.value).toBe(N - 498);
    // Bounded: per-tenant series times 501 labels, not times 10,000 tenants.
    expect(samples.filter((s) => s.name.startsWith('openrtc_')).length).toBeLessThan(501 * 40);
  }, 120_000);
});

describe('the HTTP listener', () => {
  it('a port in use stops start-up with a clear error and leaves nothing open behind it', async () => {
    const { createServer } = await import('node:net');
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    cleanups.push(() => new Promise<void>((r) => blocker.close(() => r())));
    const port = (blocker.address() as AddressInfo).port;
    const { file, dir } = configFile({ http: { port, host: '127.0.0.1' } });
    await expect(startRuntime(file, dir)).rejects.toThrow(
      `http.port ${port} on 127.0.0.1 is already in use (set http.port in the config, 0 for any free port, or false for none)`,
    );
    // Its control socket and dispatcher were closed: the same socket path serves the next worker.
    runtime = await startRuntime(configFile({}).file, dir);
    expect(runtime.http?.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });
});

describe('a control socket another worker holds', () => {
  it('stops start-up with a clear error and leaves the live worker its socket', async () => {
    const { file, dir } = configFile({});
    runtime = await startRuntime(file, dir);
    const socketPath = path.join(dir, 'w.sock');
    // A second worker over the same directory, so the same socket path.
    await expect(startRuntime(configFile({}).file, dir)).rejects.toThrow(
      `another worker is already listening on ${socketPath}`,
    );
    const client = await IpcClient.connect(socketPath);
    try {
      expect(await client.request('worker.info', {})).toMatchObject({ name: 'prod-test' });
    } finally {
      client.close();
    }
  });
});

describe('GET / health reasons', () => {
  it('503 "not connected to livekit" until registered, then 200 OK', async () => {
    const port = await freePort();
    const httpPort = await freePort();
    const { file, dir } = configFile({
      livekit: { url: `ws://127.0.0.1:${port}`, apiKey: 'devkey', apiSecret: 'secret' },
      http: { port: httpPort, host: '127.0.0.1', loopStallMs: 60_000 },
    });
    // The runtime exists only once it is registered; a probe meanwhile finds the port, as a
    // kubelet does.
    const starting = startRuntime(file, dir, { dev: false });
    const base = `http://127.0.0.1:${httpPort}`;
    try {
      // Loading the agents and the inference process comes first: slow on a loaded machine.
      await expect
        .poll(
          () =>
            get(`${base}/`).then(
              () => true,
              () => false,
            ),
          { timeout: 60_000 },
        )
        .toBe(true);
      expect(await get(`${base}/`)).toEqual([503, 'not connected to livekit']);
    } finally {
      // Registering lets the start finish, so the runtime is stopped after the test whatever happened.
      const dispatcher = await LocalDispatcher.start({
        port,
        apiKey: 'devkey',
        apiSecret: 'secret',
      });
      cleanups.push(() => dispatcher.close());
      runtime = await starting;
    }
    expect(await get(`${base}/`)).toEqual([200, 'OK']);
  }, 120_000);

  it('503 "inference process not running" only when one is expected and down', async () => {
    // A stall bound nothing reaches: a busy machine must not turn this into "event loop stalled".
    const { file, dir } = configFile({ http: { port: 0, loopStallMs: 60_000 } });
    let state: InferenceHealth = { expected: false };
    runtime = await startRuntime(file, dir, { inference: () => state });
    const base = runtime.http!.url;
    expect(await get(`${base}/`)).toEqual([200, 'OK']);
    state = { expected: true, running: true };
    expect(await get(`${base}/`)).toEqual([200, 'OK']);
    state = { expected: true, running: false };
    expect(await get(`${base}/`)).toEqual([503, 'inference process not running']);
    expect(
      ((await (await fetch(`${base}/worker`)).json()) as { inference: unknown }).inference,
    ).toEqual({ expected: true, running: false });
  });

  it('503 "event loop stalled" after a block past http.loopStallMs', async () => {
    const { file, dir } = configFile({
      http: { port: 0, loopStallMs: 300 },
      overload: { enabled: false },
    });
    runtime = await startRuntime(file, dir);
    const base = runtime.http!.url;
    expect(await get(`${base}/`)).toEqual([200, 'OK']);
    const call = await runtime.dispatcher!.dispatch({
      agentName: 'blocker',
      metadata: JSON.stringify({ block_ms: 400, every_ms: 1_000 }),
    });
    expect(call.status).toBe('assigned');
    await expect
      .poll(() => get(`${base}/`), { timeout: 10_000, interval: 200 })
      .toEqual([503, 'event loop stalled']);
  });
});

describe('overload protection on a real worker', () => {
  it('rejects worker_overloaded while the loop is late, marks the worker full, and config reload switches it off and on', async () => {
    const cfg = { overload: { enabled: true, maxLoopDelayMs: 60, windowMs: 2_000 } };
    // Started with a bound nothing reaches, so the heavy call gets in even on a busy machine.
    const { file, dir, write } = configFile({
      overload: { ...cfg.overload, maxLoopDelayMs: 60_000 },
    });
    runtime = await startRuntime(file, dir);
    const dispatcher = runtime.dispatcher!;
    const call = await dispatcher.dispatch({
      agentName: 'blocker',
      metadata: JSON.stringify({ tenant: 'heavy', block_ms: 120, every_ms: 150 }),
    });
    expect(call.status).toBe('assigned');
    write(cfg);
    expect((await runtime.reloadConfig()).changed).toContain('overload.maxLoopDelayMs');
    await expect
      .poll(() => runtime!.load.loopDelay(2_000).p99Ms, { timeout: 10_000 })
      .toBeGreaterThan(60);

    // Either answer keeps the call off this worker: a rejection with the reason, or no offer at all once it reports full.
    const next = await dispatcher.dispatch({
      agentName: 'healthy',
      metadata: JSON.stringify({ tenant: 'acme' }),
    });
    const turnedAway = next.status === 'rejected' ? next.reason : next.status;
    expect(['worker_overloaded', 'no_worker']).toContain(turnedAway);
    await expect.poll(() => runtime!.worker.currentLoad().full, { timeout: 10_000 }).toBe(true);
    expect(runtime.worker.currentLoad().reason).toBe('load');

    // A direct decision says why, and counts it for the tenant and in the snapshot.
    const decision = await runtime.admission.decide({
      jobId: 'J-direct',
      agentName: 'healthy',
      metadata: JSON.stringify({ tenant: 'acme' }),
    });
    expect(decision).toMatchObject({ accept: false, reason: 'worker_overloaded' });
    const snap = runtime.snapshot();
    expect(
      snap.tenants.find((t) => t.tenant === 'acme')?.rejected.worker_overloaded,
    ).toBeGreaterThanOrEqual(1);
    expect(
      snap.events.some(
        (e) =>
          e.kind === 'reject' &&
          e.message.startsWith('worker_overloaded: the worker is overloaded'),
      ),
    ).toBe(true);
    // Its place in top: the header says so, beside the load LiveKit is told.
    expect(SnapshotV1.parse(snap).worker.load).toMatchObject({
      full: true,
      fullReason: 'load',
      overloaded: true,
    });
    const [first, second] = headerLines(snap, 160);
    expect(first).toContain('OVERLOADED');
    expect(second).toMatch(/load \d\.\d\d/);

    // Off by reload: calls are taken again, the load is still reported but never marks the worker full.
    write({ overload: { ...cfg.overload, enabled: false } });
    expect((await runtime.reloadConfig()).changed).toContain('overload.enabled');
    await expect.poll(() => runtime!.worker.currentLoad().full, { timeout: 10_000 }).toBe(false);
    await expect.poll(() => dispatcher.workers()[0]?.status, { timeout: 10_000 }).toBe('available');
    const taken = await dispatcher.dispatch({
      agentName: 'healthy',
      metadata: JSON.stringify({ tenant: 'acme' }),
    });
    expect(taken.status).toBe('assigned');

    // And on again.
    write(cfg);
    await runtime.reloadConfig();
    const again = await runtime.admission.decide({
      jobId: 'J-again',
      agentName: 'healthy',
      metadata: JSON.stringify({ tenant: 'acme' }),
    });
    expect(again).toMatchObject({ accept: false, reason: 'worker_overloaded' });
    dispatcher.terminate(call.jobId);
  }, 60_000);
});
