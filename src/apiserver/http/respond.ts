/** Writing responses: JSON or YAML bodies and Status errors. */
import type { ServerResponse } from "node:http";
import { stringify as toYaml } from "yaml";
import { internalError, serviceUnavailable, type Status, StatusError } from "../../machinery/status-error.js";
import { StoreUnavailableError } from "../../storage/errors.js";
import type { Rendering } from "../negotiation.js";

/** Sends `body` with `code`, as JSON unless the rendering asks for YAML. */
export function send(res: ServerResponse, code: number, body: unknown, rendering?: Rendering, contentType?: string): void {
  if (res.headersSent) return;
  if (rendering?.kind === "yaml") {
    const text = toYaml(body);
    res.writeHead(code, { "Content-Type": "application/yaml", "Content-Length": Buffer.byteLength(text) });
    res.end(text);
    return;
  }
  // One UTF-8 encoding: the length is the buffer's, not a second scan of the string.
  sendJson(res, code, Buffer.from(JSON.stringify(body)), contentType);
}

/** Sends JSON that is already bytes (an object's stored encoding). */
export function sendJson(res: ServerResponse, code: number, json: Buffer, contentType?: string): void {
  if (res.headersSent) return;
  res.writeHead(code, { "Content-Type": contentType ?? "application/json", "Content-Length": json.length });
  res.end(json);
}

/** Turns any error into a Status response; unexpected ones become 500 and are logged by the caller. */
export function toStatus(err: unknown): Status {
  if (err instanceof StatusError) return err.status;
  // The store cannot answer (etcd without quorum or unreachable): the request may succeed later, as upstream's 503.
  if (err instanceof StoreUnavailableError) return serviceUnavailable(err.message).status;
  return internalError((err as Error)?.message ?? String(err)).status;
}

export function sendError(res: ServerResponse, err: unknown): void {
  const status = toStatus(err);
  if (status.code === 429 || status.code === 504) {
    const retry = status.details?.retryAfterSeconds;
    if (retry && !res.headersSent) res.setHeader("Retry-After", String(retry));
  }
  send(res, status.code, status);
}
