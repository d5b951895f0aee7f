/**
 * The HTTP GET that probes and lifecycle hooks share (upstream
 * pkg/probe/http: NewRequestForHTTPGetAction, the prober's http.Client and
 * RedirectChecker): scheme HTTP or HTTPS without certificate verification,
 * the action's headers with canonical names, `User-Agent: kube-probe/M.m`
 * (or `kube-lifecycle/M.m`) and `Accept: *\/*` unless the action sets
 * them, no keep-alive, no compression, redirects followed only while they
 * stay on the same host (at most 10), the body read up to 10 KiB. Errors
 * are worded as Go's http client words them, because users read them in
 * events.
 */
import * as http from "node:http";
import * as https from "node:https";
import { isIP } from "node:net";
import type { Container, HTTPGetAction } from "kubernetes-types/core/v1.js";
import { KUBE_MAJOR, KUBE_MINOR } from "../../apiserver/version.js";
import { goTransportError } from "./go-net-errors.js";
import { joinHostPort, resolveContainerPort } from "./port.js";

/** upstream maxRespBodyLength. */
export const MAX_BODY_BYTES = 10 * 1024;

/** One GET to send: where, and with which headers (canonical names, repeated names allowed). */
export interface HttpGetRequest {
  readonly url: URL;
  /** How Go prints the URL (no trailing `/` for an empty path). */
  readonly display: string;
  readonly headers: ReadonlyArray<readonly [string, string]>;
}

/** A response as far as the probe reads it. */
export interface HttpGetResponse {
  readonly statusCode: number;
  /** At most {@link MAX_BODY_BYTES}. */
  readonly body: Buffer;
}

/** The request failed: `message` is Go's wording (`Get "URL": …`); `readingBody` when headers had arrived. */
export interface HttpGetError {
  readonly message: string;
  readonly readingBody: boolean;
  /** An HTTPS request reached a plain-HTTP server (upstream isHTTPResponseError). */
  readonly httpResponseToHttps: boolean;
}

/** Go's textproto.CanonicalMIMEHeaderKey: `x-custom-header` → `X-Custom-Header` (names with odd bytes stay as they are). */
export function canonicalHeaderKey(name: string): string {
  if (!/^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$/.test(name)) return name;
  return name.toLowerCase().replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase());
}

/** `kube-probe/1.30`: upstream's userAgent(purpose), from the version the cluster reports. */
export function userAgent(purpose: string): string {
  return `kube-${purpose}/${KUBE_MAJOR}.${KUBE_MINOR}`;
}

/** Splits an action's path as Go's url.Parse does: path, query, no fragment. */
function splitPath(path: string): { pathname: string; search: string } {
  const hash = path.indexOf("#");
  const noFrag = hash >= 0 ? path.slice(0, hash) : path;
  const q = noFrag.indexOf("?");
  return q >= 0 ? { pathname: noFrag.slice(0, q), search: noFrag.slice(q) } : { pathname: noFrag, search: "" };
}

/**
 * upstream NewRequestForHTTPGetAction: the GET an httpGet action means for
 * `container` in a pod at `podIP` (the action's `host` wins). `purpose` is
 * `probe` or `lifecycle` (the User-Agent).
 */
