/**
 * An incremental HTTP/1.1 response parser for the proxy's backend side
 * (RFC 9112): the status line and headers, then the body framed by
 * `Transfer-Encoding: chunked`, `Content-Length`, or the connection's
 * close, handed out as it arrives. node:http's client does the same with
 * an IncomingMessage, a ClientRequest and an Agent per request; the proxy
 * only needs the bytes, at a fraction of the cost (the ingress benchmark
 * measures it).
 *
 * Strict where a proxy must be (request smuggling): differing
 * Content-Length values, a Transfer-Encoding with a Content-Length, bad
 * chunk sizes, obsolete line folding and oversized heads are errors.
 * Interim 1xx responses are skipped; chunk extensions and trailers are
 * dropped.
 */

/** The most head bytes accepted (status line and headers), as node's default 16 KiB header limit. */
export const MAX_HEAD_BYTES = 16 * 1024;

/** A parsed response head. */
export interface ResponseHead {
  readonly status: number;
  readonly statusText: string;
  /** Header names and values, alternating, as received. */
  readonly rawHeaders: string[];
  /** Whether the connection may carry another request after this response. */
  readonly keepAlive: boolean;
  /** How the body is framed. */
  readonly framing: "none" | "length" | "chunked" | "close";
}

/** What the parser reports. */
export interface ResponseSink {
  head(h: ResponseHead): void;
  body(chunk: Buffer): void;
  /**
   * The response is complete. Called from inside {@link ResponseParser.push}:
   * read {@link ResponseParser.keepAlive} once push returns (bytes after the
   * response in the same chunk make the connection unusable).
   */
  end(): void;
}

type State = "head" | "length" | "chunk-size" | "chunk-data" | "chunk-crlf" | "trailers" | "close" | "done";

const CRLF = Buffer.from("\r\n");

/** Parses one response from a stream of chunks. */
export class ResponseParser {
  #state: State = "head";
  #buf: Buffer | undefined;
  #remaining = 0;
  #keepAlive = false;

  /** `headRequest`: the request was HEAD (the response has no body whatever its headers say). */
  constructor(
    private readonly sink: ResponseSink,
    private readonly headRequest: boolean,
  ) {}

  /** True once the whole response was parsed. */
  get done(): boolean {
    return this.#state === "done";
  }

  /** True once a head was delivered. */
  get started(): boolean {
    return this.#state !== "head";
  }

