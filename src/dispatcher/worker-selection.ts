export interface Candidate {
  workerId: string;
  load: number;
}

/**
 * Order in which eligible workers are asked: least loaded first; among equal loads the start
 * rotates with `turn`, so idle workers share jobs round-robin instead of the first one taking all.
 */
export function orderCandidates<T extends Candidate>(candidates: readonly T[], turn: number): T[] {
  const n = candidates.length;
  if (n === 0) return [];
  const start = ((turn % n) + n) % n;
  const rotated = [...candidates.slice(start), ...candidates.slice(0, start)];
  // Array.prototype.sort is stable, so the rotation decides ties.
  return rotated.sort((a, b) => a.load - b.load);
}
