/**
 * Exact quantity arithmetic for quota and limit ranges, as resource.Quantity's
 * Add/Sub/Cmp: values are kept as an integer mantissa times a power of ten,
 * a sum keeps the format of its first operand (Quantity.Add keeps the
 * receiver's), and printing goes through the canonical Quantity.String() of
 * the API printers ("500m"+"500m" prints "1", "128Mi"+"128Mi" prints "256Mi").
 */
import { parseQuantity, quantityString } from "../printers/quantity.js";

export interface Qty {
  readonly mantissa: bigint;
  readonly exp10: number;
  readonly format: "DecimalSI" | "BinarySI" | "DecimalExponent";
}

export const ZERO: Qty = { mantissa: 0n, exp10: 0, format: "DecimalSI" };

/** The quantity in an object (string or JSON number); undefined when absent or malformed. */
export function qty(v: unknown): Qty | undefined {
  if (typeof v !== "string" && typeof v !== "number") return undefined;
  const p = parseQuantity(String(v));
  return p ? { mantissa: p.mantissa, exp10: p.exp10, format: p.format } : undefined;
}

function align(a: Qty, b: Qty): [bigint, bigint, number] {
  const e = Math.min(a.exp10, b.exp10);
  return [a.mantissa * 10n ** BigInt(a.exp10 - e), b.mantissa * 10n ** BigInt(b.exp10 - e), e];
}

/** a + b, in a's format (b's when a is zero, as adding to an unset quantity upstream). */
export function add(a: Qty, b: Qty): Qty {
  const [x, y, e] = align(a, b);
  return { mantissa: x + y, exp10: e, format: a.mantissa === 0n && a === ZERO ? b.format : a.format };
}

export function sub(a: Qty, b: Qty): Qty {
  const [x, y, e] = align(a, b);
  return { mantissa: x - y, exp10: e, format: a.format };
}

/** -1, 0 or 1 as a is less than, equal to or greater than b. */
export function cmp(a: Qty, b: Qty): number {
  const [x, y] = align(a, b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** a × n (a whole number), as Quantity arithmetic on counts. */
export function times(a: Qty, n: number): Qty {
  return { ...a, mantissa: a.mantissa * BigInt(n) };
}

/** a / b as a float (limit/request ratios). */
export function ratio(a: Qty, b: Qty): number {
  const [x, y] = align(a, b);
  return Number(x) / Number(y);
}

/** Quantity.String() of the value. */
export function format(q: Qty): string {
  let { mantissa, exp10 } = q;
  if (mantissa === 0n) return "0";
  if (q.format === "DecimalExponent") return quantityString(`${mantissa}e${exp10}`);
  if (q.format === "BinarySI" && exp10 < 0 && mantissa % 10n ** BigInt(-exp10) === 0n) {
    mantissa /= 10n ** BigInt(-exp10);
    exp10 = 0;
  }
  if (q.format === "BinarySI" && exp10 >= 0) {
    const v = mantissa * 10n ** BigInt(exp10);
    // A binary-suffixed spelling keeps the BinarySI format through parsing.
    if (v % 1024n === 0n) return quantityString(`${v / 1024n}Ki`);
    return quantityString(String(v));
  }
  // Decimal suffixes need a power of ten that is a multiple of 3, within n..E.
  while (((exp10 % 3) + 3) % 3 !== 0) {
    mantissa *= 10n;
    exp10 -= 1;
  }
  if (exp10 < -9) {
    const d = 10n ** BigInt(-9 - exp10);
    mantissa = (mantissa + (mantissa > 0n ? d - 1n : 0n)) / d;
    exp10 = -9;
  }
  if (exp10 > 18) return quantityString(`${mantissa}e${exp10}`);
  const suffix: Record<number, string> = { [-9]: "n", [-6]: "u", [-3]: "m", 0: "", 3: "k", 6: "M", 9: "G", 12: "T", 15: "P", 18: "E" };
  return quantityString(`${mantissa}${suffix[exp10]}`);
}
