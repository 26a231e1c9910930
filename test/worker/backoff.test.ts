import { describe, expect, it } from 'vitest';
import { reconnectDelay } from '../../src/clock/backoff.js';

describe('reconnectDelay', () => {
  it('doubles from the base with equal jitter and caps at 10 s', () => {
    const low = (n: number) => reconnectDelay(n, { random: () => 0 });
    const high = (n: number) => reconnectDelay(n, { random: () => 0.999999 });
    expect([1, 2, 3, 4, 5, 6, 7].map(low)).toEqual([125, 250, 500, 1000, 2000, 4000, 5000]);
    expect([1, 2, 3, 6, 7, 30].map(high)).toEqual([250, 500, 1000, 8000, 10000, 10000]);
  });
});
