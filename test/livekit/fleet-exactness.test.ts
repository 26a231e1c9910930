// Three openrtc workers registered on the real LiveKit server, one real Redis, a tenant capped at
// 20: 200 dispatches at once through the server's own API and its own job distribution are
// accepted exactly 20 times fleet-wide, the rest rejected as tenant_capacity; after those 20 end,
// exactly 20 again. The agent holds a room-less session, so no caller is needed.
import { randomBytes, randomUUID } from 'node:crypto';
import path from 'node:path';
import { AgentDispatchClient, RoomServiceClient } from 'livekit-server-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, startWorkerProcess, type DevWorker } from '../support/dev-worker.js';
import { readServerLog } from '../support/livekit/livekit-server.js';
import { sharedLivekit } from '../support/livekit/provided.js';
import { workerSnapshot } from '../support/livekit/worker.js';
import {
  redisAvailable,
  startRedisServer,
  type RedisServer,
} from '../support/redis/redis-server.js';

const lk = sharedLivekit();
const available = lk !== undefined && redisAvailable();
const CONFIG = path.join(REPO_ROOT, 'test/fixtures/fleet.config.ts');
const TENANT = 'acme';
const CAP = 20;
const DISPATCHES = 200;
const WORKERS = 3;

describe.skipIf(!available)('fleet exactness on the real LiveKit server', () => {
  const server = lk!.server;
  // Its own agent name: the shared server sends this file's jobs to these workers alone.
  const agentName = `fleet-${randomBytes(3).toString('hex')}`;
  const api = new AgentDispatchClient(server.httpUrl, server.apiKey, server.apiSecret);
  const rooms = new RoomServiceClient(server.httpUrl, server.apiKey, server.apiSecret);
  const created: string[] = [];
  let redis: RedisServer;
  const workers: DevWorker[] = [];

  beforeAll(async () => {
    redis = await startRedisServer();
    const env = {
      LIVEKIT_URL: server.url,
      LIVEKIT_API_KEY: server.apiKey,
      LIVEKIT_API_SECRET: server.apiSecret,
      OPENRTC_REDIS_URL: redis.url,
      FLEET_KEY_PREFIX: `lk-${randomUUID()}:`,
      OPENRTC_TEST_AGENT: agentName,
    };
    // One after another: three workers loading at once on two cores only start slower.
    for (let i = 0; i < WORKERS; i++) {
      const w = await startWorkerProcess({
        args: ['start', '--config', CONFIG, '--log-format', 'json'],
        env,
      });
      workers.push(w);
      await w.waitForLog((r) => r.msg === 'registered with LiveKit', 60_000, 'its registration');
    }
  }, 240_000);

  afterAll(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    await redis?.stop();
    // Rooms the dispatches created: the shared server must not carry them into other files.
    for (let i = 0; i < created.length; i += 50)
      await Promise.all(
        created.slice(i, i + 50).map((room) => rooms.deleteRoom(room).catch(() => undefined)),
      );
  });

  /** Every worker's log records of one kind for this tenant's jobs. */
  const records = (msg: RegExp) =>
    workers.flatMap((w, i) =>
      w
        .logRecords()
        .filter((r) => typeof r.msg === 'string' && msg.test(r.msg))
        .map((r): Record<string, unknown> & { worker: number } => ({ ...r, worker: i })),
    );

  const snapshots = () => Promise.all(workers.map((w) => workerSnapshot(w)));

  /** Jobs of this file's agent the server gave up on: every worker it offered them to said no. */
  const droppedByServer = (fromOffset: number) => {
    const ids = new Set<string>();
    for (const line of readServerLog(server).slice(fromOffset).split('\n')) {
      if (!line.includes('no worker available to handle job')) continue;
      if (!line.includes(`"agentName": "${agentName}"`)) continue;
      const id = /"jobID": "([^"]+)"/.exec(line)?.[1];
      if (id) ids.add(id);
    }
    return ids;
  };

  /** 200 dispatches at once; resolves once 20 sessions run and the server dropped the rest. */
  async function wave(name: string) {
    const logFrom = readServerLog(server).length;
    const dispatches = await Promise.all(
      Array.from({ length: DISPATCHES }, async (_, i) => {
        const room = `fleet-${name}-${i}-${randomBytes(3).toString('hex')}`;
        created.push(room);
        const d = await api.createDispatch(room, agentName, {
          metadata: JSON.stringify({ tenant: TENANT }),
        });
        return { room, id: d.id };
      }),
    );
    const ourRooms = new Set(dispatches.map((d) => d.room));
    const running = async () =>
      (await snapshots()).flatMap((s) => s.sessions).filter((s) => ourRooms.has(s.room));
    await expect
      .poll(() => droppedByServer(logFrom).size, { timeout: 30_000, interval: 200 })
      .toBeGreaterThanOrEqual(DISPATCHES - CAP);
    await expect
      .poll(async () => (await running()).length, { timeout: 20_000, interval: 200 })
      .toBeGreaterThanOrEqual(CAP);
    const dropped = droppedByServer(logFrom);
    // Each dropped job was asked of every worker; their rejection lines may still be arriving.
    const askedBy = () => {
      const by = new Map<string, Set<number>>();
      for (const r of records(/^rejected job/)) {
        const id = String(r.job_id);
        if (!dropped.has(id)) continue;
        by.set(id, (by.get(id) ?? new Set()).add(r.worker));
      }
      return by;
    };
    await expect
      .poll(() => [...askedBy().values()].filter((s) => s.size === WORKERS).length, {
        timeout: 10_000,
      })
      .toBe(dropped.size);
    return { dispatches, dropped, running: await running(), snaps: await snapshots() };
  }

  it('runs exactly 20 of 200 fleet-wide, rejects the rest as tenant_capacity, and 20 again after those end', async () => {
    const first = await wave('a');
    const accepted = (snaps: typeof first.snaps) =>
      snaps.reduce((n, s) => n + (s.tenants.find((t) => t.tenant === TENANT)?.accepted ?? 0), 0);

    expect(first.running).toHaveLength(CAP);
    expect(accepted(first.snaps)).toBe(CAP);
    // The other 180: offered by LiveKit to each of the 3 workers in turn (waited for above),
    // turned away by each, then dropped by the server. None ran anywhere.
    expect(first.dropped.size).toBe(DISPATCHES - CAP);
    const runningJobs = new Set(first.running.map((s) => s.jobId));
    expect([...first.dropped].filter((id) => runningJobs.has(id))).toEqual([]);
    // Every rejection of every worker was for the tenant's fleet-wide cap, none a fallback.
    const rejections = records(/^rejected job/);
    expect(new Set(rejections.map((r) => r.reason))).toEqual(new Set(['tenant_capacity']));
    expect(rejections).toHaveLength((DISPATCHES - CAP) * WORKERS);
    expect(records(/did not decide in time/)).toEqual([]);
    // LiveKit spread the accepted jobs over more than one worker.
    expect(first.snaps.filter((s) => s.sessions.length > 0).length).toBeGreaterThan(1);

    // The 20 end: deleting their dispatches makes the server terminate their jobs.
    const byRoom = new Map(first.dispatches.map((d) => [d.room, d.id]));
    await Promise.all(first.running.map((s) => api.deleteDispatch(byRoom.get(s.room)!, s.room)));
    let left = Infinity;
    const deadline = Date.now() + 20_000;
    while (left > 0 && Date.now() < deadline) {
      const snaps = await snapshots();
      left = snaps.reduce((n, s) => n + s.worker.active + s.worker.reserved, 0);
      if (left > 0) await new Promise((r) => setTimeout(r, 200));
    }
    expect(left).toBe(0);

    const second = await wave('b');
    expect(second.running).toHaveLength(CAP);
    expect(accepted(second.snaps) - accepted(first.snaps)).toBe(CAP);
    expect(second.dropped.size).toBe(DISPATCHES - CAP);
    expect(records(/^rejected job/)).toHaveLength(2 * (DISPATCHES - CAP) * WORKERS);
  }, 120_000);
});
