/**
 * A resource.Quantity (`1Gi`, `250m`, `1e3`, `0.5`) as a plain number in
 * base units (cores, bytes, counts): enough to compare, add and print
 * sizes. Exact arithmetic and canonical printing live in
 * apiserver/printers/quantity.ts (upstream's ParseQuantity).
 */

const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
const DECIMAL: Record<string, number> = { n: 1e-9, u: 1e-6, m: 1e-3, "": 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };
const QUANTITY = /^([+-]?\d+(?:\.\d*)?|[+-]?\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?\d+|[numkMGTPE])?$/;

/** The quantity's value in base units; undefined when `q` is not a quantity. */
export function quantityNumber(q: string | number): number | undefined {
  if (typeof q === "number") return q;
  const m = QUANTITY.exec(q.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  const suffix = m[2] ?? "";
  if (suffix in BINARY) return n * BINARY[suffix]!;
  if (/^[eE]/.test(suffix)) return n * 10 ** Number(suffix.slice(1));
  return n * DECIMAL[suffix]!;
}
