import { afterEach, describe, expect, it } from 'vitest';
import { SnapshotV1 } from '../../src/introspection/snapshot-schema.js';
import { rawJob } from '../support/raw-agent-server.js';
import { fixtureAgent, startOnRawServer, type RuntimeRig } from '../support/runtime-rig.js';

let rig: RuntimeRig | undefined;
afterEach(async () => {
  await rig?.stop();
  rig = undefined;
});

describe('ids longer than the snapshot schema allows', () => {
  it('are cut with a marker, so every snapshot still parses and top still reads it', async () => {
    const started = await startOnRawServer(
      `agents: { demo: ${JSON.stringify(fixtureAgent('long-call-agent'))} }`,
    );
    rig = started;
    const { server } = started;
    const jobId = `AJ_${'j'.repeat(600)}`;
    const room = `room-${'r'.repeat(1000)}`;
    const job = rawJob(jobId, 'demo', JSON.stringify({ tenant: 'acme' }), room);
    server.availability(job);
    expect(await server.next('availability', (a) => a.jobId === jobId)).toMatchObject({
      available: true,
    });
    server.assign(job);
    await server.next('updateJob', (u) => u.jobId === jobId);

    const snapshot = SnapshotV1.parse(await rig.request('snapshot'));
    const row = snapshot.sessions.find((s) => s.tenant === 'acme');
    expect(row?.jobId).toHaveLength(256);
    expect(row?.jobId.endsWith('…')).toBe(true);
    expect(jobId.startsWith(row!.jobId.slice(0, -1))).toBe(true);
    expect(row?.room).toHaveLength(256);
    expect(row?.room.endsWith('…')).toBe(true);

    const json = await rig.cli(['top', '--json']);
    expect(json.code, json.stderr).toBe(0);
    SnapshotV1.parse(JSON.parse(json.stdout));
    const once = await rig.cli(['top', '--once']);
    expect(once.code, once.stderr).toBe(0);
    expect(once.stdout).toContain('1 sessions');
  }, 60_000);
});
