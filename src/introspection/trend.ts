/**
 * Growth of a series against sessions served: an ordinary least-squares line and the 95 %
 * confidence interval of its slope. Pure, so a soak's report and a worker's own memory trend
 * (sessions served and memory, sampled over its life) use the same arithmetic.
 */
export interface Trend {
  /** Change in the series per session. */
  slope: number;
  /** Half-width of the slope's 95 % confidence interval; Infinity with fewer than 3 points. */
  ci95: number;
  intercept: number;
  points: number;
}

/** Student's t, two-sided 95 %, for 1 to 30 degrees of freedom; the normal's 1.96 beyond. */
const T_975 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145,
  2.131, 2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048,
  2.045, 2.042,
];

export function t975(degreesOfFreedom: number): number {
  if (degreesOfFreedom < 1) return Infinity;
  return T_975[degreesOfFreedom - 1] ?? 1.96;
}

export function leastSquares(points: readonly { x: number; y: number }[]): Trend {
  const n = points.length;
  if (n === 0) return { slope: 0, ci95: Infinity, intercept: 0, points: 0 };
  const meanX = points.reduce((s, p) => s + p.x, 0) / n;
  const meanY = points.reduce((s, p) => s + p.y, 0) / n;
  let sxx = 0;
  let sxy = 0;
  for (const p of points) {
    sxx += (p.x - meanX) ** 2;
    sxy += (p.x - meanX) * (p.y - meanY);
  }
  if (sxx === 0) return { slope: 0, ci95: Infinity, intercept: meanY, points: n };
  const slope = sxy / sxx;
  const intercept = meanY - slope * meanX;
  if (n < 3) return { slope, ci95: Infinity, intercept, points: n };
  let sse = 0;
  for (const p of points) sse += (p.y - (intercept + slope * p.x)) ** 2;
  const se = Math.sqrt(sse / (n - 2) / sxx);
  return { slope, ci95: t975(n - 2) * se, intercept, points: n };
}
