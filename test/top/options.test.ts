import { describe, expect, it } from 'vitest';
import { parseTopOptions, TopOptionsSchema } from '../../src/top/options.js';

describe('top options', () => {
  it('defaults sort to age and refresh rate to 1 Hz', () => {
    expect(TopOptionsSchema.parse({})).toEqual({ sort: 'age', refreshRate: 1 });
  });

  it('rejects an out-of-range or non-numeric refresh rate, naming the flag and the value', () => {
    expect(parseTopOptions({ refreshRate: 20 })).toEqual({
      ok: false,
      error: '--refresh-rate: expected a number from 0.5 to 10, got 20',
    });
    expect(parseTopOptions({ refreshRate: 0.1 })).toEqual({
      ok: false,
      error: '--refresh-rate: expected a number from 0.5 to 10, got 0.1',
    });
    expect(parseTopOptions({ refreshRate: Number('fast') }).ok).toBe(false);
    expect(parseTopOptions({ refreshRate: 0.5 })).toMatchObject({
      ok: true,
      options: { refreshRate: 0.5 },
    });
    expect(parseTopOptions({ refreshRate: 10 })).toMatchObject({
      ok: true,
      options: { refreshRate: 10 },
    });
  });

  it('reads the earlier names of a sort key and a status, for scripts that pass them', () => {
    expect(parseTopOptions({ sort: 'state', status: 'active' })).toMatchObject({
      ok: true,
      options: { sort: 'status', status: 'running' },
    });
  });

  it('rejects an unknown sort key or status', () => {
    expect(parseTopOptions({ sort: 'size' })).toEqual({
      ok: false,
      error: '--sort: expected one of age, cpu, tenant, status, agent, got "size"',
    });
    expect(parseTopOptions({ status: 'done' })).toEqual({
      ok: false,
      error: '--status: expected one of starting, running, closing, got "done"',
    });
  });
});
