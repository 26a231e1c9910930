import { JobTermination } from '@livekit/protocol';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SnapshotV1 } from '../../src/introspection/snapshot-schema.js';
import { isValidTenantId } from '../../src/tenancy/tenant-id.js';
import { rawJob, type RawAgentServer } from '../support/raw-agent-server.js';
import { fixtureAgent, startOnRawServer, type RuntimeRig } from '../support/runtime-rig.js';
import { anyMetadata, fuzzTimeout, namedTenant, runs } from './arbitraries.js';

const CAPS = { acme: 2, constructor: 1, '*': 3 };
const GLOBAL = 8;

let server: RawAgentServer;
let rig: RuntimeRig;
beforeAll(async () => {
  const started = await startOnRawServer(`
    agents: { demo: ${JSON.stringify(fixtureAgent('long-call-agent'))} },
    maxConcurrentSessions: ${GLOBAL},
    tenants: { maxSessions: ${JSON.stringify(CAPS)}, maxIdleTenantRows: 20 },
    assignmentTimeoutMs: 2000,
  `);
  rig = started;
  server = started.server;
}, 60_000);
afterAll(async () => {
  await rig?.stop();
});

type Step =
  | {
      kind: 'offer';
      metadata: string;
      job: number;
      assign: boolean;
      attributes: Record<string, string>;
    }
  | { kind: 'bytes'; bytes: Uint8Array }
  | { kind: 'terminate'; job: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('offer' as const),
      metadata: anyMetadata,
      job: fc.integer({ min: 0, max: 60 }),
      assign: fc.boolean(),
      attributes: fc.dictionary(
        fc.constantFrom('sip.trunkPhoneNumber', '__proto__', 'x'),
        fc.constantFrom('+15550100', '', 'acme'),
        { maxKeys: 2 },
      ),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('bytes' as const),
      bytes: fc.uint8Array({ maxLength: 512 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('terminate' as const),
      job: fc.integer({ min: 0, max: 60 }),
    }),
  },
);

let round = 0;

describe('the worker under any agent-protocol frame', () => {
  it(
    'answers every availability request, labels every tenant as the metadata names it, and keeps every cap',
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 15 }), async (steps) => {
          round += 1;
          const offered: {
            id: string;
            metadata: string;
            attributes: Record<string, string>;
            assign: boolean;
          }[] = [];
          for (const s of steps) {
            if (s.kind === 'bytes') server.sendRaw(s.bytes);
            else if (s.kind === 'terminate')
              server.send({
                case: 'termination',
                value: new JobTermination({ jobId: `AJ_${round}_${s.job}` }),
              });
            else {
              // A job id offered again is the server repeating itself: the same job, the same metadata.
              const id = `AJ_${round}_${s.job}`;
              const first = offered.find((o) => o.id === id);
              const job = rawJob(id, 'demo', first?.metadata ?? s.metadata);
              job.attributes = { ...job.attributes, ...(first?.attributes ?? s.attributes) };
              offered.push({
                id,
                metadata: first?.metadata ?? s.metadata,
                attributes: first?.attributes ?? s.attributes,
                assign: s.assign,
              });
              server.availability(job);
            }
          }
          // Every availability request is answered, whatever came before or after it.
          for (const o of offered) {
            const answer = await server.next('availability', (a) => a.jobId === o.id, 5_000);
            const named = namedTenant(o.metadata);
            if (answer.available && named.named && isValidTenantId(named.value))
              expect(answer.participantAttributes.tenant).toBe(named.value);
            if (named.named && !isValidTenantId(named.value)) expect(answer.available).toBe(false);
            if (answer.available && o.assign) server.assign(rawJob(o.id, 'demo', o.metadata));
          }
          const snapshot = SnapshotV1.parse(await rig.request('snapshot'));
          expect(snapshot.worker.live + snapshot.worker.reserved).toBeLessThanOrEqual(GLOBAL);
          for (const t of snapshot.tenants) {
            const cap = Object.hasOwn(CAPS, t.tenant)
              ? CAPS[t.tenant as keyof typeof CAPS]
              : CAPS['*'];
            if (!t.tenant.startsWith('('))
              expect(t.live + t.reserved, t.tenant).toBeLessThanOrEqual(cap);
          }
          // The next round's answers prove the worker still talks; end this round's sessions so slots free up.
          for (const o of offered)
            server.send({ case: 'termination', value: new JobTermination({ jobId: o.id }) });
        }),
        { numRuns: runs(12) },
      );
    },
    fuzzTimeout(240_000),
  );
});
