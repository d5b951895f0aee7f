/**
 * The reverse proxy of the ingress controller: one request in, one request
 * to a backend endpoint out, bodies streamed both ways (nothing buffered,
 * backpressure both ways).
 *
 * The client side is the listeners' fast path (fast-path.ts: bodyless
 * keep-alive requests, parsed from the raw bytes) or node:http's server
 * (everything else); both hand over the same request/response shape. The
 * endpoint side writes the
 * request head itself on a pooled keep-alive socket and reads the answer
 * with {@link ResponseParser}: node:http's client (ClientRequest,
 * IncomingMessage, Agent per request) costs about as much again as the
 * proxy's whole server side, and the bytes are all the proxy needs.
 *
 * - Headers: hop-by-hop headers (and those the Connection header lists) are
 *   dropped both ways; `X-Forwarded-For`, `X-Real-IP`, `X-Forwarded-Host`,
 *   `X-Forwarded-Port` and `X-Forwarded-Proto` are set from the client
 *   connection, replacing any the client sent (untrusted, as ingress-nginx's
 *   and Traefik's defaults); `Host` is passed unchanged.
 * - Endpoints are picked round robin. A request goes to the next endpoint
 *   when the connection fails before anything was sent (refused,
 *   unreachable, no connection within 5 s), or, for idempotent methods
 *   without a body, when a reused keep-alive connection turns out closed
 *   by the endpoint; each endpoint is tried at most once. Otherwise: 502
 *   (504 after 60 s of silence), or the client connection is cut when the
 *   response had already started.
 * - `Upgrade` requests (WebSocket) go through node:http's client (rare,
 *   long-lived): the endpoint's 101 is relayed and the two sockets joined.
 */
import { type ClientRequest, type IncomingMessage, request, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { Logger } from "../../machinery/log.js";
import type { Pool, Upstream } from "./backends.js";
import { ResponseParser } from "./response-parser.js";

/** Where the router sends a request: a pool of endpoints, or an answer of its own. */
export type RouteTarget = { readonly pool: Pool } | { readonly status: number; readonly body: string };

/** Picks the target of a request from its Host and URL path. */
export interface ProxyRouter {
  route(host: string | undefined, path: string): RouteTarget;
}

const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"]);
/** Set by the proxy itself; a client's own are dropped. */
const OURS = new Set(["x-forwarded-for", "x-forwarded-host", "x-forwarded-port", "x-forwarded-proto", "x-real-ip"]);
const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"]);
/** Connect errors: nothing reached the endpoint. */
const CONNECT_ERRORS = new Set(["ECONNREFUSED", "EHOSTUNREACH", "ENETUNREACH", "EADDRNOTAVAIL", "EHOSTDOWN", "ECONNTIMEOUT"]);
/** How long a connection to an endpoint may take (ingress-nginx's proxy-connect-timeout: 5 s). */
export const CONNECT_TIMEOUT_MS = 5_000;
/** How long an endpoint may stay silent during a request (ingress-nginx's proxy-read-timeout: 60 s). */
export const READ_TIMEOUT_MS = 60_000;

/** Fails `req` with ECONNTIMEOUT (a connect error: the next endpoint is tried) unless `socket` connects in time. */
function guardConnect(req: ClientRequest, socket: Socket, onConnect: () => void): void {
  const timer = setTimeout(() => {
    const err: NodeJS.ErrnoException = new Error(`connect timed out after ${CONNECT_TIMEOUT_MS} ms`);
    err.code = "ECONNTIMEOUT";
    req.destroy(err);
  }, CONNECT_TIMEOUT_MS);
  socket.once("connect", () => {
    clearTimeout(timer);
    onConnect();
  });
  socket.once("close", () => clearTimeout(timer));
}

const STATUS_TEXT: Record<number, string> = { 404: "Not Found", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout" };

/** Header names the Connection header lists (they are hop-by-hop too). */
function connectionTokens(raw: readonly string[]): Set<string> | undefined {
  let out: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.toLowerCase() !== "connection") continue;
    for (const t of raw[i + 1]!.split(",")) {
      const k = t.trim().toLowerCase();
      if (k !== "" && k !== "close" && k !== "keep-alive" && k !== "upgrade") (out ??= new Set()).add(k);
    }
  }
  return out;
}

