/**
 * The grpc handler (upstream pkg/probe/grpc): one
 * `grpc.health.v1.Health/Check` call over plaintext HTTP/2, with the
 * request and response protobufs encoded by hand (HealthCheckRequest is
 * `string service = 1`; HealthCheckResponse is `ServingStatus status = 1`,
 * SERVING = 1), so no gRPC library is needed. Outcomes and messages are
 * upstream's: `service healthy`, `service unhealthy (responded with
 * "NOT_SERVING")`, `timeout: failed to connect service "H:P" within 1s: …`,
 * `error: this server does not implement the grpc health protocol …`.
 */
import * as http2 from "node:http2";
import { STATUS_CODES } from "node:http";
import { goDuration } from "../go-format.js";
import { userAgent } from "./http-get.js";
import { joinHostPort } from "./port.js";
import { type HandlerOutcome, outcome } from "./types.js";

const CHECK_PATH = "/grpc.health.v1.Health/Check";

/** gRPC status code names (codes.Code.String()). */
const CODE_NAMES = [
  "OK",
  "Canceled",
  "Unknown",
  "InvalidArgument",
  "DeadlineExceeded",
  "NotFound",
  "AlreadyExists",
  "PermissionDenied",
  "ResourceExhausted",
  "FailedPrecondition",
  "Aborted",
  "OutOfRange",
  "Unimplemented",
  "Internal",
  "Unavailable",
  "DataLoss",
  "Unauthenticated",
];
const UNIMPLEMENTED = 12;
const DEADLINE_EXCEEDED = 4;

/** HealthCheckResponse.ServingStatus names. */
const SERVING_STATUS = ["UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"];
const SERVING = 1;

function varint(n: number): Buffer {
  const out: number[] = [];
  let v = n;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return Buffer.from(out);
}

/** A length-prefixed gRPC message carrying HealthCheckRequest{service}. */
export function encodeHealthCheckRequest(service: string): Buffer {
  const s = Buffer.from(service, "utf8");
  // proto3 leaves a default (empty) field out.
  const msg = s.length === 0 ? Buffer.alloc(0) : Buffer.concat([Buffer.from([0x0a]), varint(s.length), s]);
  const prefix = Buffer.alloc(5);
  prefix.writeUInt8(0, 0);
  prefix.writeUInt32BE(msg.length, 1);
  return Buffer.concat([prefix, msg]);
}

function readVarint(buf: Buffer, at: number): [number, number] | undefined {
  let value = 0;
  let mul = 1;
  for (let i = at; i < buf.length && i < at + 10; i++) {
    const b = buf[i]!;
    value += (b & 0x7f) * mul;
    mul *= 128;
    if ((b & 0x80) === 0) return [value, i + 1];
  }
  return undefined;
}

/**
 * The `status` of a length-prefixed HealthCheckResponse (0, UNKNOWN, when
 * absent), or an error text when the bytes are not one.
 */
export function decodeHealthCheckResponse(data: Buffer): { ok: true; status: number } | { ok: false; error: string } {
  if (data.length < 5) return { ok: false, error: "grpc: received an incomplete message" };
  if (data[0] !== 0) return { ok: false, error: "grpc: compressed responses are not supported by the probe" };
  const len = data.readUInt32BE(1);
  if (data.length < 5 + len) return { ok: false, error: "grpc: received an incomplete message" };
  const msg = data.subarray(5, 5 + len);
  let status = 0;
  let i = 0;
  while (i < msg.length) {
    const tag = readVarint(msg, i);
    if (!tag) return { ok: false, error: "proto: cannot parse invalid wire-format data" };
    const [key, next] = tag;
    const field = Math.floor(key / 8);
    const wire = key & 7;
    i = next;
    if (wire === 0) {
      const v = readVarint(msg, i);
      if (!v) return { ok: false, error: "proto: cannot parse invalid wire-format data" };
      if (field === 1) status = v[0];
      i = v[1];
    } else if (wire === 2) {
      const l = readVarint(msg, i);
      if (!l) return { ok: false, error: "proto: cannot parse invalid wire-format data" };
      i = l[1] + l[0];
    } else if (wire === 1) i += 8;
    else if (wire === 5) i += 4;
    else return { ok: false, error: "proto: cannot parse invalid wire-format data" };
  }
  if (i > msg.length) return { ok: false, error: "proto: cannot parse invalid wire-format data" };
  return { ok: true, status };
}

/** grpc-go's code for a non-200 HTTP status. */
function codeForHttpStatus(status: number): number {
  switch (status) {
    case 400:
      return 13;
    case 401:
      return 16;
    case 403:
      return 7;
    case 404:
      return UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
      return 14;
    default:
      return 2;
  }
}

function decodeGrpcMessage(m: string | string[] | undefined): string {
  const s = Array.isArray(m) ? m[0] ?? "" : m ?? "";
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function sleepMs(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.max(0, ms)));
}

