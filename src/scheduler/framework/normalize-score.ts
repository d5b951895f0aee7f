/** Score normalization helpers shared by plugins (plugins/helper/normalize_score.go). */
import type { NodeScore } from "./types.js";

/**
 * DefaultNormalizeScore: scales scores so the highest becomes maxPriority
 * (integer division, as upstream); with `reverse`, maxPriority minus that.
 * All-zero scores stay 0, or become maxPriority when reversed.
 */
export function defaultNormalizeScore(maxPriority: number, reverse: boolean, scores: NodeScore[]): null {
  let maxCount = 0;
  for (const s of scores) if (s.score > maxCount) maxCount = s.score;
  if (maxCount === 0) {
    if (reverse) for (const s of scores) s.score = maxPriority;
    return null;
  }
  for (const s of scores) {
    let score = Math.trunc((maxPriority * s.score) / maxCount);
    if (reverse) score = maxPriority - score;
    s.score = score;
  }
  return null;
}

/** a * b / c with Go int64 truncation, exact even when a * b exceeds 2^53. */
export function mulDiv(a: number, b: number, c: number): number {
  const p = a * b;
  if (Number.isSafeInteger(p)) return Math.trunc(p / c);
  return Number((BigInt(Math.trunc(a)) * BigInt(Math.trunc(b))) / BigInt(Math.trunc(c)));
}