/** `raw` without hop-by-hop headers (and, with `dropOurs`, without the forwarding headers). */
export function filterHeaders(raw: readonly string[], dropOurs: boolean): string[] {
  const listed = connectionTokens(raw);
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const k = raw[i]!.toLowerCase();
    if (HOP_BY_HOP.has(k) || listed?.has(k) || (dropOurs && OURS.has(k))) continue;
    out.push(raw[i]!, raw[i + 1]!);
  }
  return out;
}

function clientIp(socket: Socket): string {
  const ip = socket.remoteAddress ?? "";
  return ip.startsWith("::ffff:") ? ip.slice(7) : ip;
}

/** The headers sent to the backend for `req` arriving over `scheme` on the listener's `port`. */
export function forwardHeaders(req: IncomingMessage, scheme: "http" | "https", upgrade: boolean): string[] {
  const out = filterHeaders(req.rawHeaders, true);
  const ip = clientIp(req.socket);
  const host = req.headers.host ?? "";
  out.push("X-Forwarded-For", ip, "X-Real-IP", ip, "X-Forwarded-Host", host, "X-Forwarded-Port", String(req.socket.localPort ?? ""));
  out.push("X-Forwarded-Proto", scheme);
  if (upgrade && req.headers.upgrade !== undefined) out.push("Connection", "Upgrade", "Upgrade", req.headers.upgrade);
  return out;
}

/** The request line and headers sent to the endpoint (HTTP/1.1, ending in the blank line). */
export function requestHead(req: IncomingMessage, scheme: "http" | "https", chunked: boolean): string {
  const h = forwardHeaders(req, scheme, false);
  let out = `${req.method ?? "GET"} ${req.url ?? "/"} HTTP/1.1\r\n`;
  for (let i = 0; i < h.length; i += 2) out += `${h[i]}: ${h[i + 1]}\r\n`;
  if (chunked) out += "Transfer-Encoding: chunked\r\n";
  return `${out}\r\n`;
}

function hasBody(req: IncomingMessage): boolean {
  const len = req.headers["content-length"];
  return req.headers["transfer-encoding"] !== undefined || (len !== undefined && len !== "0");
}

/** The URL path of a request target (no query), "/" for `*` or an absolute-form target without one. */
export function pathOf(url: string | undefined): string {
  if (!url) return "/";
  let p = url;
  if (!p.startsWith("/")) {
    // absolute-form (`http://host/path`) as proxies may send
    const scheme = p.indexOf("://");
    if (scheme < 0) return "/";
    const slash = p.indexOf("/", scheme + 3);
    p = slash < 0 ? "/" : p.slice(slash);
  }
  const q = p.indexOf("?");
  return q < 0 ? p : p.slice(0, q);
}

function sendError(res: ServerResponse, status: number, body: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const text = body.endsWith("\n") ? body : `${body}\n`;
  res.writeHead(status, { "Content-Type": "text/plain; charset=utf-8", "Content-Length": Buffer.byteLength(text) });
  res.end(text);
}

function isRetryable(err: NodeJS.ErrnoException, connected: boolean, reused: boolean, method: string, bodyless: boolean): boolean {
  if (!connected && err.code !== undefined && CONNECT_ERRORS.has(err.code)) return true;
  // The endpoint closed an idle keep-alive connection just as it was reused: the request was never processed.
  return reused && (err.code === "ECONNRESET" || err.code === "EPIPE") && bodyless && IDEMPOTENT.has(method);
}

/** Takes the next endpoint of `pool` not in `tried`. */
function pick(pool: Pool, tried: Set<Upstream>): Upstream | undefined {
  const n = pool.upstreams.length;
  for (let i = 0; i < n; i++) {
    const u = pool.upstreams[pool.next++ % n]!;
    if (pool.next >= n) pool.next = 0;
    if (!tried.has(u) && !u.retired) return u;
  }
  return undefined;
}

/** The request and upgrade handlers of one listener. */
export class IngressProxy {
  readonly #log: Logger;

  constructor(
    private readonly router: ProxyRouter,
    logger: Logger,
  ) {
    this.#log = logger;
  }

