// `openrtc start --workers 2` on one local dispatcher and one real Redis, a tenant capped at 3,
// workers recycling after 6 sessions, calls arriving faster than the cap lets through and held
// for a while: the old and the new worker overlap with live calls, and the cap holds exactly
// across them because they share the leases.
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { setTimeout as pace } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_CREDENTIALS } from '../../src/dispatcher/dev-defaults.js';
import { LocalDispatcher } from '../../src/dispatcher/local-dispatcher.js';
import type { DispatchOutcome } from '../../src/dispatcher/types.js';
import { SnapshotV1 } from '../../src/introspection/snapshot-schema.js';
import { IpcClient } from '../../src/ipc/ipc-client.js';
import { listWorkers, type WorkerSocket } from '../../src/ipc/socket-path.js';
import { redisKeys } from '../../src/store/redis-keys.js';
import { until } from '../support/conditions.js';
import { REPO_ROOT, startWorkerProcess, type DevWorker } from '../support/dev-worker.js';
import {
  redisAvailable,
  startRedisServer,
  type RedisServer,
} from '../support/redis/redis-server.js';

const available = redisAvailable();
const CONFIG = path.join(REPO_ROOT, 'test/fixtures/fleet-recycle.config.ts');
const CAP = 3;
const RECYCLE_AFTER = 6;
/** Recycles to see through at least: both first workers hand over while calls run. */
const RECYCLES = 2;
/** One call every 300 ms, each held 1.5 s: about 5 wanted at once against a cap of 3. */
const ARRIVAL_MS = 300;
const HOLD_S = 1.5;

type Rec = Record<string, unknown>;

/** Unexpired lease members of one tenant, read on Redis's own clock in one script. */
const LIVE_LEASES = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')`;

/** Lease ids are `<worker id>:<job id>`, and a worker id ends in `-<pid>-<6 hex>`. */
function leasePid(member: string): number {
  const m = /-(\d+)-[0-9a-f]{6}:[^:]*$/.exec(member);
  return m ? Number(m[1]) : NaN;
}

interface Sample {
  at: number;
  /** Redis's count of the tenant's live leases, and whose they were. */
  leases: number;
  leasePids: number[];
  /**
   * A lower bound on the tenant's sessions live at one instant, from the workers' snapshots: a
   * session seen by two reads of its worker was live in between, and every worker's two reads
   * enclose the gap between the two rounds.
   */
  sessions: number;
}

