/**
 * The listeners' fast path for the common request: a bodyless HTTP/1.1
 * request whose head arrives whole in one read. Such requests are parsed
 * here from the raw bytes and answered through a minimal response writer,
 * instead of node:http's IncomingMessage/ServerResponse machinery, which
 * costs about a quarter of the proxy's CPU per request (the ingress
 * benchmark measures it).
 *
 * Everything else — request bodies, `Upgrade`, `Expect`, `Connection`
 * other than keep-alive, HTTP/1.0, a head split over reads or followed by
 * pipelined bytes, and anything malformed — hands the connection (with the
 * bytes read so far put back) to a node:http server for good, which then
 * serves or rejects it as before. The fast parser is strict for that
 * reason: it accepts only what it fully understands (token methods and
 * header names, origin-form targets, no control characters, no obsolete
 * line folding, one Host) and passes the rest on, never guessing at
 * framing.
 */
import type { IncomingMessage, Server as HttpServer, ServerResponse } from "node:http";
import { STATUS_CODES } from "node:http";
import type { Socket } from "node:net";

/** Heads longer than this go to node:http (its 16 KiB limit rejects the oversized). */
const MAX_FAST_HEAD = 8 * 1024;
/** Idle keep-alive connections close after this (nginx's keepalive_timeout, as the node:http listeners). */
export const KEEP_ALIVE_TIMEOUT_MS = 75_000;
const KEEP_ALIVE_HEADER = `Connection: keep-alive\r\nKeep-Alive: timeout=${KEEP_ALIVE_TIMEOUT_MS / 1000}\r\n\r\n`;

/** tchar (RFC 9110 §5.6.2). */
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") TCHAR[c.charCodeAt(0)] = 1;

/** The head fields node:http would give the proxy, for a bodyless request. */
export interface FastRequest {
  readonly method: string;
  readonly url: string;
  readonly rawHeaders: string[];
  readonly headers: { readonly host: string };
  readonly socket: Socket;
  /** No body to drain. */
  resume(): void;
}

function isToken(s: string, from: number, to: number): boolean {
  if (to <= from) return false;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || TCHAR[c] === 0) return false;
  }
  return true;
}

/** Visible characters, SP and HTAB only (field values; RFC 9110 §5.5). */
function isFieldValue(s: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) return false;
  }
  return true;
}

const noop = (): void => {};

/**
 * Parses `data` as exactly one bodyless HTTP/1.1 request head; undefined
 * when it is anything else (node:http then takes the connection).
 */
export function parseFastRequest(data: Buffer, socket: Socket): FastRequest | undefined {
  const n = data.length;
  if (n > MAX_FAST_HEAD || n < 4 || data[n - 1] !== 0x0a || data[n - 2] !== 0x0d || data[n - 3] !== 0x0a || data[n - 4] !== 0x0d) return undefined;
  const s = data.toString("latin1");
  const lineEnd = s.indexOf("\r\n");
  // Exactly one head, ending the read: no pipelined bytes after it.
  if (s.indexOf("\r\n\r\n") !== n - 4) return undefined;
  const sp1 = s.indexOf(" ");
  const sp2 = s.indexOf(" ", sp1 + 1);
  if (sp1 < 0 || sp2 < 0 || sp2 > lineEnd || lineEnd - sp2 !== 9 || !s.startsWith("HTTP/1.1", sp2 + 1)) return undefined;
  if (!isToken(s, 0, sp1)) return undefined;
  if (s.charCodeAt(sp1 + 1) !== 0x2f) return undefined; // origin-form only
  for (let i = sp1 + 1; i < sp2; i++) {
    const c = s.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f) return undefined;
  }
  const raw: string[] = [];
  let host: string | undefined;
  let at = lineEnd + 2;
  while (at < n - 2) {
    const end = s.indexOf("\r\n", at);
    const colon = s.indexOf(":", at);
    // A name up to the colon (no whitespace before it, no folding: a line starting with SP/HTAB is no token).
    if (colon < 0 || colon > end || !isToken(s, at, colon)) return undefined;
    let vs = colon + 1;
    let ve = end;
    while (vs < ve && (s.charCodeAt(vs) === 0x20 || s.charCodeAt(vs) === 0x09)) vs++;
    while (ve > vs && (s.charCodeAt(ve - 1) === 0x20 || s.charCodeAt(ve - 1) === 0x09)) ve--;
    if (!isFieldValue(s, vs, ve)) return undefined;
    const name = s.slice(at, colon);
    const value = s.slice(vs, ve);
    switch (name.length) {
      case 4:
        if (name.toLowerCase() === "host") {
          if (host !== undefined) return undefined;
          host = value;
        }
        break;
      case 6:
        if (name.toLowerCase() === "expect") return undefined;
        break;
      case 7:
        if (name.toLowerCase() === "upgrade") return undefined;
        break;
      case 10:
        if (name.toLowerCase() === "connection" && value.toLowerCase() !== "keep-alive") return undefined;
        break;
      case 14:
        if (name.toLowerCase() === "content-length") return undefined;
        break;
      case 17:
        if (name.toLowerCase() === "transfer-encoding") return undefined;
        break;
    }
    raw.push(name, value);
    at = end + 2;
  }
  if (host === undefined) return undefined;
  return { method: s.slice(0, sp1), url: s.slice(sp1 + 1, sp2), rawHeaders: raw, headers: { host }, socket, resume: noop };
}

