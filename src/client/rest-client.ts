/**
 * The HTTP layer every component's API traffic goes through, as client-go's
 * `rest.RESTClient`: HTTPS over pooled keep-alive connections, JSON in and
 * out, non-2xx answers turned into the repo's one {@link StatusError}, and
 * optional client-side throttling. Network failures surface unchanged, so
 * callers can tell "the server said no" from "no server".
 */
import type { IncomingMessage, OutgoingHttpHeaders } from "node:http";
import { createSecureContext } from "node:tls";
import { Agent, request as httpsRequest } from "node:https";
import { type Status, StatusError } from "../machinery/status-error.js";
import type { ClientConfig } from "./config.js";
import { TokenBucket } from "./token-bucket.js";
import { sleepOn, systemTimers, type Timers } from "./timers.js";

/** One query parameter value; `undefined`/`null` leave the parameter out. */
export type QueryValue = string | number | boolean | undefined | null;

/** Query parameters; an array repeats the parameter. */
export type Query = Readonly<Record<string, QueryValue | readonly string[]>>;

/** Options of one request. */
export interface RequestOptions {
  readonly query?: Query;
  /** Sent as-is when a string or Buffer, as JSON otherwise. */
  readonly body?: unknown;
  /** Content type of the body; `application/json` unless given. */
  readonly contentType?: string;
  /** Aborts the request (and its response stream). */
  readonly signal?: AbortSignal;
  readonly headers?: Readonly<Record<string, string>>;
}

/** Construction options of a {@link RestClient}. */
export interface RestClientOptions {
  /** Pooled connections per server for ordinary requests (64 unless given). */
  readonly maxSockets?: number;
  /** Time for client-side throttling and retry waits (tests). */
  readonly timers?: Timers;
  /**
   * Retries of a request the server turned away with 429 or 5xx and a
   * `Retry-After` header, after the delay it asked for (10, as client-go).
   */
  readonly maxRetries?: number;
}

/** Builds `?a=1&b=x` (or "") from a query object. */
export function encodeQuery(query: Query | undefined): string {
  if (!query) return "";
  let out = "";
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === null) continue;
    const values = Array.isArray(v) ? (v as readonly string[]) : [String(v)];
    for (const one of values) out += `${out ? "&" : "?"}${encodeURIComponent(k)}=${encodeURIComponent(one)}`;
  }
  return out;
}

const REASONS: Record<number, [reason: string, message: string]> = {
  400: ["BadRequest", "the server rejected our request for an unknown reason"],
  401: ["Unauthorized", "the server has asked for the client to provide credentials"],
  403: ["Forbidden", "the server does not allow access to the requested resource"],
  404: ["NotFound", "the server could not find the requested resource"],
  405: ["MethodNotAllowed", "the server does not allow this method on the requested resource"],
  406: ["NotAcceptable", "the server was unable to respond with a content type that the client supports"],
  409: ["Conflict", "the server reported a conflict"],
  410: ["Gone", "the requested resource is no longer available"],
  413: ["RequestEntityTooLarge", "the server has rejected the request because it is too large"],
  415: ["UnsupportedMediaType", "the server was unable to handle the media type requested"],
  422: ["Invalid", "the server rejected our request due to an error in our request"],
  429: ["TooManyRequests", "the server has received too many requests and has asked us to try again later"],
  500: ["InternalError", "an error on the server has prevented the request from succeeding"],
  503: ["ServiceUnavailable", "the server is currently unable to handle the request"],
  504: ["Timeout", "the server was unable to return a response in the time allotted, but may still be processing the request"],
};

/**
 * The Status a non-2xx response stands for: the body when it is a Status
 * (what the API server sends), otherwise one made from the code, with
 * client-go's generic messages.
 */
export function statusFromResponse(code: number, text: string): Status {
  try {
    const body = JSON.parse(text) as Partial<Status> | null;
    if (body && typeof body === "object" && body.kind === "Status") {
      return { ...(body as Status), code: typeof body.code === "number" && body.code > 0 ? body.code : code };
    }
  } catch {
    // Not JSON: fall through to a Status made from the code.
  }
  const [reason, message] = REASONS[code] ?? ["", `an error on the server ("${text.slice(0, 200)}") has prevented the request from succeeding`];
  return {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message: text && REASONS[code] ? `${message} (${text.trim().slice(0, 200)})` : message,
    ...(reason ? { reason } : {}),
    code,
  };
}

/** HTTPS + JSON to one API server. Create one per component and share it. */
export class RestClient {
  private readonly host: string;
  private readonly port: number;
  private readonly basePath: string;
  private readonly agent: Agent;
  /** Watches hold their connection for minutes; a pool of their own keeps them from starving requests. */
  private readonly watchAgent: Agent;
  private readonly baseHeaders: OutgoingHttpHeaders;
  private readonly bucket?: TokenBucket;
  private readonly timers: Timers;
  private readonly maxRetries: number;

