import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalDispatcher } from '../../src/dispatcher/local-dispatcher.js';
import type { AvailabilityAnswered } from '../../src/dispatcher/types.js';
import { API_KEY, API_SECRET, RawWorker } from './raw-worker.js';

let dispatcher: LocalDispatcher;
const workers: RawWorker[] = [];

beforeEach(async () => {
  dispatcher = await LocalDispatcher.start({
    port: 0,
    apiKey: API_KEY,
    apiSecret: API_SECRET,
    availabilityTimeoutMs: 300,
  });
});

afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.close()));
  await dispatcher.close();
});

async function registered(): Promise<{ worker: RawWorker; workerId: string }> {
  const r = await RawWorker.register(dispatcher.url, 'alpha');
  workers.push(r.worker);
  return r;
}

function answers(): AvailabilityAnswered[] {
  const seen: AvailabilityAnswered[] = [];
  dispatcher.on('availability_answered', (a) => seen.push(a));
  return seen;
}

describe('availability_answered', () => {
  it('reports an accept with the worker and the time the worker took to answer', async () => {
    const { worker, workerId } = await registered();
    const seen = answers();
    const outcome = dispatcher.dispatch({ agentName: 'alpha' });
    const req = await worker.next('availability');
    await new Promise((r) => setTimeout(r, 40));
    worker.accept(req.job!.id, 'agent-1');
    await outcome;
    expect(seen).toEqual([
      { jobId: req.job!.id, workerId, available: true, latencyMs: expect.any(Number) },
    ]);
    // Timers may fire a millisecond early; the answer cannot come back before it was written.
    expect(seen[0]!.latencyMs).toBeGreaterThanOrEqual(39);
    expect(seen[0]!.latencyMs).toBeLessThan(1_000);
  });

  it('reports a rejection as not available', async () => {
    const { worker, workerId } = await registered();
    const seen = answers();
    const outcome = dispatcher.dispatch({ agentName: 'alpha' });
    const req = await worker.next('availability');
    worker.reject(req.job!.id, { 'openrtc.reject_reason': 'tenant_capacity' });
    expect(await outcome).toMatchObject({ status: 'rejected', reason: 'tenant_capacity' });
    expect(seen).toEqual([
      { jobId: req.job!.id, workerId, available: false, latencyMs: expect.any(Number) },
    ]);
  });

  it('emits nothing for a request that timed out', async () => {
    const { worker } = await registered();
    const seen = answers();
    const outcome = dispatcher.dispatch({ agentName: 'alpha' });
    await worker.next('availability');
    expect(await outcome).toMatchObject({ status: 'timeout' });
    expect(seen).toEqual([]);
  });
});
