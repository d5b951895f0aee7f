/**
 * The kubelet API (HTTPS, port 10250), as upstream's kubelet server: every
 * request is authenticated (a client certificate from the cluster's client
 * CA, or a bearer token) and authorized as `nodes/<subresource>` on this
 * node before it is routed — 401 `Unauthorized`, 403 `Forbidden (user=…,
 * verb=…, resource=nodes, subresource=…)`. Endpoints: `/healthz`, `/pods`,
 * `/containerLogs/{ns}/{pod}/{container}`, `/stats/summary`, and `/exec`, `/attach`,
 * `/portForward` for the streaming handlers (routes.ts). With no serving
 * certificate given it makes a self-signed one, as upstream does.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { serveUpgradeAsRequest } from "../../apiserver/kubelet/upgrade-request.js";
import { type Clock, systemClock } from "../../machinery/clock.js";
import type { Logger } from "../../machinery/log.js";
import type { ContainerRuntime } from "../../runtime/types.js";
import { serveStatsSummary } from "../stats/summary-handler.js";
import type { StatsProvider } from "../stats/types.js";
import {
  authorizationErrorText,
  bearerToken,
  certificateUser,
  forbiddenText,
  type KubeletAuthorizer,
  type KubeletUser,
  requestAttributes,
  type TokenAuthenticator,
  withAuthenticatedGroup,
} from "./auth.js";
import { serveContainerLogs } from "./container-logs-handler.js";
import { type HealthCheck, serveHealthz } from "./health.js";
import { NOT_FOUND_TEXT, writeText } from "./http-text.js";
import type { PodLookup } from "./pod-lookup.js";
import type { StreamingHandlers } from "./routes.js";
import { loadOrCreateServingCert, selfSignedServingCert, type ServingCert } from "./serving-cert.js";
import { parseStreamingPath, serveStreaming } from "./streaming-routes.js";

/** Upstream's kubelet port. */
export const DEFAULT_KUBELET_PORT = 10250;

/** Options of a {@link KubeletServer}. */
export interface KubeletServerOptions {
  /** This node: the `name` of every authorization check. */
  readonly nodeName: string;
  /** 10250 unless given; 0 picks a free port. */
  readonly port?: number;
  /** "0.0.0.0" unless given. */
  readonly bindAddress?: string;
  /** Serving certificate (chain) and key; a self-signed one is made when absent. */
  readonly servingCert?: ServingCert;
  /** Where a self-signed certificate is kept (`kubelet.crt`, `kubelet.key`); in memory only when absent. */
  readonly certDir?: string;
  /** The node's addresses, for the self-signed certificate's SANs. */
  readonly addresses?: readonly string[];
  /** The cluster's client CA: client certificates it signed authenticate their CN/O. No client certificates when absent. */
  readonly clientCaPem?: string;
  /** Bearer token checks (the API server's TokenReview); tokens are refused when absent. */
  readonly tokenAuthenticator?: TokenAuthenticator;
  /** Decides each request (the API server's SubjectAccessReview). */
  readonly authorizer: KubeletAuthorizer;
  readonly pods: PodLookup;
  readonly runtime: ContainerRuntime;
  /** exec, attach and port-forward protocol handlers; their paths answer 404 when absent. */
  readonly streaming?: StreamingHandlers;
  /** Answers `/stats/summary`; the path answers 404 when absent. */
  readonly stats?: StatsProvider;
  /** More `/healthz` checks after ping and log (the kubelet adds syncloop). */
  readonly healthChecks?: Readonly<Record<string, HealthCheck>>;
  /** Resolves runtimes' relative log paths (/var/log/pods). */
  readonly podLogsDir?: string;
  /** Follow's poll interval (1 s, upstream's). */
  readonly logPollIntervalMs?: number;
  readonly clock?: Clock;
  readonly logger: Logger;
}

/** The kubelet's HTTPS API; see the module comment. */
export class KubeletServer {
  private server?: Server;
  private readonly log: Logger;
  private readonly clock: Clock;
  private boundPort = 0;
  /** Streams handed to the protocol handlers: the server's close does not reach upgraded sockets. */
  private readonly streams = new Set<Duplex>();

  constructor(private readonly o: KubeletServerOptions) {
    this.log = o.logger.with({ component: "kubelet-server" });
    this.clock = o.clock ?? systemClock;
  }

  /** The port listened on (after {@link start}). */
  get port(): number {
    return this.boundPort;
  }

