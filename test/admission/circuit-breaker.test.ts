import { describe, expect, it } from 'vitest';
import { CircuitBreaker, type BreakerTransition } from '../../src/admission/breaker.js';
import { FakeClock } from '../support/fake-clock.js';

const settings = {
  enabled: true,
  failureRatio: 0.5,
  minSamples: 4,
  windowMs: 10_000,
  cooldownMs: 5_000,
  halfOpenProbes: 2,
};

function setup(overrides: Partial<typeof settings> = {}) {
  const clock = new FakeClock();
  const transitions: BreakerTransition[] = [];
  const breaker = new CircuitBreaker({ ...settings, ...overrides }, clock, (t) =>
    transitions.push(t),
  );
  return { clock, breaker, transitions };
}

describe('CircuitBreaker', () => {
  it('stays closed below minSamples, then opens when the failure ratio is reached', () => {
    const { breaker, transitions } = setup();
    breaker.record('failed', false);
    breaker.record('failed', false);
    breaker.record('failed', false);
    expect(breaker.view().state).toBe('closed');
    breaker.record('success', false);
    expect(breaker.view()).toMatchObject({ state: 'open', windowFailures: 3, windowSamples: 4 });
    expect(transitions).toEqual([
      {
        from: 'closed',
        to: 'open',
        reason: '3 of 4 sessions failed within 10000 ms',
        failures: 3,
        samples: 4,
        cooldownMs: 5_000,
        manual: false,
      },
    ]);
  });

  it('does not open when the ratio stays below the threshold', () => {
    const { breaker } = setup();
    for (const o of ['failed', 'success', 'success', 'success', 'failed', 'success'] as const)
      breaker.record(o, false);
    expect(breaker.view().state).toBe('closed');
  });

  it('forgets outcomes that left the window', () => {
    const { breaker, clock } = setup();
    breaker.record('failed', false);
    breaker.record('failed', false);
    breaker.record('failed', false);
    clock.advance(10_001);
    breaker.record('failed', false);
    expect(breaker.view()).toMatchObject({ state: 'closed', windowSamples: 1 });
  });

  it('rejects while open with the time left, then goes half-open after the cooldown', () => {
    const { breaker, clock, transitions } = setup();
    breaker.trip();
    expect(breaker.tryAdmit()).toEqual({ ok: false, retryInMs: 5_000 });
    clock.advance(4_999);
    expect(breaker.tryAdmit()).toEqual({ ok: false, retryInMs: 1 });
    clock.advance(1);
    expect(breaker.tryAdmit()).toEqual({ ok: true, probe: true });
    expect(transitions.map((t) => `${t.from}->${t.to}`)).toEqual([
      'closed->open',
      'open->half_open',
    ]);
  });

  it('admits at most halfOpenProbes concurrent probes; a cancelled probe gives its slot back', () => {
    const { breaker, clock } = setup();
    breaker.trip(1_000);
    clock.advance(1_000);
    expect(breaker.tryAdmit()).toEqual({ ok: true, probe: true });
    expect(breaker.tryAdmit()).toEqual({ ok: true, probe: true });
    expect(breaker.tryAdmit()).toEqual({ ok: false, retryInMs: 0 });
    expect(breaker.view().probesInFlight).toBe(2);
    breaker.cancelProbe();
    expect(breaker.tryAdmit()).toEqual({ ok: true, probe: true });
  });

  it('closes on a probe success and re-opens on a probe failure', () => {
    const { breaker, clock, transitions } = setup();
    breaker.trip(1_000);
    clock.advance(1_000);
    breaker.tryAdmit();
    breaker.record('failed', true);
    expect(breaker.view().state).toBe('open');
    expect(transitions.at(-1)).toMatchObject({
      from: 'half_open',
      to: 'open',
      reason: 'probe session failed',
      cooldownMs: 5_000,
    });
    clock.advance(5_000);
    expect(breaker.tryAdmit()).toEqual({ ok: true, probe: true });
    breaker.record('success', true);
    expect(breaker.view()).toMatchObject({ state: 'closed', probesInFlight: 0, windowSamples: 0 });
    expect(transitions.map((t) => t.to)).toEqual([
      'open',
      'half_open',
      'open',
      'half_open',
      'closed',
    ]);
  });

  it('a manual trip is marked manual and lasts as long as asked; reset closes at once', () => {
    const { breaker, clock, transitions } = setup();
    breaker.trip(60_000);
    expect(breaker.view()).toMatchObject({
      state: 'open',
      manual: true,
      openUntil: clock.now() + 60_000,
    });
    expect(transitions[0]).toMatchObject({
      reason: 'tripped by operator',
      manual: true,
      cooldownMs: 60_000,
    });
    breaker.reset();
    expect(breaker.view().state).toBe('closed');
    expect(breaker.view().manual).toBeUndefined();
    expect(transitions.at(-1)).toMatchObject({
      from: 'open',
      to: 'closed',
      reason: 'reset by operator',
    });
  });

  it('when disabled, never opens by itself but a manual trip still holds', () => {
    const { breaker } = setup({ enabled: false });
    for (let i = 0; i < 10; i++) breaker.record('failed', false);
    expect(breaker.tryAdmit()).toEqual({ ok: true, probe: false });
    breaker.trip(1_000);
    expect(breaker.tryAdmit()).toEqual({ ok: false, retryInMs: 1_000 });
  });
});
