/**
 * Decodes a Kubernetes protobuf message into the JSON object a JSON client
 * would have sent for the same Go struct: field names from the schemas,
 * well-known types in their JSON forms, inline structs spliced into their
 * parent, and the zero scalars gogo-protobuf always writes dropped where
 * Go's `omitempty` would have left them out (see pointer-fields.ts).
 */
import { POINTER_SCALARS, pointerKey } from "./pointer-fields.js";
import { type FieldSchema, messageSchema } from "./schemas.js";
import { WELL_KNOWN } from "./well-known.js";
import { ProtobufError, readFields, readVarint, WIRE_BYTES, WIRE_FIXED32, WIRE_FIXED64, WIRE_VARINT, type WireField } from "./wire.js";

/** Kubernetes objects nest a few dozen levels; anything deeper is hostile input, refused before the stack runs out. */
export const MAX_MESSAGE_DEPTH = 200;

const RAW_EXTENSION = "k8s.io.apimachinery.pkg.runtime.RawExtension";
const utf8 = new TextDecoder();

/** Decodes nested envelopes inside a RawExtension (set by envelope.ts, which imports this module). */
let nestedEnvelope: ((buf: Uint8Array, depth: number) => unknown) | undefined;
export function setNestedEnvelopeDecoder(fn: (buf: Uint8Array, depth: number) => unknown): void {
  nestedEnvelope = fn;
}

const VARINT_TYPES = new Set(["int32", "int64", "uint32", "uint64", "sint32", "sint64", "bool"]);

function expectWire(f: WireField, want: number, field: FieldSchema): void {
  if (f.wire !== want) throw new ProtobufError(`field ${field.name} (${f.no}): wire type ${f.wire}, expected ${want}`);
}

function varintValue(type: string, v: bigint): number | boolean {
  switch (type) {
    case "bool":
      return v !== 0n;
    case "int32":
      return Number(BigInt.asIntN(32, v));
    case "int64":
      return Number(BigInt.asIntN(64, v));
    case "uint32":
      return Number(BigInt.asUintN(32, v));
    case "uint64":
      return Number(BigInt.asUintN(64, v));
    case "sint32":
    case "sint64":
      return Number((v >> 1n) ^ -(v & 1n));
    default:
      throw new ProtobufError(`type ${type} is not a varint`);
  }
}

function fixedValue(type: string, bytes: Uint8Array): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (type) {
    case "double":
      return view.getFloat64(0, true);
    case "float":
      return view.getFloat32(0, true);
    case "fixed32":
      return view.getUint32(0, true);
    case "sfixed32":
      return view.getInt32(0, true);
    case "fixed64":
      return Number(view.getBigUint64(0, true));
    case "sfixed64":
      return Number(view.getBigInt64(0, true));
    default:
      throw new ProtobufError(`type ${type} is not fixed-width`);
  }
}

const FIXED64_TYPES = new Set(["double", "fixed64", "sfixed64"]);
const FIXED32_TYPES = new Set(["float", "fixed32", "sfixed32"]);

/** One value of a scalar field (packed repeated values are handled by the caller). */
function scalar(type: string, f: WireField, field: FieldSchema): unknown {
  if (type === "string") {
    expectWire(f, WIRE_BYTES, field);
    return utf8.decode(f.bytes);
  }
  if (type === "bytes") {
    expectWire(f, WIRE_BYTES, field);
    return Buffer.from(f.bytes!).toString("base64");
  }
  if (VARINT_TYPES.has(type)) {
    expectWire(f, WIRE_VARINT, field);
    return varintValue(type, f.varint!);
  }
  expectWire(f, FIXED64_TYPES.has(type) ? WIRE_FIXED64 : WIRE_FIXED32, field);
  return fixedValue(type, f.bytes!);
}

/** The values of a packed repeated scalar field. */
function unpack(type: string, bytes: Uint8Array): unknown[] {
  const out: unknown[] = [];
  if (VARINT_TYPES.has(type)) {
    for (let i = 0; i < bytes.length; ) {
      const [v, next] = readVarint(bytes, i);
      out.push(varintValue(type, v));
      i = next;
    }
    return out;
  }
  const width = FIXED64_TYPES.has(type) ? 8 : FIXED32_TYPES.has(type) ? 4 : 0;
  if (width === 0 || bytes.length % width !== 0) throw new ProtobufError(`malformed packed ${type} field`);
  for (let i = 0; i < bytes.length; i += width) out.push(fixedValue(type, bytes.subarray(i, i + width)));
  return out;
}