  /** Feeds bytes; throws an Error on a malformed response. */
  push(data: Buffer): void {
    let d = this.#buf !== undefined ? Buffer.concat([this.#buf, data]) : data;
    this.#buf = undefined;
    while (d.length > 0) {
      switch (this.#state) {
        case "head": {
          const end = d.indexOf("\r\n\r\n");
          if (end < 0) {
            if (d.length > MAX_HEAD_BYTES) throw new Error("response head too large");
            this.#buf = d;
            return;
          }
          if (end > MAX_HEAD_BYTES) throw new Error("response head too large");
          const text = d.toString("latin1", 0, end);
          d = d.subarray(end + 4);
          this.#parseHead(text);
          break;
        }
        case "length": {
          const n = Math.min(this.#remaining, d.length);
          this.sink.body(n === d.length ? d : d.subarray(0, n));
          this.#remaining -= n;
          d = d.subarray(n);
          if (this.#remaining === 0) {
            this.#finish(d.length > 0);
            return;
          }
          break;
        }
        case "chunk-size": {
          const eol = d.indexOf(CRLF);
          if (eol < 0) {
            if (d.length > 1024) throw new Error("chunk size line too long");
            this.#buf = d;
            return;
          }
          const line = d.toString("latin1", 0, eol);
          d = d.subarray(eol + 2);
          const semi = line.indexOf(";");
          const hex = (semi < 0 ? line : line.slice(0, semi)).trim();
          if (!/^[0-9a-fA-F]{1,12}$/.test(hex)) throw new Error(`invalid chunk size ${JSON.stringify(line)}`);
          this.#remaining = Number.parseInt(hex, 16);
          this.#state = this.#remaining === 0 ? "trailers" : "chunk-data";
          break;
        }
        case "chunk-data": {
          const n = Math.min(this.#remaining, d.length);
          this.sink.body(n === d.length ? d : d.subarray(0, n));
          this.#remaining -= n;
          d = d.subarray(n);
          if (this.#remaining === 0) this.#state = "chunk-crlf";
          break;
        }
        case "chunk-crlf": {
          if (d.length < 2) {
            this.#buf = d;
            return;
          }
          if (d[0] !== 13 || d[1] !== 10) throw new Error("missing CRLF after chunk data");
          d = d.subarray(2);
          this.#state = "chunk-size";
          break;
        }
        case "trailers": {
          const eol = d.indexOf(CRLF);
          if (eol < 0) {
            if (d.length > MAX_HEAD_BYTES) throw new Error("trailers too large");
            this.#buf = d;
            return;
          }
          d = d.subarray(eol + 2);
          // Trailer fields are dropped; the empty line ends the message.
          if (eol === 0) {
            this.#finish(d.length > 0);
            return;
          }
          break;
        }
        case "close":
          this.sink.body(d);
          return;
        case "done":
          // Bytes after a complete response: the connection cannot be trusted again.
          this.#keepAlive = false;
          return;
      }
    }
  }

  /** The connection closed: completes a close-delimited body; false when the response was cut short. */
  eof(): boolean {
    if (this.#state === "close") {
      this.#state = "done";
      this.sink.end();
      return true;
    }
    return this.#state === "done";
  }

  /** Whether the connection may be reused (valid once done). */
  get keepAlive(): boolean {
    return this.#keepAlive;
  }

  #finish(extra: boolean): void {
    this.#state = "done";
    if (extra) this.#keepAlive = false;
    this.sink.end();
  }

  #parseHead(text: string): void {
    const lines = text.split("\r\n");
    const m = /^HTTP\/1\.([01]) (\d{3})(?: (.*))?$/.exec(lines[0] ?? "");
    if (!m) throw new Error(`invalid status line ${JSON.stringify((lines[0] ?? "").slice(0, 80))}`);
    const minor = m[1]!;
    const status = Number(m[2]);
    const raw: string[] = [];
    let contentLength: number | undefined;
    let transferEncoding: string | undefined;
    let connection = "";
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      if (line.startsWith(" ") || line.startsWith("\t")) throw new Error("obsolete header line folding");
      const colon = line.indexOf(":");
      if (colon <= 0) throw new Error(`invalid header line ${JSON.stringify(line.slice(0, 80))}`);
      const name = line.slice(0, colon);
      if (/[\s]/.test(name)) throw new Error(`invalid header name ${JSON.stringify(name)}`);
      const value = line.slice(colon + 1).trim();
      const lower = name.toLowerCase();
      if (lower === "content-length") {
        for (const part of value.split(",")) {
          const p = part.trim();
          if (!/^\d{1,15}$/.test(p)) throw new Error(`invalid Content-Length ${JSON.stringify(value)}`);
          const n = Number(p);
          if (contentLength !== undefined && contentLength !== n) throw new Error("conflicting Content-Length values");
          contentLength = n;
        }
      } else if (lower === "transfer-encoding") {
        transferEncoding = transferEncoding === undefined ? value : `${transferEncoding}, ${value}`;
      } else if (lower === "connection") {
        connection = connection === "" ? value.toLowerCase() : `${connection}, ${value.toLowerCase()}`;
      }
      raw.push(name, value);
    }
    // Interim responses (100 Continue, 103 Early Hints) precede the real one.
    if (status >= 100 && status < 200) {
      if (status === 101) throw new Error("unexpected 101 Switching Protocols to a request without Upgrade");
      return;
    }
    const tokens = connection.split(",").map((t) => t.trim());
    let keepAlive = minor === "1" ? !tokens.includes("close") : tokens.includes("keep-alive");
    let framing: ResponseHead["framing"];
    if (this.headRequest || status === 204 || status === 304) {
      framing = "none";
    } else if (transferEncoding !== undefined) {
      if (contentLength !== undefined) throw new Error("both Transfer-Encoding and Content-Length");
      const codings = transferEncoding.split(",").map((t) => t.trim().toLowerCase());
      framing = codings[codings.length - 1] === "chunked" ? "chunked" : "close";
    } else if (contentLength !== undefined) {
      framing = "length";
    } else {
      framing = "close";
    }
    if (framing === "close") keepAlive = false;
    this.#keepAlive = keepAlive;
    this.sink.head({ status, statusText: m[3] ?? "", rawHeaders: raw, keepAlive, framing });
    if (framing === "none" || (framing === "length" && contentLength === 0)) {
      this.#state = "done";
      this.sink.end();
      return;
    }
    if (framing === "length") {
      this.#remaining = contentLength!;
      this.#state = "length";
    } else {
      this.#state = framing === "chunked" ? "chunk-size" : "close";
    }
  }
}
