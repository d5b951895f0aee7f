/**
 * Values as upstream's HPA writes them: quantities made with
 * `resource.NewMilliQuantity(v, DecimalSI)` in canonical form ("250m",
 * "1", "1500m", "104857600"), and a `*metav1.LabelSelector` as Go's `%+v`
 * prints it in messages.
 */
import type { LabelSelector } from "kubernetes-types/meta/v1.js";

const SUFFIX: Record<number, string> = { [-9]: "n", [-6]: "u", [-3]: "m", 0: "", 3: "k", 6: "M", 9: "G", 12: "T", 15: "P", 18: "E" };

/** A DecimalSI quantity of `milli` thousandths in canonical form. */
export function milliQuantity(milli: number): string {
  let amount = BigInt(Math.trunc(milli));
  if (amount === 0n) return "0";
  const negative = amount < 0n;
  if (negative) amount = -amount;
  let exp = -3;
  while (amount % 10n === 0n) {
    amount /= 10n;
    exp++;
  }
  // The exponent goes down to a multiple of three.
  const r = ((exp % 3) + 3) % 3;
  amount *= 10n ** BigInt(r);
  exp -= r;
  const suffix = SUFFIX[exp];
  const text = suffix === undefined ? `${amount}e${exp}` : `${amount}${suffix}`;
  return negative ? `-${text}` : text;
}

function goStringSlice(v: readonly string[] | undefined): string {
  return `[${(v ?? []).join(" ")}]`;
}

/** Go's `%+v` of a `*metav1.LabelSelector` (its generated String()); "nil" for none. */
export function goLabelSelector(sel: LabelSelector | undefined | null): string {
  if (!sel) return "nil";
  const keys = Object.keys(sel.matchLabels ?? {}).sort();
  const labels = `map[string]string{${keys.map((k) => `${k}: ${sel.matchLabels![k]},`).join("")}}`;
  const exprs = (sel.matchExpressions ?? []).map((e) => `LabelSelectorRequirement{Key:${e.key},Operator:${e.operator},Values:${goStringSlice(e.values)},},`).join("");
  return `&LabelSelector{MatchLabels:${labels},MatchExpressions:[]LabelSelectorRequirement{${exprs}},}`;
}
