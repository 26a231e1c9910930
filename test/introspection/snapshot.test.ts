import { describe, expect, it } from 'vitest';
import { emptyReasonCounts } from '../../src/admission/reasons.js';
import type { TenantStats } from '../../src/admission/types.js';
import { SessionAttribution } from '../../src/introspection/attribution.js';
import { RecentEvents } from '../../src/introspection/recent-events.js';
import { SessionRegistry } from '../../src/introspection/registry.js';
import {
  buildSnapshot,
  type AdmissionView,
  type SnapshotSources,
} from '../../src/introspection/snapshot.js';
import { SnapshotV1 } from '../../src/introspection/snapshot-schema.js';

const NOW = 1_800_000_000_000;

function tenant(name: string, over: Partial<TenantStats> = {}): TenantStats {
  return {
    tenant: name,
    live: 0,
    reserved: 0,
    cap: 10,
    accepted: 0,
    rejected: emptyReasonCounts(),
    started: 0,
    succeeded: 0,
    failed: 0,
    maxDurationEnded: 0,
    breaker: { state: 'closed', probesInFlight: 0, windowFailures: 0, windowSamples: 0 },
    ...over,
  };
}

function sources(over: Partial<SnapshotSources> = {}): SnapshotSources {
  const registry = new SessionRegistry();
  registry.add({
    sessionId: 'sa1',
    jobId: 'ja1',
    room: 'r1',
    agent: 'demo',
    tenant: 'acme',
    startedAt: NOW - 12_340,
    status: 'running',
  });
  registry.add({
    sessionId: 'sa2',
    jobId: 'ja2',
    room: 'r2',
    agent: 'demo',
    tenant: 'acme',
    startedAt: NOW - 1_000,
  });
  registry.add({
    sessionId: 'sg1',
    jobId: 'jg1',
    room: 'r3',
    agent: 'demo',
    tenant: 'globex',
    startedAt: NOW - 5_000,
    status: 'closing',
  });
  const rejected = { ...emptyReasonCounts(), tenant_capacity: 2 };
  const admission: AdmissionView = {
    tenantStats: () => [
      tenant('acme', { live: 2, accepted: 4, rejected, succeeded: 1, failed: 1 }),
      tenant('globex', {
        live: 1,
        cap: null,
        breaker: {
          state: 'open',
          openUntil: NOW + 7_500,
          probesInFlight: 0,
          lastTransitionAt: NOW - 500,
          manual: true,
          windowFailures: 3,
          windowSamples: 4,
        },
      }),
    ],
    totals: () => ({
      accepted: 7,
      rejected,
      started: 5,
      succeeded: 1,
      failed: 1,
      maxDurationEnded: 0,
      live: 3,
      reserved: 0,
    }),
    inUse: () => 3,
    capacity: () => 50,
    draining: false,
  };
  const events = new RecentEvents(10, () => NOW - 100);
  events.push({ kind: 'breaker', tenant: 'globex', message: 'closed -> open: manual trip' });
  const attribution = new SessionAttribution();
  return {
    worker: { name: 'agency-eu-1', version: '0.1.0', startedAt: NOW - 3_600_000 },
    now: () => NOW,
    registry,
    admission,
    loop: { stats: () => ({ p50Ms: 10.1, p99Ms: 12.5, maxMs: 40 }) },
    attribution,
    events,
    memory: () => ({ rss: 200_000_000, heapUsed: 60_000_000 }),
    pid: 4242,
    ...over,
  };
}

