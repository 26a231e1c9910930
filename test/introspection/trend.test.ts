import { describe, expect, it } from 'vitest';
import { leastSquares, t975 } from '../../src/introspection/trend.js';

describe('least-squares trend', () => {
  it('finds the slope of an exact line, with no uncertainty', () => {
    const t = leastSquares([0, 1, 2, 3, 4].map((x) => ({ x, y: 5 + 2 * x })));
    expect(t.slope).toBeCloseTo(2, 12);
    expect(t.intercept).toBeCloseTo(5, 12);
    expect(t.ci95).toBeCloseTo(0, 12);
  });

  it('gives the textbook interval for a noisy line', () => {
    // y = x plus residuals +1, -1, -1, +1: SSE 4, Sxx 5, SE sqrt(4 / 2 / 5), t(2) 4.303.
    const t = leastSquares([
      { x: -1.5, y: -0.5 },
      { x: -0.5, y: -1.5 },
      { x: 0.5, y: -0.5 },
      { x: 1.5, y: 2.5 },
    ]);
    expect(t.slope).toBeCloseTo(1, 12);
    expect(t.ci95).toBeCloseTo(t975(2) * Math.sqrt(4 / 2 / 5), 12);
  });

  it('says it cannot tell with fewer than three points or one x', () => {
    expect(
      leastSquares([
        { x: 1, y: 1 },
        { x: 2, y: 3 },
      ]).ci95,
    ).toBe(Infinity);
    expect(
      leastSquares([
        { x: 1, y: 1 },
        { x: 1, y: 3 },
        { x: 1, y: 2 },
      ]).ci95,
    ).toBe(Infinity);
    expect(leastSquares([]).points).toBe(0);
  });
});
