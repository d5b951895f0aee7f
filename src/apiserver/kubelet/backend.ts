/**
 * Requests from the API server to a backend (a kubelet, or another port on
 * a node), as upstream's proxy transport and UpgradeAwareHandler send them:
 * the client's headers minus its credentials and the hop-by-hop ones, an
 * X-Forwarded-For, a 30 s dial timeout, and network errors worded as Go
 * words them (`dial tcp 10.0.0.5:10250: connect: connection refused`),
 * since that text reaches users verbatim.
 */
import type { Agent as HttpAgent, IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders } from "node:http";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import type { Duplex } from "node:stream";

/** One request to a backend. */
export interface BackendRequest {
  /** Scheme, host, port, path and query. */
  readonly url: URL;
  readonly agent: HttpAgent;
  readonly method: string;
  readonly headers: OutgoingHttpHeaders;
  /** Piped as the request body when given. */
  readonly body?: NodeJS.ReadableStream;
  /** Aborts the request (the client went away). */
  readonly signal?: AbortSignal;
  /** Dial timeout (30 s, as upstream's proxy dialer). */
  readonly connectTimeoutMs?: number;
}

/** A failed request: `goText` is Go's wording of what went wrong. */
export class BackendError extends Error {
  override name = "BackendError";
  constructor(readonly goText: string) {
    super(goText);
  }
}

const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization", "te", "trailer", "transfer-encoding", "upgrade"]);

/** `host:port` of a URL, as Go prints it in dial errors. */
function hostPortOf(url: URL): string {
  const port = url.port || (url.protocol === "https:" ? "443" : "80");
  return `${url.hostname}:${port}`;
}

/** Go's text for a network error while reaching `hostPort`. */
export function goNetErrorText(err: unknown, hostPort: string): string {
  const e = err as NodeJS.ErrnoException;
  switch (e?.code) {
    case "ECONNREFUSED":
      return `dial tcp ${hostPort}: connect: connection refused`;
    case "EHOSTUNREACH":
      return `dial tcp ${hostPort}: connect: no route to host`;
    case "ENETUNREACH":
      return `dial tcp ${hostPort}: connect: network is unreachable`;
    case "ETIMEDOUT":
      return `dial tcp ${hostPort}: i/o timeout`;
    case "EADDRNOTAVAIL":
      return `dial tcp ${hostPort}: connect: cannot assign requested address`;
    case "ENOTFOUND":
      return `dial tcp: lookup ${hostPort.replace(/:\d+$/, "")}: no such host`;
    case "ECONNRESET":
      return `read tcp ${hostPort}: read: connection reset by peer`;
    case "DEPTH_ZERO_SELF_SIGNED_CERT":
    case "SELF_SIGNED_CERT_IN_CHAIN":
    case "UNABLE_TO_VERIFY_LEAF_SIGNATURE":
    case "UNABLE_TO_GET_ISSUER_CERT_LOCALLY":
      return "tls: failed to verify certificate: x509: certificate signed by unknown authority";
    case "ERR_TLS_CERT_ALTNAME_INVALID":
      return `tls: failed to verify certificate: x509: ${e.message}`;
    default:
      return e?.message ?? String(err);
  }
}

/**
 * The headers to send on: the client's, without its credentials (the API
 * server already authenticated it, and upstream drops `Authorization`
 * then), `Host`, impersonation and hop-by-hop headers (kept for an upgrade,
 * which needs `Connection` and `Upgrade`), plus X-Forwarded-For.
 * Repeated headers stay repeated (`X-Stream-Protocol-Version`).
 */
export function forwardHeaders(req: IncomingMessage, opts: { upgrade: boolean }): OutgoingHttpHeaders {
  const out: Record<string, string[]> = {};
  const named = new Set((req.headers.connection ?? "").split(",").map((t) => t.trim().toLowerCase()).filter(Boolean));
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = name.toLowerCase();
    if (lower === "host" || lower === "authorization" || lower.startsWith("impersonate-")) continue;
    if (!opts.upgrade && (HOP_BY_HOP.has(lower) || named.has(lower))) continue;
    if (opts.upgrade && (lower === "keep-alive" || lower.startsWith("proxy-") || lower === "te" || lower === "trailer" || lower === "transfer-encoding")) continue;
    (out[name] ??= []).push(raw[i + 1]!);
  }
  const remote = req.socket?.remoteAddress;
  if (remote) {
    const prior = req.headers["x-forwarded-for"];
    for (const k of Object.keys(out)) if (k.toLowerCase() === "x-forwarded-for") delete out[k];
    out["X-Forwarded-For"] = [prior ? `${prior}, ${remote}` : remote];
  }
  return out;
}

