import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IpcClient } from '../../src/ipc/ipc-client.js';
import { listWorkers } from '../../src/ipc/socket-path.js';
import { SnapshotV1 } from '../../src/introspection/snapshot-schema.js';
import { REPO_ROOT, startDevWorker, type DevWorker } from '../support/dev-worker.js';
import { parseExposition, sampleSum, sampleValue } from '../support/prometheus.js';
import { runCli } from '../support/run-cli.js';

/** The address the worker logs once its HTTP server listens (ephemeral under `dev`). */
function httpUrl(worker: DevWorker): string {
  for (const line of worker.logs) {
    try {
      const entry = JSON.parse(line) as { msg?: string; http?: string };
      if (entry.http && entry.msg?.startsWith('http server listening')) return entry.http;
    } catch {
      // not JSON
    }
  }
  throw new Error(`the worker never logged its http address:\n${worker.logs.join('\n')}`);
}

async function snapshot(worker: DevWorker): Promise<SnapshotV1> {
  const [socket] = await listWorkers(worker.env);
  if (!socket) throw new Error('no control socket');
  const client = await IpcClient.connect(socket.socketPath);
  try {
    return SnapshotV1.parse(await client.request('snapshot'));
  } finally {
    client.close();
  }
}

describe('operations endpoints of a real `openrtc dev` worker', () => {
  let worker: DevWorker;
  let base: string;
  beforeAll(async () => {
    worker = await startDevWorker();
    base = httpUrl(worker);
  }, 90_000);
  afterAll(async () => {
    await worker?.stop();
  });

  it('binds an ephemeral loopback port under dev and logs it', () => {
    expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(Number(new URL(base).port)).not.toBe(8081);
  });

  it('GET / answers 200 OK when registered; unknown paths 404; other methods 405', async () => {
    const ok = await fetch(`${base}/`);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe('OK');
    expect((await fetch(`${base}/?probe=1`)).status).toBe(200);
    const head = await fetch(`${base}/`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    const missing = await fetch(`${base}/healthz`);
    expect(missing.status).toBe(404);
    expect(await missing.text()).toBe('not found');
    expect((await fetch(`${base}/worker/extra`)).status).toBe(404);
    const post = await fetch(`${base}/`, { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
  });

  it('GET /worker has stock agents-js keys, and openrtc’s tenants, caps, breakers and store', async () => {
    const res = await fetch(`${base}/worker`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    const info = (await res.json()) as Record<string, unknown>;
    expect(info).toMatchObject({
      agent_name: 'demo',
      agent_name_is_env: false,
      deployment: '',
      worker_type: 'JT_ROOM',
      active_jobs: 0,
      sdk_version: '1.9.0',
      project_type: 'nodejs',
      protocol_version: 1,
      health: 'OK',
      draining: false,
      agent_names: ['demo'],
      store: { kind: 'memory', state: 'ok' },
      sessions: { in_use: 0, capacity: 50 },
      sessions_by_tenant: {},
      load: { status: 'available', threshold: 0.7 },
      // `dev` leaves overload protection off unless the config turns it on, as stock's dev mode has no load threshold.
      overload: { enabled: false, max_loop_delay_ms: 60 },
      inference: { expected: true, running: true },
    });
    expect(info.tenants).toMatchObject({
      acme: { cap: 10, breaker: { state: 'closed' } },
      globex: { cap: 2, breaker: { state: 'closed' } },
    });
    expect(info.registrations).toEqual([
      { agent_name: 'demo', registered: true, worker_id: expect.stringMatching(/^AW_/) },
    ]);
  });

  it('after a known sequence of dispatches, /metrics counters equal the snapshot’s', async () => {
    // dispatch exits 0 when every job was accepted, 1 otherwise.
    const run = async (args: string[], code = 1) => {
      const r = await runCli(['dispatch', '--agent', 'demo', ...args], worker.env);
      expect(r.code, r.stderr).toBe(code);
      return r.stdout;
    };
    expect(await run(['--tenant', 'acme', '--count', '3', '--duration', '0.2'], 0)).toContain(
      '3/3 accepted',
    );
    expect(await run(['--tenant', 'globex', '--count', '4', '--duration', '5'])).toContain(
      '2/4 accepted',
    );
    // While globex's calls are up: the gauges.
    const live = parseExposition(await (await fetch(`${base}/metrics`)).text());
    expect(sampleValue(live, 'openrtc_sessions_live', { tenant: 'globex' })).toBe(2);
    // The deprecated name carries the same series for dashboards built on it.
    expect(sampleValue(live, 'openrtc_sessions_active', { tenant: 'globex' })).toBe(2);
    expect(sampleValue(live, 'openrtc_tenant_cap', { tenant: 'globex' })).toBe(2);
    expect(live.find((s) => s.name === 'lk_agents_active_job_count')?.value).toBeGreaterThanOrEqual(
      2,
    );
    expect(await run(['--tenant', 'bad tenant!'])).toContain('rejected invalid_tenant');
    expect(await run(['--tenant', 'flaky', '--count', '2'])).toContain(
      'failed entry_error: Error: upstream LLM returned 503',
    );
    expect(await run(['--agent', 'nobody-runs-this'])).toContain('no_worker');

    // Once every call has ended, counters and the snapshot hold still: compare them.
    let snap = await snapshot(worker);
    await expect
      .poll(
        async () => {
          snap = await snapshot(worker);
          return snap.worker.live + snap.worker.reserved;
        },
        { timeout: 20_000, interval: 200 },
      )
      .toBe(0);
    const text = await (await fetch(`${base}/metrics`)).text();
    const samples = parseExposition(text);
    for (const t of snap.tenants) {
      expect(
        sampleSum(samples, 'openrtc_admissions_total', { tenant: t.tenant, decision: 'accepted' }),
        `${t.tenant} accepted`,
      ).toBe(t.accepted);
      for (const [reason, n] of Object.entries(t.rejected)) {
        expect(
          sampleSum(samples, 'openrtc_admissions_total', {
            tenant: t.tenant,
            decision: 'rejected',
            reason,
          }),
          `${t.tenant} ${reason}`,
        ).toBe(n);
      }
      expect(
        sampleSum(samples, 'openrtc_session_outcomes_total', {
          tenant: t.tenant,
          outcome: 'success',
        }),
        `${t.tenant} succeeded`,
      ).toBe(t.succeeded);
      expect(
        sampleSum(samples, 'openrtc_session_outcomes_total', {
          tenant: t.tenant,
          outcome: 'failed',
        }),
        `${t.tenant} failed`,
      ).toBe(t.failed);
    }
    const totals = snap.worker.totals;
    expect(totals).toMatchObject({ accepted: 7, succeeded: 5, failed: 2 });
    expect(sampleSum(samples, 'openrtc_admissions_total', { decision: 'accepted' })).toBe(
      totals.accepted,
    );
    // Worker-wide, rejections no tenant row counts (a malformed id) included.
    for (const [reason, n] of Object.entries(totals.rejected)) {
      expect(
        sampleSum(samples, 'openrtc_admissions_total', { decision: 'rejected', reason }),
        `total ${reason}`,
      ).toBe(n);
    }
    expect(
      sampleSum(samples, 'openrtc_admissions_total', {
        decision: 'rejected',
        reason: 'tenant_capacity',
      }),
    ).toBe(2);
    expect(
      sampleSum(samples, 'openrtc_admissions_total', {
        decision: 'rejected',
        reason: 'invalid_tenant',
      }),
    ).toBe(1);
    expect(sampleSum(samples, 'openrtc_session_duration_seconds_count', {})).toBe(7);
    expect(sampleSum(samples, 'openrtc_admission_latency_seconds_count', {})).toBe(
      totals.accepted + 3,
    );
    // The config source is asked once per tenant; every other request is served without it.
    expect(
      sampleSum(samples, 'openrtc_tenant_config_loads_total', { tenant: 'acme', result: 'found' }),
    ).toBe(1);
    expect(sampleSum(samples, 'openrtc_tenant_config_cache_hits_total', { tenant: 'acme' })).toBe(
      2,
    );
    expect(sampleSum(samples, 'openrtc_tenant_config_loads_total', { tenant: 'globex' })).toBe(1);
    expect(sampleSum(samples, 'openrtc_tenant_config_cache_hits_total', { tenant: 'globex' })).toBe(
      3,
    );

    // The Python agents framework's series, with its nodename label.
    for (const name of [
      'lk_agents_active_job_count',
      'lk_agents_worker_load',
      'lk_agents_child_process_count',
      'lk_agents_proc_initialize_duration_seconds_count',
    ]) {
      const s = samples.find((x) => x.name === name);
      expect(s, name).toBeDefined();
      expect(s!.labels.nodename, name).toEqual(expect.any(String));
    }
    // Sessions run in the worker; the one child is the shared inference process (the turn detector's model).
    expect(sampleSum(samples, 'lk_agents_child_process_count')).toBe(1);
    expect(sampleSum(samples, 'lk_agents_active_job_count')).toBe(0);
    expect(sampleSum(samples, 'lk_agents_proc_initialize_duration_seconds_count')).toBe(1);
    // Default Node metrics.
    expect(samples.some((s) => s.name === 'process_cpu_user_seconds_total')).toBe(true);
    expect(samples.some((s) => s.name === 'nodejs_eventloop_lag_p99_seconds')).toBe(true);
    // Nothing secret: the demo's tenants have provider objects; none of their content is exposed.
    expect(text).not.toMatch(/apiKey|secret|FakeLLM/i);

    // The example Grafana dashboard is built on these series only.
    const dashboard = readFileSync(
      path.join(REPO_ROOT, 'examples/grafana/openrtc-worker.json'),
      'utf8',
    );
    const used = new Set(
      [...dashboard.matchAll(/\b((?:openrtc|lk_agents|nodejs|process)_[a-z0-9_]+)/g)].map(
        (m) => m[1]!,
      ),
    );
    const served = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
    for (const name of used)
      expect(served.has(name) || served.has(name.replace(/_(bucket|sum|count)$/, '')), name).toBe(
        true,
      );
  }, 90_000);

  it('GET / answers 503 "draining" while the worker drains', async () => {
    const held = await runCli(
      ['dispatch', '--agent', 'demo', '--tenant', 'initech', '--duration', '4'],
      worker.env,
    );
    expect(held.stdout).toContain('1/1 accepted');
    const drain = await runCli(['drain', '--no-wait'], worker.env);
    expect(drain.code, drain.stderr).toBe(0);
    await expect
      .poll(
        async () => {
          const r = await fetch(`${base}/`);
          return [r.status, await r.text()];
        },
        { timeout: 10_000, interval: 100 },
      )
      .toEqual([503, 'draining']);
    const info = (await (await fetch(`${base}/worker`)).json()) as {
      draining: boolean;
      load: { status: string; full_reason: string };
    };
    expect(info).toMatchObject({
      draining: true,
      load: { status: 'full', full_reason: 'draining' },
    });
  }, 30_000);
});
