/**
 * Sets of completion indexes as ordered, non-overlapping intervals, the
 * form of `status.completedIndexes` and `status.failedIndexes`
 * ("1,3-5,7"), as upstream's `orderedIntervals`.
 */
import { type Logger, silentLogger } from "../../machinery/log.js";

/** Indexes `first` to `last`, both included. */
export interface Interval {
  first: number;
  last: number;
}

/** Ascending, disjoint, non-adjacent intervals. */
export type OrderedIntervals = readonly Interval[];

/** How many indexes the intervals hold. */
export function total(oi: OrderedIntervals | undefined): number {
  let count = 0;
  for (const iv of oi ?? []) count += iv.last - iv.first + 1;
  return count;
}

/** The API form: `0-2,4,6,7` (two adjacent indexes are listed, three or more become a range). */
export function intervalsString(oi: OrderedIntervals | undefined): string {
  const parts: string[] = [];
  for (const v of oi ?? []) {
    if (v.last === v.first) parts.push(String(v.first));
    else if (v.last === v.first + 1) parts.push(`${v.first},${v.last}`);
    else parts.push(`${v.first}-${v.last}`);
  }
  return parts.join(",");
}

/** Whether `ix` is in the intervals (binary search). */
export function hasIndex(oi: OrderedIntervals | undefined, ix: number): boolean {
  if (!oi) return false;
  let lo = 0;
  let hi = oi.length;
  while (hi > lo) {
    const mid = lo + ((hi - lo) >> 1);
    if (oi[mid]!.last >= ix) hi = mid;
    else lo = mid + 1;
  }
  return hi < oi.length && oi[hi]!.first <= ix;
}

/** The union of two interval lists. */
export function merge(a: OrderedIntervals | undefined, b: OrderedIntervals | undefined): Interval[] {
  const result: Interval[] = [];
  const push = (iv: Interval) => {
    const last = result.at(-1);
    if (!last || iv.first > last.last + 1) result.push({ ...iv });
    else if (last.last < iv.last) last.last = iv.last;
  };
  const x = a ?? [];
  const y = b ?? [];
  let i = 0;
  let j = 0;
  while (i < x.length && j < y.length) {
    if (x[i]!.first < y[j]!.first) push(x[i++]!);
    else push(y[j++]!);
  }
  while (i < x.length) push(x[i++]!);
  while (j < y.length) push(y[j++]!);
  return result;
}

/** The intervals plus `newIndexes` (ascending). */
export function withOrderedIndexes(oi: OrderedIntervals | undefined, newIndexes: readonly number[]): Interval[] {
  return merge(
    oi,
    newIndexes.map((ix) => ({ first: ix, last: ix })),
  );
}

/**
 * Parses the API form, keeping indexes below `completions`; corrupt parts
 * are logged and skipped, as upstream's `parseIndexesFromString`.
 */
export function parseIndexesFromString(indexes: string | undefined, completions: number, logger: Logger = silentLogger): Interval[] {
  if (!indexes) return [];
  const result: Interval[] = [];
  for (const part of indexes.split(",")) {
    const limits = part.split("-");
    const first = atoi(limits[0]!);
    if (first === undefined) {
      logger.info("corrupted indexes interval, ignoring", { interval: part });
      continue;
    }
    if (first >= completions) break;
    let last = first;
    if (limits.length > 1) {
      const l = atoi(limits[1]!);
      if (l === undefined) {
        logger.info("corrupted indexes interval, ignoring", { interval: part });
        continue;
      }
      last = Math.min(l, completions - 1);
    }
    const prev = result.at(-1);
    if (prev && prev.last === first - 1) prev.last = last;
    else result.push({ first, last });
  }
  return result;
}

/** Go's strconv.Atoi on a decimal integer (an optional sign, digits only). */
function atoi(s: string): number | undefined {
  return /^[+-]?\d+$/.test(s) ? Number(s) : undefined;
}
