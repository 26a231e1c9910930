import { describe, expect, it } from 'vitest';
import { DelayBuckets } from '../../src/load/delay-buckets.js';
import {
  LOAD_FALL_MS,
  LOAD_RISE_MS,
  LoadModel,
  type LoadSettings,
} from '../../src/load/load-model.js';

const settings: LoadSettings = { threshold: 0.7, loopDelayFullMs: 80, protect: true };
const idle = { inUse: 0, capacity: null, draining: false };

describe('LoadModel', () => {
  it('reports the largest share: utilisation, loop delay over its bound, or sessions over the cap scaled to the threshold', () => {
    const m = new LoadModel(settings);
    // Converge on steady inputs (many rise time constants).
    for (let t = 0; t <= 20_000; t += 1_000) m.observe(t, { elu: 0.3, loopDelayP99Ms: 20 });
    const r = m.report({ inUse: 5, capacity: 10, draining: false });
    expect(r.shares).toEqual({ eventLoopUtilization: 0.3, loopDelay: 0.25, sessions: 0.5 });
    expect(r.measured).toBeCloseTo(0.3, 6);
    // Half the cap is half of the target load: LiveKit keeps sending until the cap itself.
    expect(r.load).toBe(0.35);
    expect(r.full).toBe(false);

    for (let t = 21_000; t <= 60_000; t += 1_000) m.observe(t, { elu: 0.2, loopDelayP99Ms: 48 });
    expect(m.report(idle).measured).toBeCloseTo(0.6, 6);
    expect(m.report(idle).load).toBe(0.6);
  });

  it('rises with the rise time constant and falls with the slower fall one, exactly', () => {
    const m = new LoadModel(settings);
    m.observe(0, { elu: 0, loopDelayP99Ms: 0 });
    m.observe(1_000, { elu: 1, loopDelayP99Ms: 0 });
    const afterRise = 1 - Math.exp(-1_000 / LOAD_RISE_MS);
    expect(m.report(idle).measured).toBeCloseTo(afterRise, 10);
    m.observe(2_000, { elu: 0, loopDelayP99Ms: 0 });
    expect(m.report(idle).measured).toBeCloseTo(afterRise * Math.exp(-1_000 / LOAD_FALL_MS), 10);
  });

  it('goes full past the threshold (>=, as stock), and only while protection is on', () => {
    const m = new LoadModel(settings);
    let t = 0;
    while (!m.report(idle).full && t < 10_000)
      m.observe((t += 500), { elu: 0.95, loopDelayP99Ms: 0 });
    const full = m.report(idle);
    expect(full).toMatchObject({ full: true, reason: 'load', threshold: 0.7 });
    expect(full.measured).toBeGreaterThanOrEqual(0.7);
    // Reported load is the measured figure, not 1: LiveKit skips a full worker whatever its load.
    expect(full.load).toBeLessThan(1);

    // Off, the measured load is not reported either: LiveKit would stop sending at its target load.
    m.updateSettings({ ...settings, protect: false });
    expect(m.report(idle)).toMatchObject({ full: false, load: 0, measured: full.measured });
    expect(m.report({ inUse: 5, capacity: 10, draining: false })).toMatchObject({
      full: false,
      load: 0.35,
    });
  });

  it('the loop-delay share alone makes a worker full once p99 reaches 0.7 of its bound', () => {
    const m = new LoadModel(settings);
    for (let t = 0; t <= 20_000; t += 1_000) m.observe(t, { elu: 0.1, loopDelayP99Ms: 57 });
    expect(m.report(idle)).toMatchObject({ full: true, reason: 'load' });
    const below = new LoadModel(settings);
    for (let t = 0; t <= 20_000; t += 1_000) below.observe(t, { elu: 0.1, loopDelayP99Ms: 55 });
    expect(below.report(idle).full).toBe(false);
  });

  it('is full at the cap itself (load 1), not at the threshold, and while draining', () => {
    const m = new LoadModel(settings);
    // Under LiveKit's target load until the last slot: 9 of 10 reports 0.63, under 0.7.
    expect(m.report({ inUse: 7, capacity: 10, draining: false })).toMatchObject({
      full: false,
      load: 0.49,
    });
    expect(m.report({ inUse: 9, capacity: 10, draining: false })).toMatchObject({
      full: false,
      load: 0.63,
    });
    expect(m.report({ inUse: 10, capacity: 10, draining: false })).toMatchObject({
      full: true,
      load: 1,
      reason: 'capacity',
    });
    expect(m.report({ inUse: 0, capacity: 10, draining: true })).toMatchObject({
      full: true,
      load: 1,
      reason: 'draining',
    });
  });

  it('ignores nonsense inputs instead of reporting them', () => {
    const m = new LoadModel(settings);
    m.observe(1_000, { elu: Number.NaN, loopDelayP99Ms: -5 });
    expect(m.report(idle)).toMatchObject({ load: 0, measured: 0, full: false });
    m.observe(2_000, { elu: 7, loopDelayP99Ms: 0 });
    expect(m.report(idle).shares.eventLoopUtilization).toBe(1);
  });
});

describe('DelayBuckets', () => {
  it('p99 and max over the buckets a window overlaps; older buckets age out', () => {
    const b = new DelayBuckets(1_000, 5);
    for (let i = 0; i < 99; i++) b.record(100 + i, 1);
    b.record(500, 200);
    expect(b.stats(900, 1_000)).toMatchObject({ samples: 100, maxMs: expect.closeTo(200, 0) });
    expect(b.stats(900, 1_000).p99Ms).toBeCloseTo(1, 1);
    for (let i = 0; i < 100; i++) b.record(1_100 + i, 90);
    // Two buckets: 200 samples, 101 of them >= 90 ms.
    expect(b.stats(1_500, 2_000).p99Ms).toBeCloseTo(90, 0);
    // One bucket back only: the current second.
    expect(b.stats(1_500, 1_000)).toMatchObject({ samples: 100 });
    // Six seconds later both are out of the ring's reach.
    expect(b.stats(7_500, 5_000)).toEqual({ p99Ms: 0, maxMs: 0, samples: 0 });
  });

  it('reuses a slot for a new second without mixing in the old one', () => {
    const b = new DelayBuckets(1_000, 2);
    b.record(0, 500);
    b.record(2_000, 3); // same slot as second 0
    expect(b.stats(2_000, 2_000)).toMatchObject({ samples: 1 });
    expect(b.stats(2_000, 2_000).maxMs).toBeCloseTo(3, 1);
  });
});