describe('buildSnapshot', () => {
  it('builds a schema-valid v1 snapshot with worker, tenants, sessions and counts by tenant', () => {
    const snap = buildSnapshot(sources());
    expect(SnapshotV1.parse(snap)).toEqual(snap);
    expect(snap.v).toBe(1);
    expect(snap.generatedAt).toBe(NOW);
    expect(snap.worker).toMatchObject({
      name: 'agency-eu-1',
      pid: 4242,
      uptimeS: 3600,
      version: '0.1.0',
      draining: false,
      live: 3,
      // The deprecated name, kept within v1 for older clients.
      active: 3,
      reserved: 0,
      capacity: 50,
      rssBytes: 200_000_000,
      heapUsedBytes: 60_000_000,
      loop: { p50Ms: 10.1, p99Ms: 12.5, maxMs: 40 },
    });
    expect(snap.worker.totals.rejected.tenant_capacity).toBe(2);
    expect(snap.sessions_by_tenant).toEqual({ acme: 2, globex: 1 });
    expect(snap.sessions.map((s) => [s.sessionId, s.status, s.ageS])).toEqual([
      ['sa1', 'running', 12.3],
      ['sa2', 'starting', 1],
      ['sg1', 'closing', 5],
    ]);
    // The deprecated `state`, kept within v1: `active` where `status` says `running`.
    expect(snap.sessions.map((s) => s.state)).toEqual(['active', 'starting', 'closing']);
    expect(snap.sessions[0]).toMatchObject({
      cpuPct: 0,
      slow: false,
      jobId: 'ja1',
      room: 'r1',
      agent: 'demo',
    });
    expect(snap.tenants[1]!.breaker).toEqual({
      state: 'open',
      secondsLeft: 8,
      probesInFlight: 0,
      lastTransitionAt: NOW - 500,
      manual: true,
    });
    expect(snap.tenants[1]!.cap).toBeNull();
    expect(snap.tenants[0]!.breaker).toEqual({ state: 'closed', probesInFlight: 0 });
    expect(snap.events).toEqual([
      { at: NOW - 100, kind: 'breaker', tenant: 'globex', message: 'closed -> open: manual trip' },
    ]);
  });

  it('never carries a tenant config or secret, even if the sources hold one', () => {
    const src = sources();
    const leaky = tenant('acme') as TenantStats & { config?: unknown };
    leaky.config = { llm: { apiKey: 'sk-live-SECRET123' } };
    src.admission = { ...src.admission, tenantStats: () => [leaky] };
    const rec = src.registry.get('sa1') as unknown as Record<string, unknown>;
    rec.config = { apiKey: 'sk-live-SECRET123' };
    const json = JSON.stringify(buildSnapshot(src));
    expect(json).not.toContain('SECRET123');
    expect(json).not.toContain('apiKey');
  });

  it('rejects unknown fields, so nothing can be smuggled in a later version without a schema change', () => {
    const snap = buildSnapshot(sources());
    const withExtra = { ...snap, worker: { ...snap.worker, config: { apiKey: 'x' } } };
    const result = SnapshotV1.safeParse(withExtra);
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.path).toEqual(['worker']);
    expect(SnapshotV1.safeParse({ ...snap, v: 2 }).success).toBe(false);
  });

  it("carries the inference process's state, memory and CPU, and still reads a snapshot from a worker without it", () => {
    const readyAt = NOW - 90_400;
    const stats = {
      state: 'running' as const,
      pid: 4243,
      runners: ['lk_eot_audio', 'x'.repeat(300)],
      rssBytes: 335_544_320.4,
      cpuPct: 2.345,
      restarts: 1,
      readyAt,
      inFlight: 2,
      failedRequests: 12,
      lastExit: 'was killed by SIGKILL',
    };
    const snap = buildSnapshot(sources({ inference: { stats: () => stats } }));
    expect(SnapshotV1.parse(snap)).toEqual(snap);
    expect(snap.worker.inference).toEqual({
      state: 'running',
      pid: 4243,
      runners: ['lk_eot_audio', `${'x'.repeat(255)}…`],
      rssBytes: 335_544_320,
      cpuPct: 2.3,
      restarts: 1,
      uptimeS: 90,
      inFlight: 2,
      failedRequests: 12,
      lastExit: 'was killed by SIGKILL',
    });

    const disabled = buildSnapshot(
      sources({
        inference: {
          stats: () => ({
            state: 'disabled',
            disabledReason: 'the inference process is disabled (inference.enabled: false)',
            runners: [],
            rssBytes: 0,
            cpuPct: 0,
            restarts: 0,
            inFlight: 0,
            failedRequests: 0,
          }),
        },
      }),
    );
    expect(SnapshotV1.parse(disabled).worker.inference).toMatchObject({
      state: 'disabled',
      disabledReason: 'the inference process is disabled (inference.enabled: false)',
    });

    // Added within v1 as an optional field: an older worker's snapshot still parses.
    const older = buildSnapshot(sources());
    expect(older.worker.inference).toBeUndefined();
    expect(SnapshotV1.safeParse(older).success).toBe(true);
  });

  it('gives each session an even memory share of heap growth since idle', () => {
    const src = sources();
    const attribution = new SessionAttribution();
    attribution.memoryShare(30_000_000, 0);
    src.attribution = attribution;
    const snap = buildSnapshot(src);
    expect(snap.sessions.map((s) => s.memShareBytes)).toEqual([10_000_000, 10_000_000, 10_000_000]);
  });

  it('counts sessions of tenants named like built-ins as ordinary keys, and parses back the same', () => {
    const src = sources();
    const registry = new SessionRegistry();
    const names = [
      'constructor',
      '__proto__',
      'toString',
      'hasOwnProperty',
      'valueOf',
      '__proto__',
    ];
    names.forEach((t, i) =>
      registry.add({
        sessionId: `s${i}`,
        jobId: `j${i}`,
        room: 'r',
        agent: 'demo',
        tenant: t,
        startedAt: NOW,
      }),
    );
    const snap = buildSnapshot({ ...src, registry });
    const parsed = SnapshotV1.parse(JSON.parse(JSON.stringify(snap)));
    for (const counts of [snap.sessions_by_tenant, parsed.sessions_by_tenant]) {
      expect(Object.entries(counts).sort()).toEqual([
        ['__proto__', 2],
        ['constructor', 1],
        ['hasOwnProperty', 1],
        ['toString', 1],
        ['valueOf', 1],
      ]);
    }
  });

  it('cuts ids longer than the schema allows, marking the cut, so the snapshot parses', () => {
    const src = sources();
    const registry = new SessionRegistry();
    registry.add({
      sessionId: 's'.repeat(300),
      jobId: 'j'.repeat(5000),
      room: 'r'.repeat(257),
      agent: 'a'.repeat(256),
      tenant: 'acme',
      startedAt: NOW,
    });
    const snap = buildSnapshot({ ...src, registry });
    expect(SnapshotV1.safeParse(snap).success).toBe(true);
    const row = snap.sessions[0]!;
    expect([row.sessionId.length, row.jobId.length, row.room.length, row.agent.length]).toEqual([
      256, 256, 256, 256,
    ]);
    expect([row.sessionId, row.jobId, row.room].every((v) => v.endsWith('…'))).toBe(true);
    expect(row.agent).toBe('a'.repeat(256));
  });
});
