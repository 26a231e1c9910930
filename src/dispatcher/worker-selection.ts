/**
 * How LiveKit (v1.13.5, `pkg/service/agentservice.go`) picks the worker for a job, so the local
 * dispatcher spreads jobs over a fleet as the real server does.
 */
export interface Candidate {
  load: number;
}

/** LiveKit's default `agents.target_load`. */
export const DEFAULT_TARGET_LOAD = 0.7;

/**
 * LiveKit's `JobRequestAffinity`: a node bids for a job with the sum of `targetLoad - load` over
 * its available workers; with nothing left to bid, the job is not sent to any worker ("no servers
 * available"), even when some worker could still take it.
 */
export function hasAffinity(candidates: readonly Candidate[], targetLoad: number): boolean {
  // Loads arrive as protobuf floats; LiveKit compares them with a float32 target, so must we:
  // a worker reporting 0.7 is at the target, not a hair under it.
  const target = Math.fround(targetLoad);
  let affinity = 0;
  for (const c of candidates) affinity += Math.max(0, target - Math.fround(c.load));
  return affinity > 0;
}

/**
 * LiveKit's `selectWorkerWeightedByLoad`: a random worker, each weighted by `1 - load`, so idle
 * workers are picked more often but a busy one still gets its share; `undefined` when every
 * weight is 0 ("no workers with sufficient capacity"). `random` returns a number in [0, 1).
 */
export function pickWeightedByLoad<T extends Candidate>(
  candidates: readonly T[],
  random: () => number,
): T | undefined {
  let sum = 0;
  for (const c of candidates) sum += Math.max(0, 1 - c.load);
  if (sum <= 0) return undefined;
  let rest = random() * sum;
  let last: T | undefined;
  for (const c of candidates) {
    const weight = Math.max(0, 1 - c.load);
    if (weight === 0) continue;
    last = c;
    rest -= weight;
    if (rest <= 0) return c;
  }
  // Rounding can leave a sliver of `rest`: the last weighted worker takes it.
  return last;
}
