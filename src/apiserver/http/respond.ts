/** Writing responses: JSON or YAML bodies and Status errors. */
import type { ServerResponse } from "node:http";
import { stringify as toYaml } from "yaml";
import { internalError, type Status, StatusError } from "../../machinery/status-error.js";
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
  const text = JSON.stringify(body);
  res.writeHead(code, { "Content-Type": contentType ?? "application/json", "Content-Length": Buffer.byteLength(text) });
  res.end(text);
}

/** Turns any error into a Status response; unexpected ones become 500 and are logged by the caller. */
export function toStatus(err: unknown): Status {
  if (err instanceof StatusError) return err.status;
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
