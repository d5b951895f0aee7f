/**
 * Request bodies: read with a size limit (3 MiB, upstream's
 * --max-request-body-bytes default) and decoded from JSON, YAML or (for
 * built-in kinds) Kubernetes protobuf.
 */
import type { IncomingMessage } from "node:http";
import { parse as parseYaml } from "yaml";
import { decodeKubernetesProtobuf, PROTOBUF_MEDIA_TYPE, UnknownKindError } from "../../api/protobuf/envelope.js";
import { ProtobufError } from "../../api/protobuf/wire.js";
import { badRequest, requestEntityTooLarge, unsupportedMediaType } from "../../machinery/status-error.js";

export const MAX_BODY_BYTES = 3 * 1024 * 1024;
/** Oversized bodies up to this size are drained before the 413 goes out. */
const DRAIN_LIMIT = 64 * 1024 * 1024;

/** Reads the whole body; 413 past the limit (without buffering the rest). */
export async function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Buffer> {
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > limit) {
    // Read (and drop) a moderately oversized body before answering, so the
    // client sees the 413 instead of a connection reset mid-upload.
    if (declared <= DRAIN_LIMIT) for await (const _ of req);
    else req.resume();
    throw requestEntityTooLarge(`request entity too large: limit is ${limit} bytes`);
  }
  if (req.readableEnded) return Buffer.alloc(0);
  // Listeners rather than `for await`: every write request reads a body, and a
  // stream's async iterator costs more to set up than reading a small body.
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (err?: unknown) => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
      req.off("close", onClose);
      if (err) reject(err);
      else resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        done(requestEntityTooLarge(`request entity too large: limit is ${limit} bytes`));
        req.resume();
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => done();
    const onError = (err: Error) => done(err);
    // The connection went before the body ended (the iterator's premature close).
    const onClose = () => done(Object.assign(new Error("Premature close"), { code: "ERR_STREAM_PREMATURE_CLOSE" }));
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
    req.on("close", onClose);
  });
}

/** The media type of a request (lower-cased, parameters dropped). */
export function contentTypeOf(req: IncomingMessage): string {
  return (req.headers["content-type"] ?? "application/json").split(";")[0]!.trim().toLowerCase();
}

/** Nesting limit of decoded bodies, as upstream's JSON decoder (sigs.k8s.io/json). */
export const MAX_DEPTH = 10_000;

/** Depth of a decoded value, measured without recursion (a deep body must not overflow the stack). */
function depthOf(root: unknown): number {
  let max = 0;
  const stack: [unknown, number][] = [[root, 1]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== "object") continue;
    if (d > max) max = d;
    if (max > MAX_DEPTH) return max;
    for (const child of Object.values(v as Record<string, unknown>)) stack.push([child, d + 1]);
  }
  return max;
}

/** What the endpoints of custom resources decode (upstream serves CRDs without protobuf). */
export const JSON_MEDIA_TYPES: readonly string[] = ["application/json", "application/yaml"];
/** What the endpoints of built-in kinds decode, in upstream's order (its 415 lists them). */
export const BUILTIN_MEDIA_TYPES: readonly string[] = ["application/json", "application/yaml", PROTOBUF_MEDIA_TYPE];

/** A protobuf body as the JSON object a JSON client would have sent; 400 for malformed input or an unknown kind. */
function decodeProtobuf(body: Buffer): Record<string, unknown> {
  if (body.length === 0) throw badRequest("the request body is empty; send a protobuf-encoded object");
  try {
    return decodeKubernetesProtobuf(body);
  } catch (err) {
    if (err instanceof UnknownKindError) throw badRequest(err.message);
    if (err instanceof ProtobufError) throw badRequest(`the request body could not be decoded as protobuf: ${err.message}`);
    throw err;
  }
}

/**
 * Decodes an object body: JSON, YAML, or Kubernetes protobuf where `accepted`
 * lists it; 400 for malformed or too deeply nested input, 415 for other media types.
 */
export function decodeObject(body: Buffer, contentType: string, accepted: readonly string[] = JSON_MEDIA_TYPES): unknown {
  if (!accepted.includes(contentType)) throw unsupportedMediaType(accepted);
  if (contentType === PROTOBUF_MEDIA_TYPE) return decodeProtobuf(body);
  const text = body.toString("utf8");
  // No trimmed copy of every body: \s is exactly the set trim() removes, and the search stops at the first other character.
  if (!/\S/.test(text)) throw badRequest("the request body is empty; send a JSON or YAML object");
  let value: unknown;
  try {
    value = contentType === "application/yaml" || contentType === "application/apply-patch+yaml" ? parseYaml(text) : JSON.parse(text);
  } catch (err) {
    throw badRequest(`the request body could not be decoded: ${(err as Error).message}`);
  }
  // Every level of JSON nesting opens with a character of its own: text no longer than the limit
  // cannot nest deeper, so only longer (or YAML) bodies are walked.
  const json = contentType !== "application/yaml" && contentType !== "application/apply-patch+yaml";
  if ((!json || text.length > MAX_DEPTH) && depthOf(value) > MAX_DEPTH) {
    throw badRequest(`the request body could not be decoded: exceeded max depth of ${MAX_DEPTH}`);
  }
  return value;
}

/** Checks that a decoded body is a JSON object. */
export function requireObject(v: unknown): Record<string, unknown> {
  if (v === null || typeof v !== "object" || Array.isArray(v)) {
    throw badRequest("the request body must be a JSON or YAML object");
  }
  return v as Record<string, unknown>;
}