  /** Starts listening; resolves with the bound port. */
  async start(): Promise<number> {
    const cert = await this.servingCert();
    const server = createServer(
      {
        key: cert.keyPem,
        cert: cert.certPem,
        // Ask for a client certificate and verify it against the client CA, but let requests without one
        // through to bearer-token authentication (a bad certificate then counts as none: 401).
        ...(this.o.clientCaPem ? { ca: this.o.clientCaPem, requestCert: true } : { requestCert: false }),
        rejectUnauthorized: false,
      },
      (req, res) => void this.handle(req, res),
    );
    server.on("upgrade", (req: IncomingMessage, socket, head: Buffer) => serveUpgradeAsRequest(req, socket, head, (rq, rs) => this.handle(rq, rs)));
    // Log follows and streams are long-lived.
    server.requestTimeout = 0;
    server.headersTimeout = 60_000;
    server.keepAliveTimeout = 65_000;
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.o.port ?? DEFAULT_KUBELET_PORT, this.o.bindAddress ?? "0.0.0.0", () => {
        server.off("error", reject);
        resolve();
      });
    });
    this.boundPort = (server.address() as AddressInfo).port;
    this.log.info("kubelet server listening", { node: this.o.nodeName, address: this.o.bindAddress ?? "0.0.0.0", port: this.boundPort });
    return this.boundPort;
  }

  /** Stops listening and closes every connection (log follows, exec and port-forward streams end). */
  async stop(): Promise<void> {
    const s = this.server;
    if (!s) return;
    this.server = undefined;
    for (const socket of this.streams) socket.destroy();
    this.streams.clear();
    await new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    });
  }

  private async servingCert(): Promise<ServingCert> {
    if (this.o.servingCert) return this.o.servingCert;
    const addresses = this.o.addresses ?? [];
    return this.o.certDir ? loadOrCreateServingCert(this.o.certDir, this.o.nodeName, addresses) : selfSignedServingCert(this.o.nodeName, addresses);
  }

  /** Upstream's authentication union: certificate, then token. Undefined: 401; a string: the check failed (also 401). */
  private async authenticate(req: IncomingMessage): Promise<KubeletUser | undefined> {
    const fromCert = certificateUser(req);
    if (fromCert) return withAuthenticatedGroup(fromCert);
    const token = bearerToken(req);
    if (!token || !this.o.tokenAuthenticator) return undefined;
    const r = await this.o.tokenAuthenticator.authenticateToken(token);
    if (!r.ok) {
      this.log.warn("unable to authenticate the request due to an error", { err: r.error });
      return undefined;
    }
    return r.user ? withAuthenticatedGroup(r.user) : undefined;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "https://localhost");
    try {
      const user = await this.authenticate(req);
      if (!user) return writeText(res, 401, "Unauthorized");
      const attrs = requestAttributes(user, req.method ?? "GET", url.pathname, this.o.nodeName);
      const d = await this.o.authorizer.authorize(attrs);
      if (d.decision === "error") {
        this.log.error("authorization error", { user: user.username, verb: attrs.verb, resource: attrs.resource, subresource: attrs.subresource, err: d.error });
        return writeText(res, 500, authorizationErrorText(attrs));
      }
      if (d.decision !== "allow") {
        this.log.debug("forbidden", { user: user.username, verb: attrs.verb, subresource: attrs.subresource, reason: d.reason });
        return writeText(res, 403, forbiddenText(attrs));
      }
      await this.route(req, res, url);
    } catch (err) {
      this.log.error("kubelet request failed", { method: req.method, path: url.pathname, err: (err as Error)?.stack ?? String(err) });
      writeText(res, 500, (err as Error)?.message ?? String(err));
    }
  }

  private async route(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    let segments: string[];
    try {
      segments = url.pathname.split("/").filter(Boolean).map(decodeURIComponent);
    } catch {
      return writeText(res, 400, "invalid path encoding");
    }
    const method = req.method ?? "GET";
    const [first] = segments;
    if (first === "healthz") {
      if (method !== "GET" && method !== "HEAD") return writeText(res, 405, "405: Method Not Allowed");
      return serveHealthz(res, url, this.o.healthChecks ?? {});
    }
    if (first === "pods" && segments.length === 1) {
      if (method !== "GET") return writeText(res, 405, "405: Method Not Allowed");
      const body = JSON.stringify({ kind: "PodList", apiVersion: "v1", metadata: {}, items: this.o.pods.pods() });
      res.writeHead(200, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) });
      res.end(body);
      return;
    }
    if (first === "containerLogs" && segments.length === 4) {
      if (method !== "GET") return writeText(res, 405, "405: Method Not Allowed");
      return serveContainerLogs(res, url, { namespace: segments[1]!, pod: segments[2]!, container: segments[3]! }, {
        pods: this.o.pods,
        runtime: this.o.runtime,
        clock: this.clock,
        logger: this.log,
        podLogsDir: this.o.podLogsDir,
        pollIntervalMs: this.o.logPollIntervalMs,
      });
    }
    if (first === "stats" && segments.length === 2 && segments[1] === "summary" && this.o.stats) {
      return serveStatsSummary(method, url, res, this.o.stats, this.log);
    }
    const streaming = parseStreamingPath(segments);
    if (streaming) {
      return serveStreaming(req, res, streaming, { pods: this.o.pods, runtime: this.o.runtime, handlers: this.o.streaming ?? {}, logger: this.log, open: this.streams });
    }
    writeText(res, 404, NOT_FOUND_TEXT);
  }
}