/** A response's headers to pass back to the client: without hop-by-hop ones. */
export function responseHeaders(res: IncomingMessage): OutgoingHttpHeaders {
  const out: Record<string, string[]> = {};
  const named = new Set((res.headers.connection ?? "").split(",").map((t) => t.trim().toLowerCase()).filter(Boolean));
  const raw = res.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const lower = raw[i]!.toLowerCase();
    if (HOP_BY_HOP.has(lower) || named.has(lower)) continue;
    (out[raw[i]!] ??= []).push(raw[i + 1]!);
  }
  return out;
}

/** The outcome of {@link sendUpgrade}: switched (101), or an ordinary response. */
export type UpgradeOutcome =
  | { readonly kind: "upgraded"; readonly res: IncomingMessage; readonly socket: Duplex; readonly head: Buffer }
  | { readonly kind: "response"; readonly res: IncomingMessage };

interface Handlers {
  response(res: IncomingMessage): void;
  upgrade?(res: IncomingMessage, socket: Duplex, head: Buffer): void;
  error(err: BackendError): void;
}

function start(r: BackendRequest, h: Handlers): void {
  const send = r.url.protocol === "https:" ? httpsRequest : httpRequest;
  const hostPort = hostPortOf(r.url);
  const req = send({
    protocol: r.url.protocol,
    hostname: r.url.hostname.replace(/^\[|\]$/g, ""),
    port: r.url.port,
    path: `${r.url.pathname}${r.url.search}`,
    method: r.method,
    headers: { ...r.headers, Host: r.url.host },
    agent: r.agent,
    signal: r.signal,
  });
  let timer: NodeJS.Timeout | undefined;
  req.on("socket", (socket) => {
    if (!(socket as { connecting?: boolean }).connecting) return;
    timer = setTimeout(() => req.destroy(Object.assign(new Error("i/o timeout"), { code: "ETIMEDOUT" })), r.connectTimeoutMs ?? 30_000);
    socket.once("connect", () => clearTimeout(timer));
  });
  req.on("error", (err) => {
    clearTimeout(timer);
    h.error(new BackendError(goNetErrorText(err, hostPort)));
  });
  req.on("response", (res) => {
    clearTimeout(timer);
    h.response(res);
  });
  const onUpgrade = h.upgrade;
  if (onUpgrade) {
    req.on("upgrade", (res, socket, head) => {
      clearTimeout(timer);
      onUpgrade(res, socket, head);
    });
  }
  if (r.body) r.body.pipe(req);
  else req.end();
}

/** Sends a request; resolves with the backend's response (any status), rejects with a {@link BackendError}. */
export function sendRequest(r: BackendRequest): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => start(r, { response: resolve, error: reject }));
}

/** Sends an upgrade request; resolves once the backend switched protocols or answered otherwise. */
export function sendUpgrade(r: BackendRequest): Promise<UpgradeOutcome> {
  return new Promise((resolve, reject) =>
    start(r, {
      response: (res) => resolve({ kind: "response", res }),
      upgrade: (res, socket, head) => resolve({ kind: "upgraded", res, socket, head }),
      error: reject,
    }),
  );
}

/** Reads a (small) response body as text, at most `limit` bytes (upstream reads 50 KiB of an error). */
export async function readLimited(res: IncomingMessage, limit = 50 * 1024): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of res) {
    const b = c as Buffer;
    if (size < limit) chunks.push(b.subarray(0, limit - size));
    size += b.length;
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** The status line and headers of a response, as raw HTTP/1.1 for a socket the proxy writes itself. */
export function rawResponseHead(code: number, message: string, headers: IncomingHttpHeaders | OutgoingHttpHeaders | readonly string[]): string {
  let out = `HTTP/1.1 ${code} ${message}\r\n`;
  if (Array.isArray(headers)) {
    for (let i = 0; i + 1 < headers.length; i += 2) out += `${headers[i]}: ${headers[i + 1]}\r\n`;
  } else {
    for (const [k, v] of Object.entries(headers)) {
      if (v === undefined) continue;
      for (const one of Array.isArray(v) ? v : [v]) out += `${k}: ${one}\r\n`;
    }
  }
  return `${out}\r\n`;
}
