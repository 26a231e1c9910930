import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Admission } from '../../src/admission/admission.js';
import { REJECT_REASONS } from '../../src/admission/reasons.js';
import type { AdmissionDecision, Reservation } from '../../src/admission/types.js';
import { SessionAttribution } from '../../src/introspection/attribution.js';
import { RecentEvents } from '../../src/introspection/recent-events.js';
import { SessionRegistry } from '../../src/introspection/registry.js';
import { buildSnapshot } from '../../src/introspection/snapshot.js';
import { SnapshotV1 } from '../../src/introspection/snapshot-schema.js';
import { TenantConfigResolver } from '../../src/tenancy/config-resolver.js';
import { isValidTenantId } from '../../src/tenancy/tenant-id.js';
import { FakeClock } from '../support/fake-clock.js';
import {
  anyMetadata,
  AWKWARD_TENANTS,
  fuzzTimeout,
  namedTenant,
  runs,
  validTenant,
} from './arbitraries.js';

const CAPS: Record<string, number> = Object.assign(Object.create(null) as Record<string, number>, {
  constructor: 2,
  __proto__: 1,
  acme: 3,
  '*': 4,
});
const GLOBAL_CAP = 12;
const IDLE_ROWS = 8;

type Action =
  | { kind: 'decide'; metadata: string; jobId: number }
  | { kind: 'start'; pick: number }
  | { kind: 'end'; pick: number; outcome: 'success' | 'failed' | 'cancelled' }
  | { kind: 'advance'; ms: number }
  | { kind: 'cap'; tenant: string; cap: number | null }
  | { kind: 'trip'; tenant: string }
  | { kind: 'reset'; tenant: string };

const action: fc.Arbitrary<Action> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('decide' as const),
      metadata: anyMetadata,
      jobId: fc.integer({ min: 0, max: 40 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('start' as const), pick: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('end' as const),
      pick: fc.nat(),
      outcome: fc.constantFrom('success' as const, 'failed' as const, 'cancelled' as const),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('advance' as const),
      ms: fc.integer({ min: 0, max: 20_000 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('cap' as const),
      tenant: validTenant,
      cap: fc.option(fc.integer({ min: 1, max: 5 }), { nil: null }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('trip' as const),
      tenant: fc.constantFrom(...AWKWARD_TENANTS),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('reset' as const),
      tenant: fc.constantFrom(...AWKWARD_TENANTS),
    }),
  },
);

describe('admission under any metadata, any tenant id, any sequence of events', () => {
  it(
    'never throws, never exceeds a cap, never mislabels a tenant, and every snapshot parses',
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(action, { maxLength: 60 }), async (actions) => {
          const clock = new FakeClock();
          const resolver = new TenantConfigResolver({
            clock,
            source: (t) =>
              t === 'globex'
                ? Promise.reject(new Error('down'))
                : t.startsWith('x')
                  ? undefined
                  : {},
            ttlMs: 5_000,
            missTtlMs: 1_000,
            loadTimeoutMs: 500,
          });
          const admission = new Admission({
            clock,
            resolver,
            maxConcurrentSessions: GLOBAL_CAP,
            tenants: {
              metadataKey: 'tenant',
              defaultTenant: 'default',
              requireConfig: false,
              maxSessions: CAPS,
              phoneNumbers: { '+15550100': '__proto__' },
              maxIdleTenantRows: IDLE_ROWS,
            },
            breaker: {
              enabled: true,
              failureRatio: 0.5,
              minSamples: 2,
              windowMs: 30_000,
              cooldownMs: 5_000,
              halfOpenProbes: 1,
            },
            assignmentTimeoutMs: 10_000,
          });
          const registry = new SessionRegistry();
          const held: Reservation[] = [];
          const overrides = new Map<string, number>();
          const capOf = (t: string) =>
            overrides.get(t) ?? (Object.hasOwn(CAPS, t) ? CAPS[t]! : CAPS['*']!);

          for (const a of actions) {
            if (a.kind === 'decide') {
              const jobId = `J${a.jobId}`;
              let d: AdmissionDecision;
              try {
                d = await admission.decide({ jobId, agentName: 'demo', metadata: a.metadata });
              } catch (err) {
                throw new Error(
                  `decide threw for metadata ${JSON.stringify(a.metadata.slice(0, 80))}: ${String(err)}`,
                  { cause: err },
                );
              }
              expect(REJECT_REASONS as readonly string[]).toContain(
                d.accept ? 'draining' : d.reason,
              );
              const named = namedTenant(a.metadata);
              if (
                named.named &&
                isValidTenantId(named.value) &&
                (d.accept || d.tenant !== undefined)
              )
                expect(d.tenant).toBe(named.value);
              if (named.named && !isValidTenantId(named.value))
                expect(d).toMatchObject({ accept: false, reason: 'invalid_tenant' });
              if (!d.accept) {
                expect(d.message.length).toBeLessThan(400);
                continue;
              }
              if (!held.includes(d.reservation)) held.push(d.reservation);
              const live = held.filter((r) => !r.released);
              expect(live.filter((r) => r.tenant === d.tenant).length).toBeLessThanOrEqual(
                capOf(d.tenant),
              );
              expect(live.length).toBeLessThanOrEqual(GLOBAL_CAP);
            } else if (a.kind === 'start' || a.kind === 'end') {
              const live = held.filter((r) => !r.released);
              const r = live[a.pick % Math.max(1, live.length)];
              if (!r) continue;
              if (a.kind === 'start') {
                r.markStarted();
                if (!registry.get(r.id))
                  registry.add({
                    sessionId: r.id,
                    jobId: r.jobId,
                    room: 'room',
                    agent: 'demo',
                    tenant: r.tenant,
                    startedAt: clock.now(),
                  });
              } else {
                r.release({ kind: a.outcome, reason: 'fuzz' });
                registry.remove(r.id);
              }
            } else if (a.kind === 'advance') {
              clock.advance(a.ms);
              for (const r of held) if (r.released) registry.remove(r.id);
            } else if (a.kind === 'cap') {
              admission.setTenantCap(a.tenant, a.cap);
              if (a.cap === null) overrides.delete(a.tenant);
              else overrides.set(a.tenant, a.cap);
            } else if (a.kind === 'trip') admission.tripBreaker(a.tenant);
            else admission.resetBreaker(a.tenant);

            const live = held.filter((r) => !r.released);
            expect(admission.inUse()).toBe(live.length);
            const holding = new Set(live.map((r) => r.tenant));
            expect(admission.tenantStats().length).toBeLessThanOrEqual(
              Object.keys(CAPS).length +
                overrides.size +
                holding.size +
                IDLE_ROWS +
                2 +
                AWKWARD_TENANTS.length,
            );
          }

          const snapshot = buildSnapshot({
            worker: { name: 'fuzz', version: '0', startedAt: 0 },
            now: () => clock.now(),
            registry,
            admission,
            loop: { stats: () => ({ p50Ms: 0, p99Ms: 0, maxMs: 0 }) },
            attribution: new SessionAttribution(),
            events: new RecentEvents(10),
            memory: () => ({ rss: 1, heapUsed: 1 }),
            pid: 1,
          });
          const parsed = SnapshotV1.safeParse(JSON.parse(JSON.stringify(snapshot)));
          expect(parsed.success, JSON.stringify(parsed.error?.issues[0])).toBe(true);
          for (const t of snapshot.tenants)
            if (t.cap !== null)
              expect(t.live + t.reserved).toBeLessThanOrEqual(Math.max(t.cap, t.live + t.reserved));
        }),
        { numRuns: runs(150) },
      );
    },
    fuzzTimeout(120_000),
  );
});
