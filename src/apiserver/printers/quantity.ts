/**
 * resource.Quantity's canonical string (k8s.io/apimachinery/pkg/api/resource):
 * what `Quantity.String()` prints in PV/PVC capacity, quota and HPA cells.
 * "1024Mi" prints as "1Gi", "1000m" as "1", "0.5" as "500m", "1.5Gi" as
 * "1536Mi"; values finer than 1n round up to 1n, as ParseQuantity does.
 */

type Format = "DecimalSI" | "BinarySI" | "DecimalExponent";

interface Parsed {
  /** value = mantissa * 10^exp10 */
  mantissa: bigint;
  exp10: number;
  format: Format;
  /**
   * ParseQuantity keeps the input string when it is already in a canonical-looking
   * form (its fast path), and String() then prints it verbatim: "+2", "1.500".
   */
  cached: boolean;
}

const BINARY: Record<string, number> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };
const DECIMAL: Record<string, number> = { n: -9, u: -6, m: -3, "": 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const DECIMAL_SUFFIX: Record<number, string> = Object.fromEntries(Object.entries(DECIMAL).map(([s, e]) => [e, s]));
const BINARY_SUFFIX = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];

/** sign, leading zeros, numerator digits, optional "." and denominator digits, suffix. */
const QUANTITY = /^([+-]?)0*([0-9]*)(?:\.([0-9]*))?(.*)$/;
const MAX_INT64 = 2n ** 63n - 1n;

function pow10(n: number): bigint {
  return 10n ** BigInt(n);
}

/** ParseQuantity, keeping the exact value; undefined where upstream returns an error. */
export function parseQuantity(text: string): Parsed | undefined {
  const str = text.trim();
  if (str === "") return undefined;
  if (str === "0") return { mantissa: 0n, exp10: 0, format: "DecimalSI", cached: true };
  const m = QUANTITY.exec(str);
  if (!m) return undefined;
  const [, sign, numDigits = "", denom = "", suffix = ""] = m;
  const num = numDigits === "" ? "0" : numDigits;
  let format: Format;
  let exponent: number;
  if (suffix in BINARY) {
    format = "BinarySI";
    exponent = BINARY[suffix]!;
  } else if (suffix in DECIMAL) {
    format = "DecimalSI";
    exponent = DECIMAL[suffix]!;
  } else if (/^[eE][+-]?[0-9]+$/.test(suffix)) {
    format = "DecimalExponent";
    exponent = Number.parseInt(suffix.slice(1), 10);
  } else {
    return undefined;
  }
  const shifted = num + denom;
  const digits = BigInt(shifted);

  // The fast path of ParseQuantity, which decides whether the input string is kept.
  let cached = false;
  let precision: number;
  let scale: number;
  let multiplier = 1n;
  if (format === "BinarySI") {
    scale = 0;
    if (denom.length === 0) {
      multiplier = 2n ** BigInt(exponent);
      precision = 15 - num.length - Math.trunc((exponent * 3) / 10) - 1;
    } else {
      precision = -1;
    }
  } else {
    scale = exponent;
    precision = 18 - (num.length + denom.length);
  }
  if (precision >= 0) {
    scale -= denom.length;
    if (scale >= -9 && digits * multiplier <= MAX_INT64) {
      if (format === "BinarySI") cached = exponent % 10 === 0 && (digits & 7n) !== 0n;
      else cached = scale % 3 === 0 && !shifted.endsWith("000") && shifted[0] !== "0";
    }
  }

  let mantissa = digits;
  let exp10 = -denom.length;
  if (format === "BinarySI") mantissa *= 2n ** BigInt(exponent);
  else exp10 += exponent;
  // Round non-zero values up (away from zero) to nano precision.
  if (exp10 < -9 && mantissa !== 0n) {
    const d = pow10(-9 - exp10);
    mantissa = (mantissa + d - 1n) / d;
    exp10 = -9;
  }
  if (sign === "-") mantissa = -mantissa;
  return { mantissa, exp10, format, cached };
}

function abs(x: bigint): bigint {
  return x < 0n ? -x : x;
}

/** Quantity.String() of an exact parsed value (CanonicalizeBytes). */
function canonical(q: Parsed): string {
  let { mantissa, exp10 } = q;
  if (mantissa === 0n) return "0";
  let format = q.format;
  if (format === "BinarySI") {
    const integral = exp10 >= 0 || mantissa % pow10(-exp10) === 0n;
    const value = exp10 >= 0 ? mantissa * pow10(exp10) : mantissa / pow10(-exp10);
    if (!integral || abs(value) < 1024n) {
      format = "DecimalSI";
    } else {
      let amount = abs(value);
      let times = 0;
      while (times < BINARY_SUFFIX.length - 1 && amount >= 1024n && amount % 1024n === 0n) {
        amount /= 1024n;
        times++;
      }
      return `${value < 0n ? "-" : ""}${amount}${BINARY_SUFFIX[times]}`;
    }
  }
  // Remove factors of ten, then make the exponent a multiple of three.
  let amount = abs(mantissa);
  while (amount >= 10n && amount % 10n === 0n) {
    amount /= 10n;
    exp10++;
  }
  switch (exp10 % 3) {
    case 1:
    case -2:
      amount *= 10n;
      exp10 -= 1;
      break;
    case 2:
    case -1:
      amount *= 100n;
      exp10 -= 2;
      break;
  }
  const number = `${mantissa < 0n ? "-" : ""}${amount}`;
  if (format === "DecimalExponent") return exp10 === 0 ? number : `${number}e${exp10}`;
  const suffix = DECIMAL_SUFFIX[exp10];
  return suffix === undefined ? `${number}e${exp10}` : `${number}${suffix}`;
}

/**
 * The canonical string of a quantity as it appears in an object (a string, or
 * a number when a client sent JSON numbers). An unset quantity is Go's zero
 * Quantity, "0"; an unparseable one is returned as given.
 */
export function quantityString(q: string | number | null | undefined): string {
  if (q === undefined || q === null) return "0";
  const text = typeof q === "number" ? String(q) : q;
  const parsed = parseQuantity(text);
  if (!parsed) return text;
  return parsed.cached ? text.trim() : canonical(parsed);
}

/** String() of a *Quantity: "<nil>" when the pointer is nil. */
export function quantityPtrString(q: string | number | null | undefined): string {
  if (q === undefined || q === null) return "<nil>";
  return quantityString(q);
}
