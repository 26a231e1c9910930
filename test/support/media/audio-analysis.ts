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
export function dominantFrequency(
  samples: ArrayLike<number>,
  sampleRate: number,
  fromHz: number,
  toHz: number,
): number {
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

/**
 * Share of a short stretch's power that sits at `hz`: 1 for a pure tone at `hz`, near 0 for a
 * tone a few of the stretch's frequency bins away. A Hann window keeps a neighbouring voice's
 * leakage far below that (about -60 dB four bins off); the stretch must be one piece of audio,
 * not pieces joined with phase jumps.
 */
export function toneShare(samples: ArrayLike<number>, sampleRate: number, hz: number): number {
  const n = samples.length;
  if (n === 0) return 0;
  const windowed = new Float64Array(n);
  let sumW = 0;
  let sumW2 = 0;
  let energy = 0;
  for (let i = 0; i < n; i++) {
    const w = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / (n - 1));
    sumW += w;
    sumW2 += w * w;
    windowed[i] = samples[i]! * w;
    energy += windowed[i]! * windowed[i]!;
  }
  if (energy === 0) return 0;
  // powerAt divides by n²; undo it. A tone of amplitude A gives |X|² = A²(Σw)²/4 and Σy² = A²Σw²/2.
  const x2 = powerAt(windowed, sampleRate, hz) * n * n;
  return (2 * x2 * sumW2) / (sumW * sumW * energy);
}
