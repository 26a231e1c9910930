/**
 * Speech-like audio without a recording: a voiced tone whose pitch glides and whose loudness
 * follows a syllable rhythm (about 4 per second), in phrases of a few seconds separated by pauses
 * of room noise. It gives the VAD real work on every frame and real turns to detect, which is
 * what a caller's audio track gives it.
 */
export const SAMPLE_RATE = 16_000;

export const PHRASE_S = 2.4;
const PAUSE_S = 1.6;

function createRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1_664_525 + 1_013_904_223) >>> 0;
    return s / 2 ** 32;
  };
}

/** One phrase and one pause, looped by the caller. Built once and shared by every session. */
export function speechLoop(seed = 7, pauseS = PAUSE_S): Int16Array {
  const random = createRandom(seed);
  const phrase = Math.round(PHRASE_S * SAMPLE_RATE);
  const total = phrase + Math.round(pauseS * SAMPLE_RATE);
  const out = new Int16Array(total);
  let phase = 0;
  for (let i = 0; i < total; i++) {
    const t = i / SAMPLE_RATE;
    const noise = (random() * 2 - 1) * 60;
    if (i >= phrase) {
      out[i] = Math.round(noise);
      continue;
    }
    // A falling, wavering pitch around 140 Hz with four harmonics, shaped into syllables.
    const f0 = 140 + 25 * Math.sin(2 * Math.PI * 0.7 * t) - 15 * (t / PHRASE_S);
    phase += (2 * Math.PI * f0) / SAMPLE_RATE;
    const voiced =
      Math.sin(phase) +
      0.6 * Math.sin(2 * phase) +
      0.35 * Math.sin(3 * phase) +
      0.2 * Math.sin(5 * phase);
    const syllable = Math.max(0, Math.sin(Math.PI * 4.2 * t)) ** 0.6;
    const edge = Math.min(1, t / 0.05, (PHRASE_S - t) / 0.05);
    out[i] = Math.round(voiced * syllable * edge * 5_000 + noise);
  }
  return out;
}

export interface Utterance {
  startMs: number;
  endMs: number;
}

/**
 * When the caller speaks, in ms from the first frame, for audio starting `offset` samples into
 * the loop: what a transcriber would see, so the fake STT answers in step with the audio.
 */
export function utterances(offset: number, loopLength: number, durationMs: number): Utterance[] {
  const loopMs = (loopLength / SAMPLE_RATE) * 1000;
  const phraseMs = PHRASE_S * 1000;
  const out: Utterance[] = [];
  // The loop's phrase starts at -offset, then once per loop.
  for (let start = -(offset / SAMPLE_RATE) * 1000; start < durationMs; start += loopMs) {
    const from = Math.max(0, start);
    const to = start + phraseMs;
    if (to - from >= 300) out.push({ startMs: Math.round(from), endMs: Math.round(to) });
  }
  return out;
}
