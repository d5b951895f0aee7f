/**
 * Just enough resource.Quantity arithmetic for allocatable = capacity −
 * reserved: parse to base units, subtract, and print back in the
 * capacity's style (binary suffix, decimal suffix, or millis).
 */

import { quantityNumber } from "../../machinery/quantity.js";

/** The value of a quantity in base units (cores, bytes, count); throws on a malformed one (configuration errors). */
export function quantityValue(q: string): number {
  const v = quantityNumber(q);
  if (v === undefined) throw new Error(`invalid quantity ${JSON.stringify(q)}`);
  return v;
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