const isScalar = (type: string) => !type.includes(".");

function isZero(v: unknown): boolean {
  return v === "" || v === 0 || v === false;
}

/** The zero value of a scalar type, as Go's JSON writes it. */
function zeroOf(type: string): unknown {
  if (type === "string" || type === "bytes") return "";
  if (type === "bool") return false;
  return 0;
}

function fieldValue(field: FieldSchema, type: string, f: WireField, depth: number): unknown {
  if (isScalar(type)) return scalar(type, f, field);
  expectWire(f, WIRE_BYTES, field);
  return decodeMessage(type, f.bytes!, depth + 1);
}

/** A map entry {key = 1, value = 2}; an absent key or value is its type's zero. */
function mapEntry(field: FieldSchema, bytes: Uint8Array, depth: number): [string, unknown] {
  let key: unknown = zeroOf(field.mapKey!);
  let value: unknown;
  for (const e of readFields(bytes)) {
    if (e.no === 1) key = scalar(field.mapKey!, e, field);
    else if (e.no === 2) value = fieldValue(field, field.type, e, depth);
  }
  if (value === undefined) value = isScalar(field.type) ? zeroOf(field.type) : decodeMessage(field.type, new Uint8Array(), depth + 1);
  return [String(key), value];
}

/** runtime.RawExtension {raw = 1}: the embedded JSON (or a nested protobuf envelope); null when empty, as Go marshals it. */
function rawExtension(buf: Uint8Array, depth: number): unknown {
  let raw: Uint8Array | undefined;
  for (const f of readFields(buf)) {
    if (f.no === 1 && f.wire === WIRE_BYTES) raw = f.bytes;
  }
  if (!raw || raw.length === 0) return null;
  if (raw[0] === 0x6b && raw[1] === 0x38 && raw[2] === 0x73 && raw[3] === 0 && nestedEnvelope) return nestedEnvelope(raw, depth + 1);
  try {
    return JSON.parse(utf8.decode(raw));
  } catch (err) {
    throw new ProtobufError(`RawExtension: the embedded object is not JSON: ${(err as Error).message}`);
  }
}

/** Decodes a message by full name into its JSON form. Unknown fields are skipped, as protobuf allows. */
export function decodeMessage(type: string, buf: Uint8Array, depth = 0): unknown {
  if (depth > MAX_MESSAGE_DEPTH) throw new ProtobufError(`message nesting exceeds ${MAX_MESSAGE_DEPTH} levels`);
  const special = WELL_KNOWN[type];
  if (special) return special(buf);
  if (type === RAW_EXTENSION) return rawExtension(buf, depth);
  const schema = messageSchema(type);
  if (!schema) throw new ProtobufError(`no schema for message ${type}`);
  const out: Record<string, unknown> = {};
  for (const f of readFields(buf)) {
    const field = schema.fields.get(f.no);
    if (!field) continue;
    if (field.mapKey) {
      expectWire(f, WIRE_BYTES, field);
      const [k, v] = mapEntry(field, f.bytes!, depth);
      ((out[field.name] ??= {}) as Record<string, unknown>)[k] = v;
    } else if (field.repeated) {
      const list = (out[field.name] ??= []) as unknown[];
      if (isScalar(field.type) && field.type !== "string" && field.type !== "bytes" && f.wire === WIRE_BYTES) list.push(...unpack(field.type, f.bytes!));
      else list.push(fieldValue(field, field.type, f, depth));
    } else {
      out[field.name] = fieldValue(field, field.type, f, depth);
    }
  }
  const pointers = POINTER_SCALARS[pointerKey(type)];
  for (const field of schema.fields.values()) {
    const v = out[field.name];
    if (v === undefined) {
      // A nil slice or map without omitempty: Go's JSON writes null.
      if (field.required && (field.repeated || field.mapKey)) out[field.name] = null;
      continue;
    }
    if (isScalar(field.type) && !field.repeated && !field.mapKey && isZero(v) && !field.required && !pointers?.includes(field.name)) {
      delete out[field.name];
    }
    if (field.inline) {
      delete out[field.name];
      if (v !== null && typeof v === "object") Object.assign(out, v);
    }
  }
  return out;
}
