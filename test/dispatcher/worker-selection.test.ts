import { describe, expect, it } from 'vitest';
import { hasAffinity, pickWeightedByLoad } from '../../src/dispatcher/worker-selection.js';

const w = (workerId: string, load: number) => ({ workerId, load });

describe('pickWeightedByLoad (LiveKit selectWorkerWeightedByLoad)', () => {
  it('walks the weights 1 - load in order with the random draw', () => {
    const ws = [w('a', 0.5), w('b', 0), w('c', 0.5)];
    // Weights 0.5, 1, 0.5 (sum 2): draws land in [0, .25], (.25, .75], (.75, 1).
    expect(pickWeightedByLoad(ws, () => 0.2)?.workerId).toBe('a');
    expect(pickWeightedByLoad(ws, () => 0.5)?.workerId).toBe('b');
    expect(pickWeightedByLoad(ws, () => 0.99)?.workerId).toBe('c');
  });

  it('never picks a worker at load 1 or more, and nothing when all are', () => {
    const ws = [w('full', 1), w('over', 1.2), w('free', 0.9)];
    for (const r of [0, 0.3, 0.999]) expect(pickWeightedByLoad(ws, () => r)?.workerId).toBe('free');
    expect(pickWeightedByLoad([w('a', 1)], () => 0.5)).toBeUndefined();
    expect(pickWeightedByLoad([], () => 0.5)).toBeUndefined();
  });

  it('gives each worker a share proportional to 1 - load', () => {
    const ws = [w('idle', 0), w('busy', 0.75)];
    let seed = 1;
    const random = () => ((seed = (seed * 48271) % 2147483647) - 1) / 2147483646;
    const counts = new Map<string, number>();
    for (let i = 0; i < 10_000; i++) {
      const id = pickWeightedByLoad(ws, random)!.workerId;
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    // 1 : 0.25, so the idle worker gets 80 %.
    expect((counts.get('idle') ?? 0) / 10_000).toBeCloseTo(0.8, 1);
  });
});

describe('hasAffinity (LiveKit JobRequestAffinity)', () => {
  it('bids while some worker is under the target load', () => {
    expect(hasAffinity([w('a', 0.9), w('b', 0.69)], 0.7)).toBe(true);
  });

  it('does not bid when every worker is at or over it, or there is none', () => {
    expect(hasAffinity([w('a', 0.7), w('b', 0.95)], 0.7)).toBe(false);
    expect(hasAffinity([], 0.7)).toBe(false);
  });
});
