/**
 * When a worker should hand over to a fresh process: a long-lived host keeps whatever its calls
 * leaked (native rtc-node growth above all), so it restarts itself before that hurts a call.
 * Pure: the caller passes the readings and the time, so the decision is exact under test.
 */
export interface RecycleLimits {
  maxSessions?: number | undefined;
  maxRssMiB?: number | undefined;
  maxNativeGrowthMiB?: number | undefined;
  maxUptimeMs?: number | undefined;
}

export interface RecycleReadings {
  /** Sessions that ended since the worker started. */
  sessionsServed: number;
  rssMiB: number;
  /** Native memory (RSS outside V8's heap and external buffers) above its reading at start. */
  nativeGrowthMiB: number;
  now: number;
  startedAt: number;
}

export type RecycleConditionName = 'maxSessions' | 'maxRssMiB' | 'maxNativeGrowthMiB' | 'maxUptime';

export interface RecycleCondition {
  name: RecycleConditionName;
  /** The reading, in the limit's unit (sessions, MiB, or milliseconds for uptime). */
  value: number;
  limit: number;
  /** value / limit: 1 or more is exceeded. */
  share: number;
}

export interface RecycleDecision {
  /** The condition that fired (the one furthest past its limit), if any. */
  exceeded: RecycleCondition | undefined;
  /** The configured condition with the largest share, fired or not; none when nothing is set. */
  nearest: RecycleCondition | undefined;
}

/** Every configured condition with its reading, in the order the config lists them. */
export function recycleConditions(
  limits: RecycleLimits,
  readings: RecycleReadings,
): RecycleCondition[] {
  const pairs: [RecycleConditionName, number | undefined, number][] = [
    ['maxSessions', limits.maxSessions, readings.sessionsServed],
    ['maxRssMiB', limits.maxRssMiB, readings.rssMiB],
    ['maxNativeGrowthMiB', limits.maxNativeGrowthMiB, readings.nativeGrowthMiB],
    ['maxUptime', limits.maxUptimeMs, Math.max(0, readings.now - readings.startedAt)],
  ];
  const out: RecycleCondition[] = [];
  for (const [name, limit, value] of pairs)
    if (limit !== undefined && limit > 0) out.push({ name, value, limit, share: value / limit });
  return out;
}

/** A condition is exceeded once its reading reaches the limit (`maxSessions: 20`: after the 20th). */
export function decideRecycle(limits: RecycleLimits, readings: RecycleReadings): RecycleDecision {
  let nearest: RecycleCondition | undefined;
  for (const c of recycleConditions(limits, readings))
    if (nearest === undefined || c.share > nearest.share) nearest = c;
  return { exceeded: nearest && nearest.share >= 1 ? nearest : undefined, nearest };
}

/** `maxSessions 18/20`, `maxRssMiB 612/1024`, `maxUptime 3.5h/24h`: what top and the log show. */
export function describeCondition(c: RecycleCondition): string {
  if (c.name === 'maxUptime') return `${c.name} ${formatHours(c.value)}/${formatHours(c.limit)}`;
  return `${c.name} ${Math.round(c.value)}/${c.limit}`;
}

function formatHours(ms: number): string {
  const h = ms / 3_600_000;
  if (h >= 1) return `${Number(h.toFixed(1))}h`;
  return `${Math.round(ms / 60_000)}m`;
}