/** Opens an HTTP/2 session, retrying refused connections until the deadline as grpc-go's blocking dial does. */
async function dial(authority: string, deadline: number): Promise<http2.ClientHttp2Session | undefined> {
  for (;;) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) return undefined;
    const session = await new Promise<http2.ClientHttp2Session | undefined>((resolve) => {
      const s = http2.connect(`http://${authority}`);
      const timer = setTimeout(() => {
        s.destroy();
        resolve(undefined);
      }, remaining);
      s.once("connect", () => {
        clearTimeout(timer);
        s.removeAllListeners("error");
        // Later session errors end the call through the stream.
        s.on("error", () => {});
        resolve(s);
      });
      s.once("error", () => {
        clearTimeout(timer);
        s.destroy();
        resolve(undefined);
      });
    });
    if (session) return session;
    // grpc-go reconnects after a back-off of about a second.
    await sleepMs(Math.min(1000, deadline - Date.now()));
  }
}

type CallResult = { kind: "ok"; data: Buffer } | { kind: "status"; code: number; message: string } | { kind: "timeout" };

function call(session: http2.ClientHttp2Session, authority: string, service: string, deadline: number): Promise<CallResult> {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (r: CallResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(r);
    };
    const remaining = Math.max(1, deadline - Date.now());
    const timer = setTimeout(() => {
      stream.close(http2.constants.NGHTTP2_CANCEL);
      finish({ kind: "timeout" });
    }, remaining);
    const stream = session.request({
      ":method": "POST",
      ":scheme": "http",
      ":path": CHECK_PATH,
      ":authority": authority,
      "content-type": "application/grpc",
      te: "trailers",
      "user-agent": userAgent("probe"),
      "grpc-timeout": `${remaining}m`,
    });
    const chunks: Buffer[] = [];
    let httpStatus = 0;
    let grpcStatus: number | undefined;
    let grpcMessage = "";
    const readStatus = (h: http2.IncomingHttpHeaders) => {
      if (h["grpc-status"] !== undefined) {
        grpcStatus = Number(h["grpc-status"]);
        grpcMessage = decodeGrpcMessage(h["grpc-message"]);
      }
    };
    stream.on("response", (h) => {
      httpStatus = Number(h[":status"] ?? 0);
      readStatus(h);
    });
    stream.on("trailers", readStatus);
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("error", (err) => finish({ kind: "status", code: 14, message: err.message }));
    stream.on("close", () => {
      if (httpStatus !== 200 && httpStatus !== 0) {
        const code = codeForHttpStatus(httpStatus);
        return finish({ kind: "status", code, message: `unexpected HTTP status code received from server: ${httpStatus} (${STATUS_CODES[httpStatus] ?? ""})` });
      }
      if (grpcStatus === undefined) return finish({ kind: "status", code: 13, message: "server closed the stream without sending trailers" });
      if (grpcStatus !== 0) return finish({ kind: "status", code: grpcStatus, message: grpcMessage });
      finish({ kind: "ok", data: Buffer.concat(chunks) });
    });
    stream.end(encodeHealthCheckRequest(service));
  });
}

/** Calls Health/Check for `service` on `host:port` within `timeoutMs`. */
export async function grpcProbe(host: string, service: string, port: number, timeoutMs: number): Promise<HandlerOutcome> {
  const authority = joinHostPort(host, port);
  const deadline = Date.now() + timeoutMs;
  const timeout = goDuration(timeoutMs);
  const session = await dial(authority, deadline);
  if (!session) return outcome.failure(`timeout: failed to connect service ${JSON.stringify(authority)} within ${timeout}: context deadline exceeded`);
  try {
    const r = await call(session, authority, service, deadline);
    if (r.kind === "timeout") return outcome.failure(`timeout: health rpc did not complete within ${timeout}`);
    if (r.kind === "status") {
      if (r.code === UNIMPLEMENTED) return outcome.failure(`error: this server does not implement the grpc health protocol (grpc.health.v1.Health): ${r.message}`);
      if (r.code === DEADLINE_EXCEEDED) return outcome.failure(`timeout: health rpc did not complete within ${timeout}`);
      return outcome.failure(`error: health rpc probe failed: rpc error: code = ${CODE_NAMES[r.code] ?? `Code(${r.code})`} desc = ${r.message}`);
    }
    const decoded = decodeHealthCheckResponse(r.data);
    if (!decoded.ok) return outcome.failure(`error: health rpc probe failed: rpc error: code = Internal desc = ${decoded.error}`);
    if (decoded.status !== SERVING) {
      return outcome.failure(`service unhealthy (responded with ${JSON.stringify(SERVING_STATUS[decoded.status] ?? String(decoded.status))})`);
    }
    return outcome.success("service healthy");
  } finally {
    session.destroy();
  }
}