  /** Serves one HTTP request that arrived over `scheme`. */
  handle(req: IncomingMessage, res: ServerResponse, scheme: "http" | "https"): void {
    const target = this.router.route(req.headers.host, pathOf(req.url));
    if ("status" in target) {
      req.resume();
      sendError(res, target.status, target.body);
      return;
    }
    const method = req.method ?? "GET";
    // The client's framing is gone (node:http decoded it): a length passes through, chunked is re-chunked.
    const chunked = req.headers["transfer-encoding"] !== undefined;
    const bodyless = !hasBody(req);
    const head = requestHead(req, scheme, chunked);
    if (bodyless) req.resume();
    const tried = new Set<Upstream>();
    let lastError = "";
    let clientGone = false;
    let abandon: (() => void) | undefined;
    res.once("close", () => {
      if (res.writableFinished) return;
      // The client went away mid-exchange: the backend connection cannot be reused.
      clientGone = true;
      abandon?.();
    });
    const attempt = (): void => {
      const u = pick(target.pool, tried);
      if (u === undefined) {
        sendError(res, tried.size === 0 ? 503 : 502, tried.size === 0 ? (target.pool.error ?? "no ready endpoints") : `no endpoint could be reached: ${lastError}`);
        return;
      }
      tried.add(u);
      u.begin();
      const { socket, reused } = u.acquire();
      let settled = false;
      let bodySent = false;
      let bodyDone = bodyless;
      let complete = false;
      let connected = reused;
      let waitingForClient = false;
      let waitingForEndpoint = false;
      const resumeSocket = () => {
        waitingForClient = false;
        socket.resume();
      };
      const resumeReq = () => {
        waitingForEndpoint = false;
        req.resume();
      };
      const parser = new ResponseParser(
        {
          head: (h) => res.writeHead(h.status, h.statusText, filterHeaders(h.rawHeaders, false)),
          body: (chunk) => {
            if (!res.write(chunk) && !waitingForClient) {
              waitingForClient = true;
              socket.pause();
              res.once("drain", resumeSocket);
            }
          },
          end: () => {
            complete = true;
          },
        },
        method === "HEAD",
      );
      const detach = () => {
        settled = true;
        abandon = undefined;
        clearTimeout(connectTimer);
        socket.off("data", onData);
        socket.off("error", onError);
        socket.off("close", onClose);
        socket.off("timeout", onTimeout);
        socket.off("connect", onConnect);
        socket.off("drain", resumeReq);
        res.off("drain", resumeSocket);
        socket.setTimeout(0);
        // A pooled connection must flow, or it would never notice the endpoint closing it (nor answer the next request).
        if (waitingForClient) resumeSocket();
        if (waitingForEndpoint) resumeReq();
        if (!bodyless) {
          req.off("data", onReqData);
          req.off("end", onReqEnd);
        }
        u.end();
      };
      const finish = () => {
        detach();
        res.end();
        u.release(socket, parser.keepAlive && bodyDone);
      };
      const fail = (err: NodeJS.ErrnoException) => {
        if (settled) return;
        detach();
        socket.destroy();
        if (parser.started || clientGone) {
          res.destroy();
          return;
        }
        lastError = `${u.key}: ${err.code ?? err.message}`;
        if (!bodySent && isRetryable(err, connected, reused, method, bodyless)) {
          this.#log.debug("endpoint failed before the request was sent; trying the next one", { endpoint: u.key, err: err.code ?? err.message });
          attempt();
          return;
        }
        this.#log.warn("proxying to an endpoint failed", { endpoint: u.key, err: err.code ?? err.message });
        if (err.code === "ETIMEDOUT") sendError(res, 504, `endpoint ${u.key} sent no response within ${READ_TIMEOUT_MS / 1000} s`);
        else sendError(res, 502, `proxying to endpoint ${lastError} failed`);
      };
      const onData = (d: Buffer) => {
        try {
          parser.push(d);
        } catch (err) {
          fail(Object.assign(err as Error, { code: "EBADRESPONSE" }));
          return;
        }
        if (complete && !settled) finish();
      };
      const onClose = () => {
        if (settled) return;
        if (parser.eof() && complete) finish();
        else fail(Object.assign(new Error("the endpoint closed the connection before the response was complete"), { code: "ECONNRESET" }));
      };
      const onError = (err: NodeJS.ErrnoException) => fail(err);
      const onTimeout = () => fail(Object.assign(new Error("read timeout"), { code: "ETIMEDOUT" }));
      const onReqData = (c: Buffer) => {
        bodySent = true;
        let ok: boolean;
        if (chunked) {
          socket.cork();
          socket.write(`${c.length.toString(16)}\r\n`);
          socket.write(c);
          ok = socket.write("\r\n");
          socket.uncork();
        } else {
          ok = socket.write(c);
        }
        if (!ok && !waitingForEndpoint) {
          waitingForEndpoint = true;
          req.pause();
          socket.once("drain", resumeReq);
        }
      };
      const onReqEnd = () => {
        bodyDone = true;
        if (chunked) socket.write("0\r\n\r\n");
      };
      const startBody = () => {
        if (bodyless || settled) return;
        req.on("data", onReqData);
        req.on("end", onReqEnd);
      };
      const onConnect = () => {
        connected = true;
        clearTimeout(connectTimer);
        startBody();
      };
      const connectTimer = reused
        ? undefined
        : setTimeout(() => fail(Object.assign(new Error(`connect timed out after ${CONNECT_TIMEOUT_MS} ms`), { code: "ECONNTIMEOUT" })), CONNECT_TIMEOUT_MS);
      abandon = () => fail(Object.assign(new Error("client closed the connection"), { code: "ECANCELED" }));
      socket.on("data", onData);
      socket.on("error", onError);
      socket.on("close", onClose);
      socket.on("timeout", onTimeout);
      socket.setTimeout(READ_TIMEOUT_MS);
      // Written at once (a connecting socket queues it); the body only once connected, so a refused connection consumed none of it.
      // latin1: node:http decoded the head bytes as latin1, so this writes them back unchanged.
      socket.write(head, "latin1");
      if (reused) startBody();
      else socket.once("connect", onConnect);
    };
    attempt();
  }

