/**
 * Raw HTTPS requests to a test server with the client certificate of its
 * kubeconfig (or none), for tests that check status codes, headers and
 * bodies byte for byte rather than through a client library.
 */
import { readFileSync } from "node:fs";
import { type Agent, request } from "node:https";
import { parse as parseYaml } from "yaml";

export interface Credentials {
  readonly ca: Buffer;
  readonly cert: Buffer;
  readonly key: Buffer;
}

/** The fields tests read from a JSON body: a Status, an object or a list. */
export interface Doc {
  kind?: string;
  apiVersion?: string;
  status?: unknown;
  code?: number;
  reason?: string;
  message?: string;
  details?: {
    name?: string;
    group?: string;
    kind?: string;
    retryAfterSeconds?: number;
    causes?: { reason?: string; message?: string; field?: string }[];
  };
  metadata?: {
    name?: string;
    namespace?: string;
    resourceVersion?: string;
    uid?: string;
    continue?: string;
    remainingItemCount?: number;
  };
  data?: Record<string, string>;
  items?: Doc[];
}

export interface WatchEvent {
  type: string;
  object: Doc;
}

export interface RawResponse {
  readonly code: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  readonly json: Doc | undefined;
}

export interface RawRequest {
  readonly method?: string;
  readonly path: string;
  readonly body?: string | Buffer;
  readonly contentType?: string;
  readonly headers?: Record<string, string>;
  /** Send no client certificate (an anonymous request). */
  readonly anonymous?: boolean;
  /** Send the body with chunked transfer encoding (no Content-Length), in 64 KiB writes. */
  readonly chunked?: boolean;
  readonly agent?: Agent;
}

/** Reads the cluster CA and the client certificate and key from a kubeconfig. */
export function credentialsOf(kubeconfig: string): Credentials {
  const kc = parseYaml(readFileSync(kubeconfig, "utf8")) as {
    clusters: { cluster: Record<string, string> }[];
    users: { user: Record<string, string> }[];
  };
  const b64 = (s: string | undefined, what: string) => {
    if (!s) throw new Error(`kubeconfig ${kubeconfig} has no ${what}`);
    return Buffer.from(s, "base64");
  };
  return {
    ca: b64(kc.clusters[0]?.cluster["certificate-authority-data"], "certificate-authority-data"),
    cert: b64(kc.users[0]?.user["client-certificate-data"], "client-certificate-data"),
    key: b64(kc.users[0]?.user["client-key-data"], "client-key-data"),
  };
}

/** A client for one server on 127.0.0.1:port. */
export class RawClient {
  constructor(
    readonly port: number,
    readonly creds: Credentials,
  ) {}

  static fromKubeconfig(kubeconfig: string, port: number): RawClient {
    return new RawClient(port, credentialsOf(kubeconfig));
  }

  request(r: RawRequest): Promise<RawResponse> {
    return new Promise((resolve, reject) => {
      const body = r.body === undefined ? undefined : Buffer.isBuffer(r.body) ? r.body : Buffer.from(r.body);
      const headers: Record<string, string | number> = { Accept: "application/json", ...r.headers };
      if (body) {
        headers["Content-Type"] = r.contentType ?? "application/json";
        if (!r.chunked) headers["Content-Length"] = body.length;
      }
      const req = request(
        {
          host: "127.0.0.1",
          port: this.port,
          method: r.method ?? "GET",
          path: r.path,
          headers,
          ca: this.creds.ca,
          ...(r.anonymous ? {} : { cert: this.creds.cert, key: this.creds.key }),
          agent: r.agent ?? false,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (d: Buffer) => chunks.push(d));
          res.on("error", reject);
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            let json: Doc | undefined;
            try {
              json = JSON.parse(text) as Doc;
            } catch {
              json = undefined;
            }
            resolve({ code: res.statusCode ?? 0, headers: res.headers, text, json });
          });
        },
      );
      req.on("error", reject);
      if (body && r.chunked) {
        for (let i = 0; i < body.length; i += 65536) req.write(body.subarray(i, i + 65536));
        req.end();
      } else req.end(body);
    });
  }

  get(path: string, extra: Partial<RawRequest> = {}): Promise<RawResponse> {
    return this.request({ ...extra, path });
  }

  post(path: string, body: unknown, extra: Partial<RawRequest> = {}): Promise<RawResponse> {
    return this.request({ ...extra, method: "POST", path, body: typeof body === "string" || Buffer.isBuffer(body) ? body : JSON.stringify(body) });
  }

  put(path: string, body: unknown, extra: Partial<RawRequest> = {}): Promise<RawResponse> {
    return this.request({ ...extra, method: "PUT", path, body: typeof body === "string" || Buffer.isBuffer(body) ? body : JSON.stringify(body) });
  }

  /**
   * Opens a watch and collects its events until `stopAfter` events arrived or
   * the server ends the stream; resolves with the HTTP code and the events.
   */
  watch(path: string, stopAfter: number): Promise<{ code: number; events: WatchEvent[] }> {
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: "127.0.0.1",
          port: this.port,
          method: "GET",
          path,
          ca: this.creds.ca,
          cert: this.creds.cert,
          key: this.creds.key,
          agent: false,
        },
        (res) => {
          const events: WatchEvent[] = [];
          let buf = "";
          let done = false;
          const finish = () => {
            if (done) return;
            done = true;
            res.destroy();
            resolve({ code: res.statusCode ?? 0, events });
          };
          res.setEncoding("utf8");
          res.on("data", (d: string) => {
            buf += d;
            let nl: number;
            while ((nl = buf.indexOf("\n")) >= 0) {
              const line = buf.slice(0, nl).trim();
              buf = buf.slice(nl + 1);
              if (line) events.push(JSON.parse(line) as WatchEvent);
              if (events.length >= stopAfter) return finish();
            }
          });
          res.on("end", finish);
          res.on("error", (err) => (done ? undefined : reject(err)));
        },
      );
      req.on("error", reject);
      req.end();
    });
  }
}
