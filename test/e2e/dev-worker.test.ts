import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SnapshotV1 } from '../../src/introspection/snapshot-schema.js';
import { startDevWorker, type DevWorker } from '../support/dev-worker.js';
import { until } from '../support/conditions.js';
import { runCli } from '../support/run-cli.js';

describe('openrtc dev + dispatch + top, as a user runs them', () => {
  let worker: DevWorker;
  beforeAll(async () => {
    worker = await startDevWorker();
  }, 90_000);
  afterAll(async () => {
    await worker?.stop();
  });

  it('hosts five acme sessions in the one worker process, with tenant-tagged logs', async () => {
    // The calls must outlast two CLI start-ups on a loaded machine; the CLIs that do not depend on
    // each other run side by side.
    const [dispatched, globex] = await Promise.all([
      runCli(
        ['dispatch', '--agent', 'demo', '--tenant', 'acme', '--count', '5', '--duration', '30'],
        worker.env,
      ),
      runCli(
        ['dispatch', '--agent', 'demo', '--tenant', 'globex', '--count', '1', '--duration', '30'],
        worker.env,
      ),
    ]);
    expect(dispatched.code, dispatched.stderr).toBe(0);
    expect(dispatched.stdout).toContain('5/5 accepted');
    expect(globex.stdout).toContain('1/1 accepted');

    // Each session replies once it has started: then all six are in the registry.
    const replied = (tenant: string) =>
      worker.logRecords().filter((l) => l.msg === 'agent replied' && l.tenant === tenant).length;
    await until(
      'every session to have replied',
      () => replied('acme') === 5 && replied('globex') === 1,
    );
    const [json, once] = await Promise.all([
      runCli(['top', '--json'], worker.env),
      runCli(['top', '--once', '--tenant', 'acme'], worker.env),
    ]);
    expect(json.code, json.stderr).toBe(0);
    const snapshot = SnapshotV1.parse(JSON.parse(json.stdout));
    expect(snapshot.worker.pid).toBe(worker.child.pid);
    expect(snapshot.sessions_by_tenant.acme).toBe(5);
    expect(snapshot.sessions_by_tenant.globex).toBe(1);
    expect(snapshot.sessions.filter((s) => s.tenant === 'acme')).toHaveLength(5);

    expect(once.code, once.stderr).toBe(0);
    const sessionLines = once.stdout
      .split('\n')
      .filter((l) => /\bdemo\b/.test(l) && /\b(acme|globex)\b/.test(l));
    expect(sessionLines.length).toBeGreaterThanOrEqual(5);
    expect(sessionLines.every((l) => l.includes('acme') && !l.includes('globex'))).toBe(true);

    const replies = worker.logs
      .map((l) => {
        try {
          return JSON.parse(l) as Record<string, unknown>;
        } catch {
          return undefined;
        }
      })
      .filter((l) => l?.msg === 'agent replied');
    const acmeReplies = replies.filter((l) => l?.tenant === 'acme');
    expect(acmeReplies).toHaveLength(5);
    for (const l of acmeReplies) {
      expect(l?.session_id).toEqual(expect.any(String));
      expect(l?.agent).toBe('demo');
      expect(l?.pid).toBe(worker.child.pid);
      expect(l?.reply).toBe('Acme Support, how can I help?');
    }
    expect(new Set(acmeReplies.map((l) => l?.session_id)).size).toBe(5);
  }, 60_000);

  it('prints the rejection reason for a malformed tenant and for a full tenant', async () => {
    const bad = await runCli(
      ['dispatch', '--agent', 'demo', '--tenant', 'bad tenant!'],
      worker.env,
    );
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/rejected invalid_tenant/);
    expect(bad.stdout).toContain('0/1 accepted');

    const full = await runCli(
      ['dispatch', '--agent', 'demo', '--tenant', 'globex', '--count', '4', '--duration', '3'],
      worker.env,
    );
    const accepted = (full.stdout.match(/ accepted job /g) ?? []).length;
    const capped = (full.stdout.match(/tenant_capacity/g) ?? []).length;
    expect(accepted + capped).toBe(4);
    expect(accepted).toBeLessThanOrEqual(2);
    // Some jobs were not accepted: a script must be able to tell.
    expect(full.code).toBe(1);

    const nobody = await runCli(
      ['dispatch', '--agent', 'no-such-agent', '--tenant', 'acme'],
      worker.env,
    );
    expect(nobody.code).toBe(1);
    expect(nobody.stdout).toContain('failed no_worker');
  }, 60_000);

  it('the malformed ids have a line of their own, not a tenant row', async () => {
    const list = await runCli(['tenant', 'list'], worker.env);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).not.toContain('(invalid)');
    expect(list.stdout).toMatch(/rejected before a tenant was known: invalid_tenant=\d+/);
    const snap = SnapshotV1.parse(JSON.parse((await runCli(['top', '--json'], worker.env)).stdout));
    expect(snap.tenants.map((t) => t.tenant)).not.toContain('(invalid)');
    expect(snap.worker.totals.rejected.invalid_tenant).toBeGreaterThanOrEqual(1);
  });

  it("dispatch finds the dev worker's local dispatcher on its --port through the worker, with no --url or LIVEKIT_URL", async () => {
    const env: NodeJS.ProcessEnv = { ...worker.env };
    delete env.LIVEKIT_URL;
    delete env.LIVEKIT_API_KEY;
    delete env.LIVEKIT_API_SECRET;
    expect(worker.port).not.toBe(7880);
    const r = await runCli(
      ['dispatch', '--agent', 'demo', '--tenant', 'initech', '--duration', '0'],
      env,
    );
    expect(r.code, `${r.stdout}${r.stderr}`).toBe(0);
    expect(r.stdout).toContain('1/1 accepted');
  });

  it('tenant reload with neither a tenant nor --all refuses, exit 2, against a live worker too', async () => {
    const r = await runCli(['tenant', 'reload'], worker.env);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim()).toBe('openrtc: give a tenant, or --all for every tenant');
  });

  it('refuses a bad config with the field path and exit code 2', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'openrtc-badcfg-'));
    try {
      const file = path.join(dir, 'openrtc.config.ts');
      writeFileSync(
        file,
        `export default { agents: { demo: './a.ts' }, tenants: { maxSessions: { acme: -1 } } };`,
      );
      const result = await runCli(['start', '--config', file], worker.env);
      expect(result.code).toBe(2);
      expect(result.stderr.trim()).toBe(
        `${file}: tenants.maxSessions.acme: expected a positive integer, got -1`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('tells the user plainly when no worker is running', async () => {
    const env = {
      ...worker.env,
      OPENRTC_RUNTIME_DIR: mkdtempSync(path.join(os.tmpdir(), 'openrtc-empty-')),
    };
    const top = await runCli(['top', '--once'], env);
    expect(top.code).toBe(1);
    expect(top.stderr.trim().split('\n')).toHaveLength(1);
    expect(top.stderr).toContain('no openrtc worker is running');
    const list = await runCli(['tenant', 'list'], env);
    expect(list.code).toBe(1);
    expect(list.stderr.trim()).toBe(
      'openrtc: no openrtc worker is running (start one with: npx openrtc dev)',
    );
  });
});