describe.skipIf(!available)('recycling in a fleet that shares its leases in Redis', () => {
  let redis: RedisServer;
  let client: Redis;
  let dispatcher: LocalDispatcher;
  let sup: DevWorker;
  const prefix = `rc-${randomUUID()}:`;
  const leaseKey = redisKeys(prefix).tenantLeases('acme');

  const records = (): Rec[] => sup.logRecords();
  const logTail = () => sup.logs.slice(-60).join('\n');
  const readyPids = () =>
    records()
      .filter((r) => r.msg === 'openrtc worker "fleet-recycler" ready')
      .map((r) => Number(r.pid));

  beforeAll(async () => {
    redis = await startRedisServer();
    client = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await client.connect();
    dispatcher = await LocalDispatcher.start({ port: 0, ...DEV_CREDENTIALS });
    sup = await startWorkerProcess({
      args: ['start', '--workers', '2', '--config', CONFIG, '--log-format', 'json'],
      env: {
        LIVEKIT_URL: dispatcher.url,
        LIVEKIT_API_KEY: DEV_CREDENTIALS.apiKey,
        LIVEKIT_API_SECRET: DEV_CREDENTIALS.apiSecret,
        OPENRTC_REDIS_URL: redis.url,
        FLEET_KEY_PREFIX: prefix,
        FLEET_TENANT_CAP: String(CAP),
        RECYCLE_MAX_SESSIONS: String(RECYCLE_AFTER),
      },
      // The supervisor loads the config before it forks: on a busy machine it all takes a while.
      readyTimeoutMs: 150_000,
    });
    await until('both workers ready', () => readyPids().length >= 2, 150_000, logTail);
  }, 300_000);

  afterAll(async () => {
    await sup?.stop();
    await dispatcher?.close();
    client?.disconnect();
    await redis?.stop();
  });

  /** Live sessions of `acme` per worker pid, by session id, straight from each control socket. */
  async function snapshotRound(
    workers: WorkerSocket[],
    clients: Map<string, IpcClient>,
  ): Promise<Map<number, Set<string>>> {
    const out = new Map<number, Set<string>>();
    for (const w of workers) {
      try {
        let c = clients.get(w.socketPath);
        if (!c) {
          c = await IpcClient.connect(w.socketPath);
          clients.set(w.socketPath, c);
        }
        const snap = SnapshotV1.parse(await c.request('snapshot'));
        out.set(
          w.pid,
          new Set(snap.sessions.filter((s) => s.tenant === 'acme').map((s) => s.sessionId)),
        );
      } catch {
        // A worker that just exited: its sessions are gone with it.
        clients.get(w.socketPath)?.close();
        clients.delete(w.socketPath);
      }
    }
    return out;
  }

  /** Samples Redis and the snapshots until `stop` says so. */
  async function sample(stop: () => boolean): Promise<Sample[]> {
    const samples: Sample[] = [];
    const clients = new Map<string, IpcClient>();
    try {
      while (!stop()) {
        const workers = await listWorkers(sup.env);
        const first = await snapshotRound(workers, clients);
        const members = (await client.eval(LIVE_LEASES, 1, leaseKey)) as string[];
        const at = Date.now();
        const second = await snapshotRound(workers, clients);
        let sessions = 0;
        for (const [pid, ids] of second)
          for (const id of ids) if (first.get(pid)?.has(id)) sessions += 1;
        samples.push({
          at,
          leases: members.length,
          leasePids: [...new Set(members.map(leasePid))],
          sessions,
        });
        await pace(20);
      }
    } finally {
      for (const c of clients.values()) c.close();
    }
    return samples;
  }

  it('never has more than the cap live fleet-wide, answers every call, and live calls finish on the old worker', async () => {
    const firstWorkers = readyPids();
    // Which accepted calls still hold a slot, by the workers' own lines: a call holds its lease
    // from its acceptance until its session has ended (`session ended` is logged after release).
    const jobOfSession = new Map<string, string>();
    const ended = new Set<string>();
    let read = 0;
    const follow = () => {
      const all = records();
      for (; read < all.length; read++) {
        const r = all[read]!;
        if (r.msg === 'session started') jobOfSession.set(String(r.session_id), String(r.job_id));
        else if (/^session (ended|failed)/.test(String(r.msg))) {
          const job = jobOfSession.get(String(r.session_id));
          if (job) ended.add(job);
        }
      }
    };
    const accepted: string[] = [];
    const holding = () => {
      follow();
      return accepted.filter((j) => !ended.has(j)).length;
    };
    const recycledPids = () =>
      records()
        .filter((r) => r.msg === 'recycled worker exited with code 75')
        .map((r) => Number(r.pid));
    const drainedWithCalls = (pid: number) =>
      Number(records().find((r) => r.pid === pid && r.msg === 'draining')?.live) > 0;

    let done = false;
    const sampling = sample(() => done);
    const wrong: { outcome: DispatchOutcome; holdingAtSend: number }[] = [];
    const rejectedAtCap: number[] = [];
    const metadata = JSON.stringify({ tenant: 'acme', duration_s: HOLD_S });
    try {
      // One request at a time, at a steady rate, so each answer can be judged against the
      // slots held when it was asked; on until workers have recycled, one of them with calls
      // still live when it began to drain (LiveKit's spread decides which worker holds them).
      while (recycledPids().length < RECYCLES || !recycledPids().some(drainedWithCalls)) {
        const holdingAtSend = holding();
        const [outcome] = await Promise.all([
          dispatcher.dispatch({ agentName: 'demo', metadata }),
          pace(ARRIVAL_MS),
        ]);
        if (outcome.status === 'assigned') accepted.push(outcome.jobId);
        else if (outcome.reason === 'tenant_capacity' && holdingAtSend >= CAP)
          rejectedAtCap.push(Date.now());
        // Anything else is a call not answered: turned away below the cap, or by no worker.
        else wrong.push({ outcome, holdingAtSend });
        expect(accepted.length + rejectedAtCap.length, logTail()).toBeLessThan(400);
      }
      // Every accepted call runs to its end and reports success.
      await Promise.all(
        accepted.map((id) =>
          dispatcher.waitForJob(id, (j) => j.state === 'success' || j.state === 'failed', 30_000),
        ),
      );
      await until('every accepted session ended', () => holding() === 0, 30_000, logTail);
    } finally {
      done = true;
    }
    const samples = await sampling;

    expect(wrong, logTail()).toEqual([]);
    // Every decision was the store's: none fell back to a process's own counts.
    expect(sup.logs.filter((l) => l.includes('did not decide in time'))).toEqual([]);
    expect(
      accepted.map((id) => dispatcher.job(id)?.state).filter((s) => s !== 'success'),
      logTail(),
    ).toEqual([]);

    // The cap held at every sample, in Redis and in what the workers ran, and it was reached.
    expect(Math.max(...samples.map((s) => s.leases))).toBe(CAP);
    expect(Math.max(...samples.map((s) => s.sessions)), logTail()).toBeLessThanOrEqual(CAP);
    expect(rejectedAtCap.length).toBeGreaterThan(0);

    const recycled = recycledPids();
    expect(recycled.length).toBeGreaterThanOrEqual(RECYCLES);
    for (const oldPid of recycled) {
      const line = (msg: (m: string) => boolean) =>
        records().find((r) => r.pid === oldPid && msg(String(r.msg)));
      expect(line((m) => m.startsWith(`recycle: maxSessions ${RECYCLE_AFTER}/`))).toBeDefined();
      const draining = line((m) => m === 'draining');
      expect(draining, logTail()).toBeDefined();
      // Its live calls ended by themselves: none was cut by the drain.
      expect(
        line((m) => m === 'worker stopped'),
        logTail(),
      ).toMatchObject({
        clean: true,
        forced_sessions: 0,
        recycled: true,
      });
      // Its replacement was serving before it stopped accepting.
      const drainAt = Number(draining!.time);
      const handedOver = records().find(
        (r) => r.msg?.toString().startsWith('replacement ') && r.old_pid === oldPid,
      );
      expect(handedOver, logTail()).toBeDefined();
      const newPid = Number(handedOver!.new_pid);
      const newReady = records().find(
        (r) => r.pid === newPid && r.msg === 'openrtc worker "fleet-recycler" ready',
      );
      expect(Number(newReady?.time)).toBeLessThan(drainAt);
      // The overlap was real: while the old worker drained its live calls, another one held
      // leases of the same tenant, and the two together never went past the cap.
      if (!drainedWithCalls(oldPid)) continue;
      const stoppedAt = Number(line((m) => m === 'worker stopped')!.time);
      const overlap = samples.filter(
        (s) =>
          s.at > drainAt &&
          s.at < stoppedAt &&
          s.leasePids.includes(oldPid) &&
          s.leasePids.some((p) => p !== oldPid),
      );
      expect(overlap.length, `no sample while ${oldPid} drained:\n${logTail()}`).toBeGreaterThan(0);
      expect(Math.max(...overlap.map((s) => s.leases))).toBeLessThanOrEqual(CAP);
    }
    // The first two workers were among those that recycled and were replaced.
    expect(recycled.some((p) => firstWorkers.includes(p))).toBe(true);

    // Nothing was turned away for the worker's own capacity, and every lease was given back
    // (not left for the TTL to clear) once the calls ended.
    expect(records().filter((r) => r.reason === 'worker_capacity')).toEqual([]);
    await expect
      .poll(async () => ((await client.eval(LIVE_LEASES, 1, leaseKey)) as string[]).length, {
        timeout: 5_000,
        interval: 50,
      })
      .toBe(0);
  }, 240_000);
});