  /** Passes an `Upgrade` request (WebSocket) through to an endpoint. */
  upgrade(req: IncomingMessage, socket: Socket, head: Buffer, scheme: "http" | "https"): void {
    socket.on("error", () => socket.destroy());
    const target = this.router.route(req.headers.host, pathOf(req.url));
    if ("status" in target) {
      rawError(socket, target.status, target.body);
      return;
    }
    const headers = forwardHeaders(req, scheme, true);
    const tried = new Set<Upstream>();
    const attempt = (): void => {
      const u = pick(target.pool, tried);
      if (u === undefined) {
        rawError(socket, tried.size === 0 ? 503 : 502, tried.size === 0 ? (target.pool.error ?? "no ready endpoints") : "no endpoint could be reached");
        return;
      }
      tried.add(u);
      // Upgraded connections leave any pool: a connection of their own.
      const preq = request({ host: u.host, port: u.port, method: req.method, path: req.url, headers, setHost: false, agent: false });
      preq.once("socket", (s: Socket) => {
        if (s.connecting) guardConnect(preq, s, () => {});
      });
      let answered = false;
      preq.once("upgrade", (pres: IncomingMessage, psock: Socket, phead: Buffer) => {
        answered = true;
        socket.write(statusBlock(pres, filterHeaders(pres.rawHeaders, false), pres.headers), "latin1");
        if (phead.length > 0) socket.write(phead);
        if (head.length > 0) psock.write(head);
        psock.on("error", () => socket.destroy());
        socket.on("close", () => psock.destroy());
        psock.on("close", () => socket.destroy());
        psock.pipe(socket);
        socket.pipe(psock);
      });
      preq.once("response", (pres) => {
        // The backend declined the upgrade: relay its answer and close.
        answered = true;
        socket.write(statusBlock(pres, [...filterHeaders(pres.rawHeaders, false), "Connection", "close"], undefined), "latin1");
        pres.pipe(socket);
      });
      preq.on("error", (err: NodeJS.ErrnoException) => {
        if (answered) {
          socket.destroy();
          return;
        }
        if (err.code !== undefined && CONNECT_ERRORS.has(err.code)) {
          attempt();
          return;
        }
        rawError(socket, 502, `proxying to endpoint ${u.key} failed: ${err.code ?? err.message}`);
      });
      preq.end();
    };
    attempt();
  }
}

/** The status line and headers of a relayed response, for a raw socket. */
function statusBlock(pres: IncomingMessage, raw: readonly string[], parsed: IncomingMessage["headers"] | undefined): string {
  let out = `HTTP/1.1 ${pres.statusCode} ${pres.statusMessage ?? ""}\r\n`;
  for (let i = 0; i < raw.length; i += 2) out += `${raw[i]}: ${raw[i + 1]}\r\n`;
  // A 101 keeps its Connection/Upgrade headers (dropped above as hop-by-hop).
  if (parsed?.upgrade !== undefined) out += `Connection: Upgrade\r\nUpgrade: ${parsed.upgrade}\r\n`;
  return `${out}\r\n`;
}

function rawError(socket: Socket, status: number, body: string): void {
  const text = body.endsWith("\n") ? body : `${body}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? ""}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`,
  );
}
