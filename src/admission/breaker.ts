import type { Clock } from '../clock/clock.js';
import type { BreakerStateName, BreakerView } from './types.js';

export interface BreakerSettings {
  enabled: boolean;
  failureRatio: number;
  minSamples: number;
  windowMs: number;
  cooldownMs: number;
  halfOpenProbes: number;
}

export interface BreakerTransition {
  from: BreakerStateName;
  to: BreakerStateName;
  reason: string;
  failures: number;
  samples: number;
  cooldownMs: number;
  manual: boolean;
}

/**
 * One tenant's breaker. Closed counts outcomes in a sliding window; open rejects until its
 * cooldown ends; half-open lets a few probe sessions through, so a recovered tenant does not get
 * its full traffic back at once.
 */
export class CircuitBreaker {
  #state: BreakerStateName = 'closed';
  #outcomes: { at: number; failed: boolean }[] = [];
  #openUntil = 0;
  #openForMs = 0;
  #probes = 0;
  #manual = false;
  #lastTransitionAt: number | undefined;

  constructor(
    private settings: BreakerSettings,
    private readonly clock: Clock,
    private readonly onTransition: (t: BreakerTransition) => void = () => {},
  ) {}

  get state(): BreakerStateName {
    this.#advance();
    return this.#state;
  }

  updateSettings(settings: BreakerSettings): void {
    this.settings = settings;
  }

  tryAdmit(): { ok: true; probe: boolean } | { ok: false; retryInMs: number } {
    if (!this.settings.enabled && !this.#manual) return { ok: true, probe: false };
    this.#advance();
    if (this.#state === 'closed') return { ok: true, probe: false };
    if (this.#state === 'open')
      return { ok: false, retryInMs: Math.max(0, this.#openUntil - this.clock.now()) };
    if (this.#probes >= this.settings.halfOpenProbes) return { ok: false, retryInMs: 0 };
    this.#probes += 1;
    return { ok: true, probe: true };
  }

  record(outcome: 'success' | 'failed', probe: boolean): void {
    const now = this.clock.now();
    if (probe) {
      this.#probes = Math.max(0, this.#probes - 1);
      if (this.#state !== 'half_open') return;
      if (outcome === 'success') {
        this.#outcomes = [];
        this.#transition('closed', 'probe session succeeded');
      } else {
        this.#open(this.settings.cooldownMs, 'probe session failed', false);
      }
      return;
    }
    if (!this.settings.enabled) return;
    this.#outcomes.push({ at: now, failed: outcome === 'failed' });
    this.#prune(now);
    if (this.#state !== 'closed') return;
    const { failures, samples } = this.#counts();
    if (samples >= this.settings.minSamples && failures / samples >= this.settings.failureRatio) {
      this.#open(
        this.settings.cooldownMs,
        `${failures} of ${samples} sessions failed within ${this.settings.windowMs} ms`,
        false,
      );
    }
  }

  /** A probe that never ran (no assignment, cancelled) gives its slot back without a verdict. */
  cancelProbe(): void {
    this.#probes = Math.max(0, this.#probes - 1);
  }

  trip(forMs?: number): void {
    this.#open(forMs ?? this.settings.cooldownMs, 'tripped by operator', true);
  }

  reset(): void {
    this.#outcomes = [];
    this.#manual = false;
    if (this.#state !== 'closed') this.#transition('closed', 'reset by operator');
  }

  /**
   * Back to a state the fleet held before its store lost its data: open for what was left of the
   * hold (half-open comes back with nothing left). Not a transition: nothing changed for callers.
   */
  restoreOpen(remainingMs: number, openForMs: number, manual: boolean): void {
    this.#state = 'open';
    this.#openUntil = this.clock.now() + Math.max(0, remainingMs);
    this.#openForMs = openForMs;
    this.#manual = manual;
    this.#probes = 0;
    this.#lastTransitionAt = this.clock.now();
  }

  /** How long its last open hold was. */
  get openForMs(): number {
    return this.#openForMs;
  }

  /** Whether the breaker has moved since it was made. */
  get moved(): boolean {
    return this.#lastTransitionAt !== undefined;
  }

  view(): BreakerView {
    this.#advance();
    const { failures, samples } = this.#counts();
    return {
      state: this.#state,
      ...(this.#state === 'open' ? { openUntil: this.#openUntil } : {}),
      probesInFlight: this.#probes,
      ...(this.#lastTransitionAt !== undefined ? { lastTransitionAt: this.#lastTransitionAt } : {}),
      ...(this.#manual ? { manual: true } : {}),
      windowFailures: failures,
      windowSamples: samples,
    };
  }

  #open(forMs: number, reason: string, manual: boolean): void {
    this.#openUntil = this.clock.now() + forMs;
    this.#openForMs = forMs;
    this.#manual = manual;
    this.#transition('open', reason);
  }

  #advance(): void {
    if (this.#state === 'open' && this.clock.now() >= this.#openUntil) {
      this.#transition(
        'half_open',
        `${this.#manual ? 'manual hold' : 'cooldown'} of ${this.#openForMs} ms ended`,
      );
    }
  }

  #transition(to: BreakerStateName, reason: string): void {
    const from = this.#state;
    this.#state = to;
    this.#lastTransitionAt = this.clock.now();
    if (to !== 'open') this.#manual = false;
    const { failures, samples } = this.#counts();
    this.onTransition({
      from,
      to,
      reason,
      failures,
      samples,
      cooldownMs: to === 'open' ? this.#openForMs : 0,
      manual: this.#manual,
    });
  }

  #prune(now: number): void {
    const cutoff = now - this.settings.windowMs;
    while (this.#outcomes.length > 0 && this.#outcomes[0]!.at <= cutoff) this.#outcomes.shift();
  }

  #counts(): { failures: number; samples: number } {
    this.#prune(this.clock.now());
    let failures = 0;
    for (const o of this.#outcomes) if (o.failed) failures += 1;
    return { failures, samples: this.#outcomes.length };
  }
}
