// Just enough signal processing to tell voices apart over real media: loudness, the power at one
// frequency (Goertzel), and the strongest frequency in a band.

/** Root mean square of 16-bit samples, in sample units (full scale is 32767). */
export function rms(samples: Int16Array): number {
  if (samples.length === 0) return 0;
  let sum = 0;
  for (const s of samples) sum += s * s;
  return Math.sqrt(sum / samples.length);
}

/** Below this RMS a frame counts as silence: Opus comfort noise and resampling dither stay far under it. */
export const SILENCE_RMS = 100;

/** Power of `samples` at `hz` (Goertzel), normalised by length. */
export function powerAt(samples: ArrayLike<number>, sampleRate: number, hz: number): number {
  const n = samples.length;
  if (n === 0) return 0;
  const coeff = 2 * Math.cos((2 * Math.PI * hz) / sampleRate);
  let s1 = 0;
  let s2 = 0;
  for (let i = 0; i < n; i++) {
    const s0 = samples[i]! + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  return (s1 * s1 + s2 * s2 - coeff * s1 * s2) / (n * n);
}

/**
 * The strongest frequency between `fromHz` and `toHz`: a coarse scan, then a fine one around the
 * best coarse bin. Good to about 1 Hz on a second of audio.
 */
export function dominantFrequency(samples: ArrayLike<number>, sampleRate: number, fromHz: number, toHz: number): number {
  const scan = (from: number, to: number, step: number) => {
    let best = from;
    let bestPower = -1;
    for (let hz = from; hz <= to; hz += step) {
      const p = powerAt(samples, sampleRate, hz);
      if (p > bestPower) {
        bestPower = p;
        best = hz;
      }
    }
    return best;
  };
  const coarse = scan(fromHz, toHz, 10);
  return scan(Math.max(fromHz, coarse - 10), Math.min(toHz, coarse + 10), 1);
}

/** Share of the signal's power (by Parseval, its mean square) that sits at `hz`. */
export function shareAt(samples: ArrayLike<number>, sampleRate: number, hz: number): number {
  let sum = 0;
  for (let i = 0; i < samples.length; i++) sum += samples[i]! * samples[i]!;
  const meanSquare = samples.length ? sum / samples.length : 0;
  // A pure tone of amplitude A has mean square A²/2 and Goertzel power A²/4.
  return meanSquare > 0 ? (2 * powerAt(samples, sampleRate, hz)) / meanSquare : 0;
}

/** A pure tone, 16-bit, for test voices. */
export function tone(hz: number, sampleRate: number, samples: number, amplitude = 8_000, phaseFrom = 0): Int16Array {
  const out = new Int16Array(samples);
  for (let i = 0; i < samples; i++) out[i] = Math.round(amplitude * Math.sin((2 * Math.PI * hz * (phaseFrom + i)) / sampleRate));
  return out;
}
