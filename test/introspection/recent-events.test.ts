import { describe, expect, it } from 'vitest';
import { RecentEvents } from '../../src/introspection/recent-events.js';

describe('RecentEvents', () => {
  it('keeps the newest N, oldest first', () => {
    let t = 0;
    const events = new RecentEvents(3, () => ++t);
    for (const n of [1, 2, 3, 4, 5])
      events.push({ kind: 'reject', tenant: 'acme', message: `m${n}` });
    expect(events.size).toBe(3);
    expect(events.list().map((e) => [e.at, e.message])).toEqual([
      [3, 'm3'],
      [4, 'm4'],
      [5, 'm5'],
    ]);
    expect(events.list(2).map((e) => e.message)).toEqual(['m4', 'm5']);
  });

  it('omits an absent tenant, keeps an explicit time, and truncates long messages', () => {
    const events = new RecentEvents(5, () => 99);
    events.push({ kind: 'drain', message: 'x'.repeat(500), at: 7 });
    const [e] = events.list();
    expect(e).toEqual({ at: 7, kind: 'drain', message: `${'x'.repeat(299)}…` });
    expect(() => new RecentEvents(0)).toThrow(RangeError);
  });
});
