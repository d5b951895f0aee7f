/**
 * The two resource.Quantity forms metrics carry, printed as Go's
 * Quantity.String() prints them: cpu as a DecimalSI quantity made at
 * nano scale (`resource.NewScaledQuantity(n, -9)`: "123456789n", "5m",
 * "1"), memory as a BinarySI quantity of bytes ("12Ki", "1Gi", "1234567",
 * and below 1 KiB decimal: "512", "1k").
 */

const DECIMAL_SUFFIX: Record<number, string> = { [-9]: "n", [-6]: "u", [-3]: "m", 0: "", 3: "k", 6: "M", 9: "G", 12: "T", 15: "P", 18: "E" };
const BINARY_SUFFIX = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];

/** Canonical DecimalSI text of amount × 10^exp (amount ≥ 0): factors of ten removed, exponent a multiple of three. */
function decimal(amount: bigint, exp: number): string {
  if (amount === 0n) return "0";
  while (amount % 10n === 0n) {
    amount /= 10n;
    exp++;
  }
  const r = ((exp % 3) + 3) % 3;
  if (r === 1) {
    amount *= 10n;
    exp -= 1;
  } else if (r === 2) {
    amount *= 100n;
    exp -= 2;
  }
  const suffix = DECIMAL_SUFFIX[exp];
  return suffix === undefined ? `${amount}e${exp}` : `${amount}${suffix}`;
}

/** A cpu quantity from billionths of a core (negative and fractional inputs are truncated to 0 and whole nanocores). */
export function nanoCoresQuantity(nanoCores: number): string {
  return decimal(BigInt(Math.max(0, Math.trunc(nanoCores))), -9);
}

/** A memory quantity from bytes. */
export function bytesQuantity(bytes: number): string {
  let amount = BigInt(Math.max(0, Math.trunc(bytes)));
  if (amount < 1024n) return decimal(amount, 0);
  let times = 0;
  while (times < BINARY_SUFFIX.length - 1 && amount % 1024n === 0n) {
    amount /= 1024n;
    times++;
  }
  return `${amount}${BINARY_SUFFIX[times]}`;
}