  constructor(
    readonly config: ClientConfig,
    opts: RestClientOptions = {},
  ) {
    const url = new URL(config.server);
    if (url.protocol !== "https:") throw new Error(`API server URL must be https, not ${config.server}`);
    this.host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
    this.port = url.port ? Number(url.port) : 443;
    this.basePath = url.pathname.replace(/\/+$/, "");
    // One SecureContext for every connection: given ca/cert/key instead, Node
    // parses them into a new OpenSSL context per socket (~0.4 MB each, and a
    // controller manager holds dozens of watch sockets).
    const tls = {
      secureContext: createSecureContext({ ca: config.caPem, cert: config.certPem, key: config.keyPem }),
      rejectUnauthorized: !config.insecureSkipTlsVerify,
      servername: config.tlsServerName,
    };
    // Idle sockets close after 30 s, well before the API server's 65 s
    // keep-alive timeout, so a request never races the server closing the
    // socket it is reusing. (The agent timeout does not touch busy sockets.)
    this.agent = new Agent({ keepAlive: true, maxSockets: opts.maxSockets ?? 64, maxFreeSockets: opts.maxSockets ?? 64, timeout: 30_000, ...tls });
    this.watchAgent = new Agent({ keepAlive: true, ...tls });
    this.baseHeaders = {
      Accept: "application/json",
      "User-Agent": config.userAgent ?? "skiff-client",
      ...(config.token ? { Authorization: `Bearer ${config.token}` } : {}),
    };
    this.timers = opts.timers ?? systemTimers;
    this.maxRetries = opts.maxRetries ?? 10;
    if (config.qps && config.qps > 0) this.bucket = new TokenBucket(config.qps, config.burst ?? Math.ceil(config.qps), this.timers);
  }

  /**
   * Sends one request and returns the parsed JSON body (undefined when
   * empty). Non-2xx answers reject with a {@link StatusError}; network
   * errors and aborts reject as Node reports them.
   */
  async request<T = unknown>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      await this.throttle(opts.signal);
      const res = await this.send(this.agent, method, path, opts);
      const text = await readText(res);
      const code = res.statusCode ?? 0;
      if (code >= 200 && code <= 299) return (text.length === 0 ? undefined : JSON.parse(text)) as T;
      // As client-go: the server turned the request away before acting on it
      // and said when to come back.
      const wait = retryAfterSeconds(res);
      if ((code === 429 || code >= 500) && wait !== undefined && attempt < this.maxRetries) {
        await sleepOn(this.timers, wait * 1000, opts.signal);
        continue;
      }
      throw new StatusError(statusFromResponse(code, text));
    }
  }

  /**
   * Sends a request whose answer is a stream (watch, logs) and resolves with
   * the open 2xx response for the caller to read and destroy. A non-2xx
   * answer rejects with a {@link StatusError}.
   */
  async stream(method: string, path: string, opts: RequestOptions = {}): Promise<IncomingMessage> {
    await this.throttle(opts.signal);
    const res = await this.send(this.watchAgent, method, path, opts);
    const code = res.statusCode ?? 0;
    if (code < 200 || code > 299) throw new StatusError(statusFromResponse(code, await readText(res)));
    return res;
  }

  /** Closes pooled connections (open watches end too). */
  close(): void {
    this.agent.destroy();
    this.watchAgent.destroy();
  }

  private async throttle(signal: AbortSignal | undefined): Promise<void> {
    if (!this.bucket) return;
    const wait = this.bucket.reserve();
    if (wait > 0) await sleepOn(this.timers, wait, signal);
  }

  private send(agent: Agent, method: string, path: string, opts: RequestOptions): Promise<IncomingMessage> {
    let body: Buffer | undefined;
    if (opts.body !== undefined) {
      const b = opts.body;
      body = Buffer.isBuffer(b) ? b : Buffer.from(typeof b === "string" ? b : JSON.stringify(b));
    }
    const headers: OutgoingHttpHeaders = { ...this.baseHeaders, ...opts.headers };
    if (body) {
      headers["Content-Type"] = opts.contentType ?? "application/json";
      headers["Content-Length"] = body.length;
    }
    return new Promise((resolve, reject) => {
      const req = httpsRequest(
        {
          agent,
          host: this.host,
          port: this.port,
          method,
          path: this.basePath + path + encodeQuery(opts.query),
          headers,
          signal: opts.signal,
        },
        resolve,
      );
      req.on("error", reject);
      req.end(body);
    });
  }
}

/** A `Retry-After` given in whole seconds (client-go ignores the date form too). */
function retryAfterSeconds(res: IncomingMessage): number | undefined {
  const h = res.headers["retry-after"];
  if (typeof h !== "string" || !/^\d+$/.test(h.trim())) return undefined;
  return Number(h.trim());
}

function readText(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on("data", (c: Buffer) => chunks.push(c));
    res.on("end", () => resolve(chunks.length === 1 ? chunks[0]!.toString("utf8") : Buffer.concat(chunks).toString("utf8")));
    res.on("error", reject);
    res.on("aborted", () => reject(new Error("response aborted")));
  });
}
