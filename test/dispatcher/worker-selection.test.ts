import { describe, expect, it } from 'vitest';
import { orderCandidates } from '../../src/dispatcher/worker-selection.js';

const w = (workerId: string, load: number) => ({ workerId, load });

describe('orderCandidates', () => {
  it('puts the least loaded worker first', () => {
    expect(
      orderCandidates([w('a', 0.5), w('b', 0.1), w('c', 0.3)], 0).map((x) => x.workerId),
    ).toEqual(['b', 'c', 'a']);
  });

  it('rotates the start among equal loads with the turn', () => {
    const ws = [w('a', 0), w('b', 0), w('c', 0)];
    expect([0, 1, 2, 3].map((t) => orderCandidates(ws, t)[0]?.workerId)).toEqual([
      'a',
      'b',
      'c',
      'a',
    ]);
  });

  it('returns nothing for no candidates', () => {
    expect(orderCandidates([], 5)).toEqual([]);
  });
});
