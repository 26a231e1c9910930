import fc from 'fast-check';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SnapshotV1 } from '../../src/introspection/snapshot-schema.js';
import { fixtureAgent, startRuntime, type RuntimeRig } from '../support/runtime-rig.js';
import { anyMetadata, anyTenantValue, fuzzTimeout, runs } from './arbitraries.js';

let rig: RuntimeRig;
beforeAll(async () => {
  rig = await startRuntime(`export default {
    name: 'rig',
    agents: { demo: ${JSON.stringify(fixtureAgent('long-call-agent'))} },
    maxConcurrentSessions: 6,
    tenants: { maxSessions: { acme: 2, constructor: 1, '*': 2 }, maxIdleTenantRows: 20 },
  };`);
}, 60_000);
afterAll(async () => {
  await rig?.stop();
});

/** The methods of the control socket, a few near misses, and noise. Drain is left out: it would end the worker under test. */
const method = fc.oneof(
  fc.constantFrom(
    'snapshot',
    'subscribe',
    'tenant.list',
    'tenant.show',
    'tenant.cap',
    'tenant.trip',
    'tenant.reset',
    'tenant.reload',
    'config.reload',
  ),
  fc.constantFrom(
    '__proto__',
    'constructor',
    'toString',
    'hasOwnProperty',
    'Snapshot',
    'tenant.',
    '',
  ),
  fc.string({ maxLength: 70 }),
);

const params = fc.oneof(
  fc.record(
    {
      tenant: anyTenantValue,
      cap: fc.oneof(
        fc.integer({ min: -2, max: 6 }),
        fc.constant(null),
        fc.jsonValue({ maxDepth: 1 }),
      ),
      forMs: fc.oneof(fc.integer({ min: 1, max: 60_000 }), fc.jsonValue({ maxDepth: 1 })),
      all: fc.oneof(fc.constant(true), fc.jsonValue({ maxDepth: 1 })),
      intervalMs: fc.oneof(fc.integer({ min: 100, max: 60_000 }), fc.integer()),
      method: fc.oneof(fc.constant('snapshot'), fc.string({ maxLength: 10 })),
    },
    { requiredKeys: [] },
  ),
  fc.jsonValue({ maxDepth: 3 }),
);

/** A frame with an id the test can wait for, or one that is only noise. */
type Frame = { tracked: true; line: string; id: number } | { tracked: false; line: string };

const frame = (id: number): fc.Arbitrary<Frame> =>
  fc.oneof(
    {
      weight: 6,
      arbitrary: fc
        .record({ v: fc.oneof(fc.constant(1), fc.jsonValue({ maxDepth: 0 })), method, params })
        .map((r): Frame => ({ tracked: true, id, line: JSON.stringify({ ...r, id }) })),
    },
    {
      weight: 1,
      arbitrary: fc
        .string({ maxLength: 300 })
        .map((s): Frame => ({ tracked: false, line: s.replace(/\n/g, ' ') })),
    },
    {
      weight: 1,
      arbitrary: fc
        .jsonValue({ maxDepth: 4 })
        .map((v): Frame => ({ tracked: false, line: JSON.stringify(v) ?? 'null' })),
    },
  );

const frames = fc
  .integer({ min: 1, max: 25 })
  .chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => frame(i + 1))));

interface Answer {
  id: unknown;
  result?: unknown;
  error?: { code: string; message: string };
}

/** Sends the frames on one connection and collects answers until every tracked id has one. */
async function exchange(lines: Frame[]): Promise<{ answers: Answer[]; closedEarly: boolean }> {
  const socket = net.connect(rig.socketPath);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.on('error', () => undefined);
  const answers: Answer[] = [];
  const want = new Set(
    lines.filter((f): f is Extract<Frame, { tracked: true }> => f.tracked).map((f) => f.id),
  );
  let buffer = '';
  let closed = false;
  const done = new Promise<void>((resolve) => {
    const check = () => {
      if (closed || [...want].every((id) => answers.some((a) => a.id === id))) resolve();
    };
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      let nl: number;
      while ((nl = buffer.indexOf('\n')) !== -1) {
        answers.push(JSON.parse(buffer.slice(0, nl)) as Answer);
        buffer = buffer.slice(nl + 1);
      }
      check();
    });
    socket.on('close', () => {
      closed = true;
      check();
    });
    check();
  });
  for (const f of lines) socket.write(`${f.line}\n`);
  await done;
  socket.destroy();
  return { answers, closedEarly: closed };
}

describe('the control socket under any frame', () => {
  it(
    'answers every request, stays up, keeps the worker cap, and every snapshot it serves parses',
    async () => {
      await fc.assert(
        fc.asyncProperty(
          frames,
          fc.array(anyMetadata, { maxLength: 4 }),
          async (lines, metadata) => {
            // Traffic alongside, so snapshots have sessions and rejections in them.
            await Promise.all(
              metadata.map((m) => rig.dispatch({ agentName: 'demo', metadata: m })),
            );
            const { answers, closedEarly } = await exchange(lines);
            expect(closedEarly).toBe(false);
            for (const f of lines)
              if (f.tracked)
                expect(
                  answers.some((a) => a.id === f.id),
                  f.line,
                ).toBe(true);
            for (const a of answers) {
              expect(
                'result' in a ||
                  (typeof a.error?.code === 'string' && typeof a.error.message === 'string'),
              ).toBe(true);
              const snapshotLike = a.result as { v?: unknown } | undefined;
              if (snapshotLike?.v === 1)
                expect(SnapshotV1.safeParse(snapshotLike).success).toBe(true);
            }
            const snapshot = SnapshotV1.parse(await rig.request('snapshot'));
            expect(snapshot.worker.live + snapshot.worker.reserved).toBeLessThanOrEqual(6);
          },
        ),
        { numRuns: runs(25) },
      );
    },
    fuzzTimeout(240_000),
  );
});
