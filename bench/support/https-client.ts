/**
 * A small HTTPS client for the API benchmark: reads the admin kubeconfig a
 * server wrote, and sends requests over a keep-alive agent that presents the
 * admin client certificate. Replies are collected whole; watch streams are
 * split into lines as they arrive.
 */
import { readFileSync } from "node:fs";
import type { IncomingHttpHeaders } from "node:http";
import { Agent, request } from "node:https";
import { parse } from "yaml";

/** Where the server is and the TLS material to talk to it. */
export interface Credentials {
  readonly host: string;
  readonly port: number;
  /** CA that signed the serving certificate (PEM). */
  readonly ca: string;
  /** Client certificate and key (PEM). */
  readonly cert: string;
  readonly key: string;
}

interface Kubeconfig {
  clusters?: { cluster?: { server?: string; "certificate-authority-data"?: string } }[];
  users?: { user?: { "client-certificate-data"?: string; "client-key-data"?: string } }[];
}

const unb64 = (s: string | undefined, what: string): string => {
  if (!s) throw new Error(`kubeconfig has no ${what}`);
  return Buffer.from(s, "base64").toString("utf8");
};

/** The first cluster and user of a kubeconfig with embedded certificates. */
export function readKubeconfig(path: string): Credentials {
  const kc = parse(readFileSync(path, "utf8")) as Kubeconfig;
  const cluster = kc.clusters?.[0]?.cluster;
  const user = kc.users?.[0]?.user;
  const server = new URL(cluster?.server ?? "");
  return {
    host: server.hostname.replace(/^\[|\]$/g, ""),
    port: Number(server.port || 443),
    ca: unb64(cluster?.["certificate-authority-data"], "certificate-authority-data"),
    cert: unb64(user?.["client-certificate-data"], "client-certificate-data"),
    key: unb64(user?.["client-key-data"], "client-key-data"),
  };
}

export interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

export interface RequestOptions {
  readonly body?: string;
  readonly headers?: Record<string, string>;
}

/** A handle on one open watch stream. */
export interface Stream {
  /** Resolves with the status once response headers arrive (the first event, for a skiff watch). */
  readonly response: Promise<number>;
  /** Settles when the stream ends or fails. */
  readonly done: Promise<void>;
  close(): void;
}

export class Client {
  readonly agent: Agent;

  constructor(
    readonly creds: Credentials,
    maxSockets: number,
  ) {
    this.agent = new Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets, ca: creds.ca, cert: creds.cert, key: creds.key });
  }

  /** Sends one request and collects the whole reply. */
  send(method: string, path: string, opts: RequestOptions = {}): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = { Accept: "application/json", ...opts.headers };
      if (opts.body !== undefined) {
        headers["Content-Type"] ??= "application/json";
        headers["Content-Length"] = String(Buffer.byteLength(opts.body));
      }
      const req = request({ agent: this.agent, host: this.creds.host, port: this.creds.port, method, path, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks) }));
        res.on("error", reject);
      });
      req.on("error", reject);
      req.end(opts.body);
    });
  }

  /** Opens a long-lived GET and calls `onLine` with each newline-terminated line of the body. */
  stream(path: string, onLine: (line: string) => void): Stream {
    let resolveStatus!: (n: number) => void;
    let rejectStatus!: (e: Error) => void;
    const response = new Promise<number>((res, rej) => {
      resolveStatus = res;
      rejectStatus = rej;
    });
    response.catch(() => {});
    let closed = false;
    const req = request({ agent: this.agent, host: this.creds.host, port: this.creds.port, method: "GET", path, headers: { Accept: "application/json" } });
    const done = new Promise<void>((resolve, reject) => {
      req.on("response", (res) => {
        resolveStatus(res.statusCode ?? 0);
        res.setEncoding("utf8");
        let buf = "";
        res.on("data", (chunk: string) => {
          buf += chunk;
          let nl = buf.indexOf("\n");
          while (nl >= 0) {
            const line = buf.slice(0, nl);
            buf = buf.slice(nl + 1);
            if (line) onLine(line);
            nl = buf.indexOf("\n");
          }
        });
        res.on("end", () => resolve());
        res.on("close", () => resolve());
        res.on("error", (e) => (closed ? resolve() : reject(e)));
      });
      req.on("error", (e) => {
        rejectStatus(e);
        if (closed) resolve();
        else reject(e);
      });
    });
    done.catch(() => {});
    req.end();
    return {
      response,
      done,
      close() {
        closed = true;
        req.destroy();
      },
    };
  }

  close(): void {
    this.agent.destroy();
  }
}
