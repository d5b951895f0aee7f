/**
 * Resource quantities as the scheduler counts them: `Quantity.MilliValue()`
 * for cpu and `Quantity.Value()` for everything else, both rounded up as
 * upstream's ScaledValue does ("0.5" → 500 milli, "1.5" → 2, "100m" cpu →
 * 100). Parsing reuses the exact ParseQuantity of the API printers; results
 * are memoized because the same few strings ("100m", "128Mi") recur on every
 * pod.
 */
import type { Quantity } from "kubernetes-types/api/resource.js";
import { parseQuantity } from "../../apiserver/printers/quantity.js";

const MEMO_LIMIT = 4096;
const milliMemo = new Map<string, number>();
const valueMemo = new Map<string, number>();

function ceilDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a > 0n ? q + 1n : q;
}

/** The value scaled to 10^scale units, rounded up; 0 for an unparseable quantity. */
function scaled(text: string, scale: number): number {
  const p = parseQuantity(text);
  if (!p) return 0;
  const shift = p.exp10 - scale;
  const v = shift >= 0 ? p.mantissa * 10n ** BigInt(shift) : ceilDiv(p.mantissa, 10n ** BigInt(-shift));
  return Number(v);
}

function memoized(memo: Map<string, number>, q: Quantity | null | undefined, scale: number): number {
  if (q === undefined || q === null) return 0;
  if (typeof q === "number") return scaled(String(q), scale);
  const hit = memo.get(q);
  if (hit !== undefined) return hit;
  const v = scaled(q, scale);
  if (memo.size >= MEMO_LIMIT) memo.clear();
  memo.set(q, v);
  return v;
}

/** Quantity.MilliValue(): thousandths, rounded up ("1" → 1000, "250m" → 250, "1Ki" → 1024000). */
export function milliValue(q: Quantity | null | undefined): number {
  return memoized(milliMemo, q, -3);
}

/** Quantity.Value(): whole units, rounded up ("1Gi" → 1073741824, "1e3" → 1000, "100m" → 1). */
export function value(q: Quantity | null | undefined): number {
  return memoized(valueMemo, q, 0);
}
