/**
 * The HTTP(S) requests a pull makes, over node:http/https so a registry's
 * CA, client certificate and insecure_skip_verify apply. Network failures
 * become {@link ImageError}s worded as containerd's (Go's net/http) so
 * users see familiar messages: `failed to do request: Get "URL": dial tcp
 * 127.0.0.1:5000: connect: connection refused` (Unavailable).
 */
import { readFileSync } from "node:fs";
import http, { type IncomingHttpHeaders, type IncomingMessage } from "node:http";
import https from "node:https";
import type { RegistryTls } from "./registry-config.js";
import { abortError, ImageError } from "./pull-error.js";

/** A response whose body has not been read yet. */
export interface HttpResponse {
  readonly status: number;
  readonly statusText: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: IncomingMessage;
  readonly url: string;
}

/** One request. */
export interface HttpRequest {
  readonly method: "GET" | "HEAD" | "POST";
  readonly url: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
  readonly tls?: RegistryTls;
  readonly signal?: AbortSignal;
}

/** Read per request, so a rotated CA or client certificate applies to the next pull. */
function tlsFile(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ImageError("FailedPrecondition", `failed to read TLS file ${path}: ${(err as Error).message}`);
  }
}

function goMethod(m: string): string {
  return m.charAt(0) + m.slice(1).toLowerCase();
}

/** Go's rendering of a dial error, for the common cases. */
function describeNetError(err: NodeJS.ErrnoException, u: URL): { code: "Unavailable" | "Unknown"; text: string } {
  const port = u.port || (u.protocol === "https:" ? "443" : "80");
  const addr = `${u.hostname}:${port}`;
  switch (err.code) {
    case "ECONNREFUSED":
      return { code: "Unavailable", text: `dial tcp ${addr}: connect: connection refused` };
    case "ENOTFOUND":
    case "EAI_AGAIN":
    case "EAI_NONAME":
      return { code: "Unavailable", text: `dial tcp: lookup ${u.hostname}: no such host` };
    case "EHOSTUNREACH":
      return { code: "Unavailable", text: `dial tcp ${addr}: connect: no route to host` };
    case "ENETUNREACH":
      return { code: "Unavailable", text: `dial tcp ${addr}: connect: network is unreachable` };
    case "ETIMEDOUT":
      return { code: "Unavailable", text: `dial tcp ${addr}: i/o timeout` };
    case "ECONNRESET":
      return { code: "Unavailable", text: `read tcp ${addr}: read: connection reset by peer` };
    case "EPIPE":
      return { code: "Unavailable", text: `write tcp ${addr}: write: broken pipe` };
    default:
      // TLS verification and protocol errors: not "try again later".
      return { code: "Unknown", text: err.message };
  }
}

/** Sends one request (no redirects followed); rejects only with {@link ImageError}. */
export function request(req: HttpRequest): Promise<HttpResponse> {
  const u = new URL(req.url);
  const isHttps = u.protocol === "https:";
  if (!isHttps && u.protocol !== "http:") return Promise.reject(new ImageError("InvalidArgument", `unsupported URL scheme in ${req.url}`));
  if (req.signal?.aborted) return Promise.reject(abortError(req.signal));
  let tlsOpts: https.RequestOptions = {};
  if (isHttps) {
    const t = req.tls;
    try {
      tlsOpts = {
        ...(t?.caPem ? { ca: t.caPem } : t?.caFile ? { ca: tlsFile(t.caFile) } : {}),
        ...(t?.certPem ? { cert: t.certPem } : t?.certFile ? { cert: tlsFile(t.certFile) } : {}),
        ...(t?.keyPem ? { key: t.keyPem } : t?.keyFile ? { key: tlsFile(t.keyFile) } : {}),
        rejectUnauthorized: !t?.insecureSkipVerify,
      };
    } catch (err) {
      return Promise.reject(err);
    }
  }
  const headers: Record<string, string> = { "User-Agent": "skiff", ...req.headers };
  if (req.body !== undefined) headers["Content-Length"] = String(Buffer.byteLength(req.body));
  return new Promise<HttpResponse>((resolve, reject) => {
    const opts: https.RequestOptions = { method: req.method, headers, ...tlsOpts, ...(req.signal ? { signal: req.signal } : {}) };
    const r = (isHttps ? https : http).request(u, opts, (res) => {
      resolve({ status: res.statusCode ?? 0, statusText: res.statusMessage ?? "", headers: res.headers, body: res, url: req.url });
    });
    r.on("error", (err: NodeJS.ErrnoException) => {
      if (req.signal?.aborted) return reject(abortError(req.signal));
      const { code, text } = describeNetError(err, u);
      reject(new ImageError(code, `failed to do request: ${goMethod(req.method)} "${req.url}": ${text}`));
    });
    r.end(req.body);
  });
}

/** Reads a whole body of at most `limit` bytes. */
export async function readBody(res: HttpResponse, limit: number, signal?: AbortSignal): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  try {
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      n += chunk.length;
      if (n > limit) {
        res.body.destroy();
        throw new ImageError("ResourceExhausted", `response from ${res.url} is larger than ${limit} bytes`);
      }
      chunks.push(chunk);
    }
  } catch (err) {
    if (err instanceof ImageError) throw err;
    if (signal?.aborted) throw abortError(signal);
    throw new ImageError("Unavailable", `failed to read response from ${res.url}: ${(err as Error).message}`);
  }
  return Buffer.concat(chunks);
}

/** Throws the body away so the connection can be reused. */
export function discard(res: HttpResponse): void {
  res.body.resume();
}

/** Go's `http.StatusText`-style status line: `401 Unauthorized`. */
export function statusLine(res: HttpResponse): string {
  return `${res.status} ${res.statusText || http.STATUS_CODES[res.status] || ""}`.trim();
}

/** containerd's unexpected-status error text. */
export function unexpectedStatus(method: string, res: HttpResponse): string {
  return `unexpected status from ${method} request to ${res.url}: ${statusLine(res)}`;
}
