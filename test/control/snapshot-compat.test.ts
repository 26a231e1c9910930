import { describe, expect, it } from 'vitest';
import { readResult, readSnapshot } from '../../src/control/contract.js';
import { ControlError } from '../../src/ipc/control-error.js';
import { SnapshotV1 } from '../../src/introspection/snapshot-schema.js';
import { snapshot } from '../top/fixtures.js';

/** A field every object of the snapshot gains in some later release of the same version. */
function withUnknownFields(s: SnapshotV1): Record<string, unknown> {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- writes fields the schema lacks
  const copy = structuredClone(s) as unknown as Record<string, any>;
  copy.store = 'degraded';
  copy.worker.mapSizes = { pending: 3 };
  copy.worker.loop.p999Ms = 50;
  copy.worker.totals.retried = 1;
  copy.worker.inference.gpu = false;
  copy.tenants[0].priority = 'gold';
  copy.tenants[1].breaker.reason = 'manual';
  copy.sessions[0].codec = 'opus';
  copy.events[0].source = 'reload';
  return copy;
}

describe('snapshot compatibility within one version', () => {
  it('an older client reads a newer worker: fields it does not know are stripped', () => {
    const current = snapshot();
    const newer = withUnknownFields(current);
    expect(readSnapshot(newer)).toEqual(current);
    // The producer's own output is held to the exact shape.
    const strict = SnapshotV1.safeParse(newer);
    expect(strict.success).toBe(false);
    expect(strict.error?.issues.map((i) => i.code)).toContain('unrecognized_keys');
  });

  it('a newer client reads an older worker: fields added within v1 may be absent', () => {
    const current = snapshot();
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- writes fields the schema lacks
    const older = structuredClone(current) as unknown as Record<string, any>;
    delete older.worker.inference;
    delete older.worker.load;
    delete older.worker.totals.maxDurationEnded;
    for (const t of older.tenants) {
      delete t.started;
      delete t.maxDurationEnded;
    }
    const read = readSnapshot(older);
    expect(read.worker.inference).toBeUndefined();
    expect(read.tenants.map((t) => t.tenant)).toEqual(['acme', 'globex']);
    expect(SnapshotV1.safeParse(older).success).toBe(true);
  });

  it('a newer client reads an older worker that sends only the old names of renamed fields', () => {
    const current = snapshot();
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- removes fields the schema requires
    const older = structuredClone(current) as unknown as Record<string, any>;
    delete older.worker.live;
    delete older.worker.totals.live;
    for (const t of older.tenants) delete t.live;
    for (const s of older.sessions) delete s.status;
    // `live` is read from `active`, `status` from `state` (where `active` meant `running`).
    expect(readSnapshot(older)).toEqual(current);
    expect(current.sessions.map((s) => [s.state, s.status])).toContainEqual(['active', 'running']);
  });

  it("an older client still finds the old names in a newer worker's snapshot", () => {
    const current = snapshot();
    expect(current.worker.active).toBe(current.worker.live);
    // The producer's schema requires them: a worker of v1 never stops sending them.
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- removes a field the schema requires
    const dropped = structuredClone(current) as unknown as Record<string, any>;
    delete dropped.tenants[0].active;
    expect(SnapshotV1.safeParse(dropped).success).toBe(false);
  });

  it('another version is refused, naming the version sent and the one read', () => {
    const err = (() => {
      try {
        readSnapshot({ ...snapshot(), v: 2 });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ControlError);
    expect(err).toMatchObject({ code: 'unsupported_version' });
    expect((err as Error).message).toMatch(/sent snapshot v2; this openrtc reads snapshot v1/);
    expect(() => readSnapshot({ worker: {} })).toThrow(/a snapshot with no version/);
  });

  it('a snapshot of the right version with a wrong field names the field', () => {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- writes fields the schema lacks
    const bad = structuredClone(snapshot()) as unknown as Record<string, any>;
    bad.tenants[0].live = -1;
    expect(() => readSnapshot(bad)).toThrow(/snapshot\.tenants\.0\.live/);
  });
});

describe('control results as a client reads them', () => {
  const row = snapshot().tenants[0]!;

  it('strips unknown fields of a newer worker, in the rows too', () => {
    const read = readResult('tenant.list', {
      tenants: [{ ...row, region: 'eu' }],
      rejectedWithoutTenant: { invalid_tenant: 1 },
      fleet: { workers: 2 },
    });
    expect(read).toEqual({ tenants: [row], rejectedWithoutTenant: { invalid_tenant: 1 } });
  });

  it("reads an older worker's drain answer, which names the live sessions activeSessions", () => {
    expect(
      readResult('drain', { alreadyDraining: false, activeSessions: 3, timeoutMs: 1_000 }),
    ).toEqual({ alreadyDraining: false, liveSessions: 3, activeSessions: 3, timeoutMs: 1_000 });
  });

  it('refuses an answer missing a field, naming it', () => {
    expect(() => readResult('tenant.cap', { tenant: 'acme', old: 2 })).toThrow(
      /answer to "tenant.cap" .*result\.cap/,
    );
  });
});
