/**
 * Just enough resource.Quantity arithmetic for allocatable = capacity −
 * reserved: parse to base units, subtract, and print back in the
 * capacity's style (binary suffix, decimal suffix, or millis).
 */

const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
const DECIMAL: Record<string, number> = { n: 1e-9, u: 1e-6, m: 1e-3, "": 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };

/** The value of a quantity in base units (cores, bytes, count); throws on a malformed one (configuration errors). */
export function quantityValue(q: string): number {
  const m = /^([+-]?\d+(?:\.\d+)?|[+-]?\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?\d+|[numkMGTPE])?$/.exec(q.trim());
  if (!m) throw new Error(`invalid quantity ${JSON.stringify(q)}`);
  const n = Number(m[1]);
  const suffix = m[2] ?? "";
  if (suffix in BINARY) return n * BINARY[suffix]!;
  if (/^[eE]/.test(suffix)) return n * 10 ** Number(suffix.slice(1));
  return n * DECIMAL[suffix]!;
}

/** `a − b`, printed in `a`'s style; never below zero. */
export function subtractQuantity(a: string, b: string): string {
  const v = Math.max(0, quantityValue(a) - quantityValue(b));
  const binary = /(Ki|Mi|Gi|Ti|Pi|Ei)$/.test(a.trim());
  if (binary) return v % 1024 === 0 ? `${v / 1024}Ki` : String(Math.round(v));
  if (Number.isInteger(v)) return String(v);
  return `${Math.round(v * 1000)}m`;
}

/** capacity minus every reservation that names the same resource. */
export function allocatableOf(capacity: Readonly<Record<string, string>>, ...reserved: Readonly<Record<string, string>>[]): Record<string, string> {
  const out: Record<string, string> = { ...capacity };
  for (const r of reserved) {
    for (const [name, q] of Object.entries(r)) if (out[name] !== undefined) out[name] = subtractQuantity(out[name]!, q);
  }
  return out;
}
