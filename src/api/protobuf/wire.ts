/**
 * The protobuf wire format, read-only: a message is a sequence of
 * (field number, wire type, value) records. Only what Kubernetes' gogo-generated
 * messages use is supported (varint, 64-bit, length-delimited, 32-bit); a
 * malformed buffer throws a ProtobufError, which callers turn into a 400.
 */

/** A malformed protobuf buffer; the message says what is wrong. */
export class ProtobufError extends Error {}

export const WIRE_VARINT = 0;
export const WIRE_FIXED64 = 1;
export const WIRE_BYTES = 2;
export const WIRE_FIXED32 = 5;

/** One record of a message. `varint` is set for wire type 0, `bytes` for 1, 2 and 5 (the raw value). */
export type WireField = {
  readonly no: number;
  readonly wire: number;
  readonly varint?: bigint;
  readonly bytes?: Uint8Array;
};

/** Reads a varint at `at`; returns the value and the next offset. */
export function readVarint(buf: Uint8Array, at: number): [bigint, number] {
  let v = 0n;
  let shift = 0n;
  for (let i = at; ; i++) {
    if (i >= buf.length) throw new ProtobufError("unexpected end of buffer in a varint");
    if (shift > 63n) throw new ProtobufError("varint overflows 64 bits");
    const b = buf[i]!;
    v |= BigInt(b & 0x7f) << shift;
    if ((b & 0x80) === 0) return [v, i + 1];
    shift += 7n;
  }
}

/** Splits a message into its records, in wire order. */
export function readFields(buf: Uint8Array): WireField[] {
  const out: WireField[] = [];
  let i = 0;
  while (i < buf.length) {
    const [key, next] = readVarint(buf, i);
    i = next;
    const no = Number(key >> 3n);
    const wire = Number(key & 7n);
    if (no === 0) throw new ProtobufError("illegal field number 0");
    switch (wire) {
      case WIRE_VARINT: {
        const [v, after] = readVarint(buf, i);
        out.push({ no, wire, varint: v });
        i = after;
        break;
      }
      case WIRE_FIXED64:
      case WIRE_FIXED32: {
        const len = wire === WIRE_FIXED64 ? 8 : 4;
        if (i + len > buf.length) throw new ProtobufError(`unexpected end of buffer in field ${no}`);
        out.push({ no, wire, bytes: buf.subarray(i, i + len) });
        i += len;
        break;
      }
      case WIRE_BYTES: {
        const [len, after] = readVarint(buf, i);
        if (after + Number(len) > buf.length) throw new ProtobufError(`unexpected end of buffer in field ${no} (length ${len})`);
        out.push({ no, wire, bytes: buf.subarray(after, after + Number(len)) });
        i = after + Number(len);
        break;
      }
      default:
        // Groups (3, 4) are proto2 relics Kubernetes never emits; 6 and 7 are invalid.
        throw new ProtobufError(`unsupported wire type ${wire} in field ${no}`);
    }
  }
  return out;
}
