/**
 * The Kubernetes protobuf envelope (`application/vnd.kubernetes.protobuf`):
 * the 4 magic bytes `k8s\0`, then a runtime.Unknown {typeMeta = 1
 * {apiVersion = 1, kind = 2}, raw = 2, contentEncoding = 3, contentType = 4}
 * whose `raw` is the object's message. client-go 1.32+ (kubectl 1.32+) sends
 * every typed write this way.
 */
import { decodeMessage, setNestedEnvelopeDecoder } from "./decode.js";
import { messageForKind } from "./schemas.js";
import { ProtobufError, readFields, WIRE_BYTES } from "./wire.js";

export const PROTOBUF_MEDIA_TYPE = "application/vnd.kubernetes.protobuf";
const MAGIC = [0x6b, 0x38, 0x73, 0x00];
const utf8 = new TextDecoder();

/** A well-formed envelope whose apiVersion/kind no schema knows (upstream: not registered in the scheme). */
export class UnknownKindError extends Error {
  constructor(
    readonly apiVersion: string,
    readonly kind: string,
  ) {
    super(`no kind "${kind}" is registered for version "${apiVersion}"`);
  }
}

function decodeEnvelope(body: Uint8Array, depth: number): Record<string, unknown> {
  if (body.length < MAGIC.length || MAGIC.some((b, i) => body[i] !== b)) {
    throw new ProtobufError("the body does not start with the Kubernetes protobuf prefix (k8s\\x00)");
  }
  let apiVersion = "";
  let kind = "";
  let raw: Uint8Array = new Uint8Array();
  let contentEncoding = "";
  let contentType = "";
  for (const f of readFields(body.subarray(MAGIC.length))) {
    if (f.wire !== WIRE_BYTES) continue;
    if (f.no === 1) {
      for (const t of readFields(f.bytes!)) {
        if (t.wire !== WIRE_BYTES) continue;
        if (t.no === 1) apiVersion = utf8.decode(t.bytes);
        if (t.no === 2) kind = utf8.decode(t.bytes);
      }
    } else if (f.no === 2) raw = f.bytes!;
    else if (f.no === 3) contentEncoding = utf8.decode(f.bytes);
    else if (f.no === 4) contentType = utf8.decode(f.bytes);
  }
  if (contentEncoding !== "") throw new ProtobufError(`unsupported content encoding "${contentEncoding}"`);
  if (contentType !== "" && contentType !== PROTOBUF_MEDIA_TYPE) throw new ProtobufError(`unsupported embedded content type "${contentType}"`);
  if (kind === "") throw new ProtobufError("the envelope has no kind");
  const message = messageForKind(apiVersion, kind);
  if (!message) throw new UnknownKindError(apiVersion, kind);
  const obj = decodeMessage(message, raw, depth) as Record<string, unknown>;
  return { apiVersion, kind, ...obj };
}

setNestedEnvelopeDecoder(decodeEnvelope);

/**
 * Decodes a protobuf request body into the JSON object a JSON client would
 * have sent. Throws ProtobufError for malformed input and UnknownKindError
 * for a kind without a schema; callers answer 400 for both.
 */
export function decodeKubernetesProtobuf(body: Uint8Array): Record<string, unknown> {
  return decodeEnvelope(body, 0);
}
