/**
 * apimachinery messages whose JSON form is not an object of their fields:
 * Quantity, IntOrString, Time, MicroTime, Duration (custom MarshalJSON
 * upstream). RawExtension lives in decode.ts (it may hold a nested envelope).
 */
import { ProtobufError, readFields, WIRE_BYTES, WIRE_VARINT, type WireField } from "./wire.js";

const utf8 = new TextDecoder();

function lastVarint(fields: WireField[], no: number): bigint {
  let v = 0n;
  for (const f of fields) {
    if (f.no !== no) continue;
    if (f.wire !== WIRE_VARINT) throw new ProtobufError(`field ${no}: expected a varint`);
    v = f.varint!;
  }
  return v;
}

function lastString(fields: WireField[], no: number): string {
  let v = "";
  for (const f of fields) {
    if (f.no !== no) continue;
    if (f.wire !== WIRE_BYTES) throw new ProtobufError(`field ${no}: expected a length-delimited value`);
    v = utf8.decode(f.bytes);
  }
  return v;
}

/** resource.Quantity {string = 1}: its canonical string ("0" for the zero Quantity, as Go marshals it). */
function quantity(buf: Uint8Array): string {
  return lastString(readFields(buf), 1) || "0";
}

/** intstr.IntOrString {type = 1 (0 int, 1 string), intVal = 2, strVal = 3}. */
function intOrString(buf: Uint8Array): number | string {
  const f = readFields(buf);
  return lastVarint(f, 1) === 1n ? lastString(f, 3) : Number(BigInt.asIntN(32, lastVarint(f, 2)));
}

/** `2006-01-02T15:04:05Z` (and `.000000` micro digits for MicroTime), UTC. */
function rfc3339(seconds: bigint, nanos: number, micro: boolean): string {
  const iso = new Date(Number(seconds) * 1000).toISOString(); // 2006-01-02T15:04:05.000Z
  const base = iso.slice(0, 19);
  return micro ? `${base}.${String(Math.floor(nanos / 1000)).padStart(6, "0")}Z` : `${base}Z`;
}

/** meta.Time / MicroTime {seconds = 1, nanos = 2}; the zero time is JSON null, as Go marshals it. */
function time(buf: Uint8Array, micro: boolean): string | null {
  const f = readFields(buf);
  const seconds = BigInt.asIntN(64, lastVarint(f, 1));
  const nanos = Number(BigInt.asIntN(32, lastVarint(f, 2)));
  if (seconds === 0n && nanos === 0) return null;
  if (nanos < 0 || nanos > 999_999_999) throw new ProtobufError(`time: nanos ${nanos} out of range`);
  // Go's Time.MarshalJSON refuses years outside [0, 9999].
  if (seconds < -62167219200n || seconds > 253402300799n) throw new ProtobufError("time: year outside of range [0,9999]");
  return rfc3339(seconds, nanos, micro);
}

/** Go's time.Duration.String(): `1h2m3.5s`, `150ms`, `0s`. */
export function goDuration(nanos: bigint): string {
  if (nanos === 0n) return "0s";
  const neg = nanos < 0n;
  let u = neg ? -nanos : nanos;
  const sign = neg ? "-" : "";
  const frac = (v: bigint, digits: number): string => {
    // v holds `digits` fractional digits; trailing zeros go, as Go prints them.
    const s = v.toString().padStart(digits, "0").replace(/0+$/, "");
    return s ? `.${s}` : "";
  };
  if (u < 1_000_000_000n) {
    if (u < 1_000n) return `${sign}${u}ns`;
    if (u < 1_000_000n) return `${sign}${u / 1_000n}${frac(u % 1_000n, 3)}µs`;
    return `${sign}${u / 1_000_000n}${frac(u % 1_000_000n, 6)}ms`;
  }
  let out = `${u % 60_000_000_000n / 1_000_000_000n}${frac(u % 1_000_000_000n, 9)}s`;
  u /= 60_000_000_000n;
  if (u > 0n) {
    out = `${u % 60n}m${out}`;
    u /= 60n;
    if (u > 0n) out = `${u}h${out}`;
  }
  return sign + out;
}

/** meta.Duration {duration = 1 (nanoseconds)}. */
function duration(buf: Uint8Array): string {
  return goDuration(BigInt.asIntN(64, lastVarint(readFields(buf), 1)));
}

/** Decoders of the messages with a custom JSON form, by full name. */
export const WELL_KNOWN: Readonly<Record<string, (buf: Uint8Array) => unknown>> = {
  "k8s.io.apimachinery.pkg.api.resource.Quantity": quantity,
  "k8s.io.apimachinery.pkg.util.intstr.IntOrString": intOrString,
  "k8s.io.apimachinery.pkg.apis.meta.v1.Time": (b) => time(b, false),
  "k8s.io.apimachinery.pkg.apis.meta.v1.MicroTime": (b) => time(b, true),
  "k8s.io.apimachinery.pkg.apis.meta.v1.Duration": duration,
};
