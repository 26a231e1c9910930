// Fleet admission over the wire: the same bursts of availability requests from the local
// dispatcher to two real `openrtc start` workers, one on the memory store and one on Redis,
// alternating so a noisy neighbour hits both alike.
import { randomUUID } from 'node:crypto';
import {
  burstOverWire,
  startRig,
  WIRE_TENANT,
  type BurstResult,
  type Rig,
} from './admission-wire.js';
import { median } from './stats.js';

export interface FleetWireRow {
  store: 'memory' | 'redis';
  requests: number;
  bursts: number;
  /** Medians over the bursts. */
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Every burst accepted exactly the cap and answered every request. */
  exact: boolean;
  /** Requests the store did not decide in time (the bench worker answers them `store_unavailable`). */
  fellBack: number;
}

export async function benchFleetOverWire(
  redisUrl: string,
  opts: { requests: number; bursts: number; cap: number },
): Promise<FleetWireRow[]> {
  const rigs: Partial<Record<'memory' | 'redis', Rig>> = {};
  try {
    for (const store of ['memory', 'redis'] as const) {
      rigs[store] = await startRig(opts.cap, 'on', {
        env:
          store === 'redis'
            ? {
                BENCH_STORE: 'redis',
                BENCH_STORE_PREFIX: `bench-wire-${randomUUID().slice(0, 8)}:`,
                OPENRTC_REDIS_URL: redisUrl,
              }
            : {},
      });
    }
    const results: Record<'memory' | 'redis', BurstResult[]> = { memory: [], redis: [] };
    for (let i = 0; i < opts.bursts; i++) {
      for (const store of ['memory', 'redis'] as const)
        results[store].push(
          await burstOverWire(rigs[store]!, WIRE_TENANT, opts.requests, opts.cap),
        );
    }
    return (['memory', 'redis'] as const).map((store) => {
      const bursts = results[store];
      return {
        store,
        requests: opts.requests,
        bursts: bursts.length,
        p50Ms: median(bursts.map((b) => b.p50Ms)),
        p99Ms: median(bursts.map((b) => b.p99Ms)),
        maxMs: median(bursts.map((b) => b.maxMs)),
        exact: bursts.every((b) => b.exact && b.unanswered === 0),
        fellBack: bursts.reduce((n, b) => n + (b.rejectReasons.store_unavailable ?? 0), 0),
      };
    });
  } finally {
    for (const rig of Object.values(rigs)) {
      await rig.worker.stop();
      await rig.dispatcher.close();
    }
  }
}