export function newRequestForHttpGet(action: HTTPGetAction, container: Container, podIP: string, purpose: string): { ok: true; request: HttpGetRequest } | { ok: false; error: string } {
  const scheme = (action.scheme ?? "").toLowerCase() || "http";
  if (scheme !== "http" && scheme !== "https") return { ok: false, error: `unsupported protocol scheme ${JSON.stringify(scheme)}` };
  const host = action.host || podIP;
  const port = resolveContainerPort(action.port, container);
  if (!port.ok) return { ok: false, error: port.error };
  const hostPort = joinHostPort(host, port.port);
  let url: URL;
  try {
    url = new URL(`${scheme}://${hostPort}`);
  } catch {
    return { ok: false, error: `parse ${JSON.stringify(`${scheme}://${hostPort}`)}: invalid URL` };
  }
  const { pathname, search } = splitPath(action.path ?? "");
  // Set the parts, never resolve: a path such as `//other/x` must not change the host.
  url.pathname = pathname === "" ? "/" : pathname.startsWith("/") ? pathname : `/${pathname}`;
  url.search = search;
  // Go's URL.String() keeps the port as given (even a default one) and adds no `/` to an empty path.
  const display = pathname === "" && search === "" ? `${scheme}://${hostPort}` : `${scheme}://${hostPort}${url.pathname}${url.search}`;

  const headers: [string, string][] = [];
  for (const h of action.httpHeaders ?? []) headers.push([canonicalHeaderKey(h.name), h.value]);
  const has = (k: string) => headers.some(([n]) => n === k);
  if (!has("User-Agent")) headers.push(["User-Agent", userAgent(purpose)]);
  if (!has("Accept")) headers.push(["Accept", "*/*"]);
  else if (headers.find(([n]) => n === "Accept")![1] === "") {
    // Overridden with an empty value: upstream removes it.
    for (let i = headers.length - 1; i >= 0; i--) if (headers[i]![0] === "Accept") headers.splice(i, 1);
  }
  return { ok: true, request: { url, display, headers } };
}

/** Node's header object from the request's pairs, with the Host header Go would send. */
function nodeHeaders(pairs: ReadonlyArray<readonly [string, string]>, host: string): http.OutgoingHttpHeaders {
  const out: Record<string, string | string[]> = { Host: host };
  for (const [k, v] of pairs) {
    if (k === "Host") continue;
    const prev = out[k];
    if (prev === undefined) out[k] = v;
    else out[k] = Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return out;
}

/** upstream `req.Host = headers.Get("Host")`: the first Host header, when not empty. */
function hostOverride(pairs: ReadonlyArray<readonly [string, string]>): string {
  return pairs.find(([k]) => k === "Host")?.[1] ?? "";
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

type Once = { ok: true; res: HttpGetResponse; location?: string } | { ok: false; error: HttpGetError };

function once(url: URL, headers: http.OutgoingHttpHeaders, signal: AbortSignal, readBody: boolean, display: string): Promise<Once> {
  return new Promise((resolve) => {
    const hostname = url.hostname.replace(/^\[|\]$/g, "");
    const port = Number(url.port || (url.protocol === "https:" ? 443 : 80));
    const hostPort = joinHostPort(hostname, port);
    const mod = url.protocol === "https:" ? https : http;
    let connected = false;
    let gotHeaders = false;
    let settled = false;
    const done = (v: Once) => {
      if (settled) return;
      settled = true;
      resolve(v);
    };
    const failWith = (err: unknown) => {
      const timedOut = signal.aborted;
      let message: string;
      if (timedOut) {
        message = gotHeaders
          ? "context deadline exceeded (Client.Timeout or context cancellation while reading body)"
          : `Get ${JSON.stringify(display)}: context deadline exceeded (Client.Timeout exceeded while awaiting headers)`;
      } else {
        const text = goTransportError(err, hostPort, connected);
        message = gotHeaders ? text : `Get ${JSON.stringify(display)}: ${text}`;
      }
      done({ ok: false, error: { message, readingBody: gotHeaders, httpResponseToHttps: !timedOut && /server gave HTTP response to HTTPS client/.test(message) } });
    };
    let req: http.ClientRequest;
    try {
      req = mod.request({
        protocol: url.protocol,
        host: hostname,
        port,
        path: `${url.pathname}${url.search}`,
        method: "GET",
        headers,
        agent: false,
        signal,
        // Probes do not verify certificates (upstream InsecureSkipVerify).
        rejectUnauthorized: false,
        ...(url.protocol === "https:" && isIP(hostname) === 0 ? { servername: hostname } : {}),
      });
    } catch (err) {
      failWith(err);
      return;
    }
    req.on("socket", (s) => {
      if (!s.connecting) connected = true;
      else s.once("connect", () => void (connected = true));
    });
    req.on("error", failWith);
    req.on("response", (res) => {
      gotHeaders = true;
      const statusCode = res.statusCode ?? 0;
      const location = REDIRECTS.has(statusCode) ? res.headers.location : undefined;
      const chunks: Buffer[] = [];
      let size = 0;
      const finish = () => done({ ok: true, res: { statusCode, body: Buffer.concat(chunks).subarray(0, MAX_BODY_BYTES) }, location });
      if (!readBody) {
        res.resume();
        res.on("end", finish);
        res.on("error", failWith);
        return;
      }
      res.on("data", (chunk: Buffer) => {
        if (size >= MAX_BODY_BYTES) return;
        chunks.push(chunk);
        size += chunk.length;
        if (size >= MAX_BODY_BYTES) {
          // Enough read (upstream ReadAtMost): a longer body is not an error.
          finish();
          res.destroy();
        }
      });
      res.on("end", finish);
      res.on("error", (err) => (size >= MAX_BODY_BYTES ? finish() : failWith(err)));
      res.on("close", () => {
        if (!settled && !res.complete && size < MAX_BODY_BYTES) failWith(new Error("unexpected EOF"));
      });
    });
    req.end();
  });
}

/** Options of {@link httpGet}. */
export interface HttpGetOptions {
  /** Whole exchange, redirects and body included (Go's Client.Timeout); undefined: none. */
  readonly timeoutMs?: number;
  /** Read the final body (probes); hooks discard it. */
  readonly readBody?: boolean;
}

/**
 * Sends `request`, following redirects on the same host as the kubelet's
 * prober does (followNonLocalRedirects=false): a redirect elsewhere ends
 * the exchange with that 3xx response; the 11th redirect is an error.
 */
export async function httpGet(request: HttpGetRequest, opts: HttpGetOptions = {}): Promise<{ ok: true; response: HttpGetResponse } | { ok: false; error: HttpGetError }> {
  const ac = new AbortController();
  const timer = opts.timeoutMs !== undefined ? setTimeout(() => ac.abort(), Math.max(0, opts.timeoutMs)) : undefined;
  try {
    const originalHost = request.url.hostname;
    let url = request.url;
    let display = request.display;
    const override = hostOverride(request.headers);
    // The first request names the port even when it is the scheme's default, as Go's URL.Host does.
    let host = override || joinHostPort(url.hostname.replace(/^\[|\]$/g, ""), Number(url.port || (url.protocol === "https:" ? 443 : 80)));
    for (let via = 0; ; via++) {
      const r = await once(url, nodeHeaders(request.headers, host), ac.signal, opts.readBody ?? true, display);
      if (!r.ok) return r;
      if (r.location === undefined) return { ok: true, response: r.res };
      const loc = r.location;
      let next: URL;
      try {
        next = new URL(loc, url);
      } catch {
        return { ok: false, error: { message: `Get ${JSON.stringify(display)}: failed to parse Location header ${JSON.stringify(loc)}`, readingBody: false, httpResponseToHttps: false } };
      }
      // upstream RedirectChecker: another host ends it with this response (a warning to the prober).
      if (next.hostname !== originalHost) return { ok: true, response: r.res };
      if (via + 1 >= 10) return { ok: false, error: { message: `Get ${JSON.stringify(loc)}: stopped after 10 redirects`, readingBody: false, httpResponseToHttps: false } };
      // Go keeps a custom Host header only through relative redirects.
      const relative = !/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(loc) && !loc.startsWith("//");
      host = override && relative ? override : next.host;
      url = next;
      display = next.href;
    }
  } finally {
    if (timer) clearTimeout(timer);
  }
}