let dateText = "";
let dateSecond = -1;
/** The Date header value, as node:http adds it (computed once a second). */
function httpDate(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateText = new Date(now).toUTCString();
  }
  return dateText;
}

type HeaderInput = readonly string[] | Readonly<Record<string, string | number>>;

/**
 * The part of node:http's ServerResponse the proxy uses, writing straight
 * to the client socket: the head goes out with the first body bytes in one
 * write; a response without Content-Length (and with a body) is chunked,
 * as node:http does.
 */
export class FastResponse {
  headersSent = false;
  writableFinished = false;
  #head = "";
  #chunked = false;
  #noBody = false;
  #onClose: (() => void) | undefined;

  constructor(
    private readonly socket: Socket,
    private readonly headRequest: boolean,
    private readonly done: () => void,
  ) {}

  writeHead(status: number, textOrHeaders?: string | HeaderInput, maybeHeaders?: HeaderInput): this {
    const text = typeof textOrHeaders === "string" ? textOrHeaders : (STATUS_CODES[status] ?? "");
    const input = typeof textOrHeaders === "string" ? maybeHeaders : textOrHeaders;
    let out = `HTTP/1.1 ${status} ${text}\r\n`;
    let hasLength = false;
    let hasDate = false;
    const add = (k: string, v: string) => {
      out += `${k}: ${v}\r\n`;
      if (k.length === 14 && k.toLowerCase() === "content-length") hasLength = true;
      else if (k.length === 4 && k.toLowerCase() === "date") hasDate = true;
    };
    if (Array.isArray(input)) {
      const raw = input as readonly string[];
      for (let i = 0; i < raw.length; i += 2) add(raw[i]!, raw[i + 1]!);
    } else if (input !== undefined) {
      for (const [k, v] of Object.entries(input as Record<string, string | number>)) add(k, String(v));
    }
    if (!hasDate) out += `Date: ${httpDate()}\r\n`;
    this.#noBody = this.headRequest || status === 204 || status === 304 || (status >= 100 && status < 200);
    if (!hasLength && !this.#noBody) {
      out += "Transfer-Encoding: chunked\r\n";
      this.#chunked = true;
    }
    this.#head = out + KEEP_ALIVE_HEADER;
    this.headersSent = true;
    return this;
  }

