/**
 * The distribution spec's error codes, with the HTTP status and default
 * message Docker's registry (distribution) uses for each, and the JSON
 * body shape `{"errors":[{"code","message","detail"}]}`.
 */
import type { ServerResponse } from "node:http";

/** Every error code this registry answers with. */
export const ERROR_CODES = {
  BLOB_UNKNOWN: { status: 404, message: "blob unknown to registry" },
  BLOB_UPLOAD_INVALID: { status: 400, message: "blob upload invalid" },
  BLOB_UPLOAD_UNKNOWN: { status: 404, message: "blob upload unknown to registry" },
  DIGEST_INVALID: { status: 400, message: "provided digest did not match uploaded content" },
  MANIFEST_BLOB_UNKNOWN: { status: 400, message: "blob unknown to registry" },
  MANIFEST_INVALID: { status: 400, message: "manifest invalid" },
  MANIFEST_UNKNOWN: { status: 404, message: "manifest unknown" },
  NAME_INVALID: { status: 400, message: "invalid repository name" },
  NAME_UNKNOWN: { status: 404, message: "repository name not known to registry" },
  SIZE_INVALID: { status: 400, message: "provided length did not match content length" },
  TAG_INVALID: { status: 400, message: "manifest tag did not match URI" },
  UNAUTHORIZED: { status: 401, message: "authentication required" },
  DENIED: { status: 403, message: "requested access to the resource is denied" },
  UNSUPPORTED: { status: 405, message: "The operation is unsupported." },
  PAGINATION_NUMBER_INVALID: { status: 400, message: "invalid number of results requested" },
  RANGE_INVALID: { status: 416, message: "invalid content range" },
  UNKNOWN: { status: 500, message: "unknown error" },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** An error a handler answers with; thrown inside handlers and turned into the JSON body by the server. */
export class RegistryError extends Error {
  readonly code: ErrorCode;
  readonly detail: unknown;
  readonly status: number;
  /** Extra response headers (for example `WWW-Authenticate`, `Content-Range`). */
  readonly headers: Record<string, string>;

  constructor(code: ErrorCode, opts: { message?: string; detail?: unknown; status?: number; headers?: Record<string, string> } = {}) {
    super(opts.message ?? ERROR_CODES[code].message);
    this.code = code;
    this.detail = opts.detail;
    this.status = opts.status ?? ERROR_CODES[code].status;
    this.headers = opts.headers ?? {};
  }
}

/** The JSON body for one error. */
export function errorBody(err: RegistryError): string {
  const e: { code: string; message: string; detail?: unknown } = { code: err.code, message: err.message };
  if (err.detail !== undefined) e.detail = err.detail;
  return JSON.stringify({ errors: [e] });
}

/** Writes `err` (body omitted for HEAD requests, as distribution does). */
export function writeError(res: ServerResponse, err: RegistryError, head: boolean): void {
  const body = errorBody(err);
  res.writeHead(err.status, {
    ...err.headers,
    "Content-Type": "application/json; charset=utf-8",
    "Content-Length": Buffer.byteLength(body),
  });
  res.end(head ? undefined : body);
}
