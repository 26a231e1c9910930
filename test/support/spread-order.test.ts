import { describe, expect, it } from 'vitest';
import { spread } from './spread-order.js';

const isUpper = (s: string) => s === s.toUpperCase();

describe('spread: the order real-server files are handed out in', () => {
  it('puts each picked item in the middle of its own equal stretch of the rest, each set in order', () => {
    expect(spread(['A', 'a', 'B', 'b', 'c', 'd', 'e', 'f'], isUpper)).toEqual([
      'a',
      'A',
      'b',
      'c',
      'd',
      'B',
      'e',
      'f',
    ]);
    expect(spread(['a', 'b', 'c', 'A', 'B', 'C'], isUpper)).toEqual(['A', 'a', 'B', 'b', 'C', 'c']);
  });

  it('keeps every item exactly once, however many are picked', () => {
    for (let picked = 0; picked <= 10; picked++) {
      const items = [
        ...Array.from({ length: picked }, (_, i) => `P${i}`),
        ...Array.from({ length: 10 - picked }, (_, i) => `r${i}`),
      ];
      const out = spread(items, isUpper);
      expect([...out].sort()).toEqual([...items].sort());
      expect(out.filter(isUpper)).toEqual(items.filter(isUpper));
      expect(out.filter((s) => !isUpper(s))).toEqual(items.filter((s) => !isUpper(s)));
    }
  });
});