  /** Writes body bytes; false when the client socket's buffer is full (wait for "drain"). */
  write(chunk: Buffer | string): boolean {
    const s = this.socket;
    if (this.#noBody || chunk.length === 0) return this.#flushHead();
    if (this.#head !== "" && !this.#chunked) {
      // The common case (a response with a length, whole in one read): head and body in one buffer, one write.
      const body = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
      const n = this.#head.length;
      const out = Buffer.allocUnsafe(n + body.length);
      out.write(this.#head, 0, "latin1");
      body.copy(out, n);
      this.#head = "";
      return s.write(out);
    }
    s.cork();
    if (this.#head !== "") {
      s.write(this.#head, "latin1");
      this.#head = "";
    }
    let ok: boolean;
    if (this.#chunked) {
      s.write(`${Buffer.byteLength(chunk).toString(16)}\r\n`, "latin1");
      s.write(chunk);
      ok = s.write("\r\n", "latin1");
    } else {
      ok = s.write(chunk);
    }
    s.uncork();
    return ok;
  }

  #flushHead(): boolean {
    if (this.#head === "") return true;
    const head = this.#head;
    this.#head = "";
    return this.socket.write(head, "latin1");
  }

  /** Ends the response (with `chunk` as its last body bytes); the connection then takes the next request. */
  end(chunk?: Buffer | string): this {
    if (this.writableFinished) return this;
    if (!this.headersSent) this.writeHead(200, []);
    this.socket.cork();
    if (chunk !== undefined) this.write(chunk);
    this.#flushHead();
    if (this.#chunked) this.socket.write("0\r\n\r\n", "latin1");
    this.socket.uncork();
    this.writableFinished = true;
    this.done();
    return this;
  }

  /** Cuts the client connection (a response that cannot be completed). */
  destroy(): void {
    this.socket.destroy();
  }

  once(event: "close" | "drain", fn: () => void): this {
    if (event === "drain") this.socket.once("drain", fn);
    else this.#onClose = fn;
    return this;
  }

  off(event: "close" | "drain", fn: () => void): this {
    if (event === "drain") this.socket.off("drain", fn);
    else if (this.#onClose === fn) this.#onClose = undefined;
    return this;
  }

  /** The client connection closed (before or after the response ended). */
  closed(): void {
    const fn = this.#onClose;
    this.#onClose = undefined;
    fn?.();
  }
}

/** Serves requests of client connections: fast when it can, else through node:http. */
export class FastFront {
  /** Connections on the fast path now, and whether each is in a request. */
  readonly #conns = new Map<Socket, FastConnection>();

  constructor(
    private readonly fallback: HttpServer,
    private readonly handle: (req: IncomingMessage, res: ServerResponse) => void,
  ) {}

  /** Takes a new client connection (plain, or TLS once secure). */
  accept(socket: Socket): void {
    const c = new FastConnection(socket, this);
    this.#conns.set(socket, c);
  }

  /** @internal */
  serve(req: FastRequest, res: FastResponse): void {
    // The proxy uses only what FastRequest/FastResponse implement (method, url, headers.host, rawHeaders,
    // socket, resume; writeHead, write, end, destroy, headersSent, writableFinished, once/off close|drain).
    this.handle(req as unknown as IncomingMessage, res as unknown as ServerResponse);
  }

  /** @internal Hands `socket` to node:http with `pending` put back in front of its unread bytes. */
  handOff(socket: Socket, pending: Buffer | undefined): void {
    this.#conns.delete(socket);
    if (pending !== undefined) socket.unshift(pending);
    this.fallback.emit("connection", socket);
    socket.resume();
  }

  /** @internal */
  forget(socket: Socket): void {
    this.#conns.delete(socket);
  }

  /** Closes idle fast-path connections (stop), as node:http's closeIdleConnections. */
  closeIdleConnections(): void {
    for (const [s, c] of this.#conns) if (!c.busy) s.destroy();
  }

  /** Closes every fast-path connection. */
  closeAllConnections(): void {
    for (const s of this.#conns.keys()) s.destroy();
  }
}

/** One client connection on the fast path: one request at a time, later bytes held until the response ended. */
class FastConnection {
  busy = false;
  #res: FastResponse | undefined;
  #held: Buffer | undefined;
  readonly #onData = (d: Buffer): void => this.#data(d);
  readonly #onClose = (): void => this.#close();
  readonly #onError = (): void => {
    this.socket.destroy();
  };
  readonly #onTimeout = (): void => {
    if (!this.busy) this.socket.destroy();
  };
  readonly #done = (): void => this.#exchangeDone();

  constructor(
    private readonly socket: Socket,
    private readonly front: FastFront,
  ) {
    socket.setNoDelay(true);
    socket.on("data", this.#onData);
    socket.on("close", this.#onClose);
    socket.on("error", this.#onError);
    socket.on("timeout", this.#onTimeout);
    socket.setTimeout(KEEP_ALIVE_TIMEOUT_MS);
  }

  #data(d: Buffer): void {
    if (this.busy) {
      // Pipelined: the next request waits for this response (HTTP/1.1 answers in order).
      this.#held = this.#held === undefined ? d : Buffer.concat([this.#held, d]);
      this.socket.pause();
      return;
    }
    this.#dispatch(d);
  }

  #dispatch(d: Buffer): void {
    const req = parseFastRequest(d, this.socket);
    if (req === undefined) {
      this.#detach();
      this.front.handOff(this.socket, d);
      return;
    }
    this.busy = true;
    const res = new FastResponse(this.socket, req.method === "HEAD", this.#done);
    this.#res = res;
    this.front.serve(req, res);
  }

  #exchangeDone(): void {
    this.busy = false;
    this.#res = undefined;
    const held = this.#held;
    if (held === undefined) return;
    this.#held = undefined;
    this.socket.resume();
    this.#dispatch(held);
  }

  #close(): void {
    this.front.forget(this.socket);
    const res = this.#res;
    this.#res = undefined;
    res?.closed();
  }

  #detach(): void {
    const s = this.socket;
    s.off("data", this.#onData);
    s.off("close", this.#onClose);
    s.off("error", this.#onError);
    s.off("timeout", this.#onTimeout);
    s.setTimeout(0);
  }
}
