/**
 * The API server: HTTPS, authentication and authorization chains, a
 * max-in-flight limit, health and version endpoints, discovery, OpenAPI, and
 * the resource handlers over the cluster store.
 */
import { randomInt } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { CrdController, type CustomResourceRegistry, type ServedCustomResource } from "../apiextensions/crd-controller.js";
import { crdStrategy } from "../apiextensions/crd-strategy.js";
import { CustomOpenAPISpecs } from "../api/openapi/custom-specs.js";
import { BUILTIN_RESOURCES, type ResourceType } from "../api/resources.js";
import { type Clock, systemClock } from "../machinery/clock.js";
import { type Logger, silentLogger } from "../machinery/log.js";
import { notFound, StatusError, tooManyRequests, unauthorized } from "../machinery/status-error.js";
import type { Store } from "../storage/store.js";
import { AdmissionChain, type AdmissionPlugin } from "./admission/admission.js";
import { defaultStorageClass } from "./admission/default-storage-class.js";
import { defaultTolerationSeconds } from "./admission/default-toleration-seconds.js";
import { priority } from "./admission/priority.js";
import { storageObjectInUseProtection } from "./admission/storage-object-in-use-protection.js";
import { namespaceLifecycle } from "./admission/namespace-lifecycle.js";
import { limitRanger } from "./admission/limit-ranger.js";
import { resourceQuota } from "./admission/resource-quota.js";
import { serviceAccountAdmission } from "./admission/service-account.js";
import { podSecurity } from "./admission/pod-security/pod-security.js";
import { nodeRestriction } from "./admission/node-restriction.js";
import { createNodeAuthorizer, type RunningNodeAuthorizer } from "./auth/node/index.js";
import { readerGetter, type ServiceAccountTokens } from "./auth/serviceaccount/service-account-tokens.js";
import { ensureDefaultServiceAccounts } from "./auth/serviceaccount/default-service-accounts.js";
import type { Authenticator, UserInfo } from "./auth/authn.js";
import { type Authorizer, AuthorizerChain, forbiddenError, privilegedGroupAuthorizer } from "./auth/authz.js";
import { impersonate } from "./auth/rbac/impersonation.js";
import { Rbac } from "./auth/rbac/rbac.js";
import { REVIEW_RESOURCES, ReviewHandler } from "./auth/reviews.js";
import { aggregatedDiscovery, apiGroupDoc, apiGroupList, apiResourceList, apiVersions, type DiscoverySource } from "./discovery.js";
import { ResourceHandler, type StrategicPatcher, type TablePrinter } from "./handlers/resource.js";
import type { KubeletClientConfig } from "./kubelet/connection.js";
import { KubeletProxy } from "./kubelet/kubelet-proxy.js";
import { MetricsApi } from "./metrics/metrics-api.js";
import { METRICS_RESOURCES } from "./metrics/resources.js";
import { serveUpgradeAsRequest } from "./kubelet/upgrade-request.js";
import { send, sendError, toStatus } from "./http/respond.js";
import { negotiate } from "./negotiation.js";
import { openapiRoutes } from "./openapi-routes.js";
import { tablePrinter } from "./printers/table-adapter.js";
import { strategicPatchBuiltin } from "./patch/builtin-patcher.js";
import { ObjectStore } from "./registry/object-store.js";
import { codecFor } from "./registry/codecs.js";
import { ObjectCache } from "./registry/object-cache.js";
import { strategyFor } from "./registry/strategies.js";
import type { Strategy } from "./registry/types.js";
import { parseRequestInfo } from "./request-info.js";
import { versionInfo } from "./version.js";

export interface ApiServerOptions {
  readonly store: Store;
  /** TLS serving key and certificate, and the CA that signs client certificates. */
  readonly tls: { readonly key: string; readonly cert: string; readonly clientCA: string };
  readonly bindAddress?: string;
  /** 0 picks a free port. */
  readonly port: number;
  readonly authenticator: Authenticator;
  /**
   * The authorizer chain; undefined means upstream's
   * `--authorization-mode=Node,RBAC` over this server's own RBAC objects
   * (system:masters first, as upstream's privileged group).
   */
  readonly authorizer?: Authorizer;
  readonly logger?: Logger;
  readonly clock?: Clock;
  /** ServiceAccount tokens: TokenRequest, issuer discovery (their authenticators go in `authenticator`); none when absent. */
  readonly serviceAccountTokens?: ServiceAccountTokens;
  /** Admission plugins left out by name (kube-apiserver's --disable-admission-plugins), e.g. "ServiceAccount". */
  readonly disabledAdmissionPlugins?: readonly string[];
  /** Extra admission plugins, after the built-in ones. */
  readonly admission?: readonly AdmissionPlugin[];
  readonly printTable?: TablePrinter;
  readonly strategicPatch?: StrategicPatcher;
  /** Non-mutating requests in flight before 429 (upstream --max-requests-inflight). */
  readonly maxRequestsInFlight?: number;
  /** Mutating requests in flight before 429 (upstream --max-mutating-requests-inflight). */
  readonly maxMutatingRequestsInFlight?: number;
  /**
   * Replaces the built-in strategy of a resource (e.g. Services with
   * ClusterIP allocation, which needs the store); undefined keeps the default.
   */
  readonly strategyFor?: (r: ResourceType) => Strategy | undefined;
  /** Extra non-resource routes (OpenAPI); return true when handled. */
  readonly extraRoutes?: (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean> | boolean;
  /**
   * Routes outside the Kubernetes API served before authentication (the
   * join endpoints, which check the join token themselves); answering true
   * means the request was handled.
   */
  readonly publicRoutes?: (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean> | boolean;
  /** How pods/log, exec, attach, port-forward and nodes/proxy reach kubelets (the `client-kube-apiserver` certificate). */
  readonly kubeletClient?: KubeletClientConfig;
  /** metrics.k8s.io: how often kubelets' summaries are scraped (metrics-server's --metric-resolution, 15 s). */
  readonly metricResolutionMs?: number;
}

const UNAUTHENTICATED_PATHS = new Set(["/healthz", "/livez", "/readyz", "/version", "/version/"]);
const MUTATING = new Set(["POST", "PUT", "PATCH", "DELETE"]);

export class ApiServer implements DiscoverySource, CustomResourceRegistry {
  private readonly stores = new Map<string, ObjectStore>();
  /** Custom resources, by "group/version/plural", with the CRD serving them. */
  private readonly custom = new Map<string, { crd: string; store: ObjectStore }>();
  /** The served custom resources' OpenAPI, merged into /openapi/v2 and /openapi/v3. */
  private readonly openapi = new CustomOpenAPISpecs();
  private readonly crdController: CrdController;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly handler: ResourceHandler;
  /** pods/log, pods/exec|attach|portforward and nodes/proxy: served by kubelets. */
  private readonly kubelet: KubeletProxy;
  /** TokenReview, SubjectAccessReview and friends: answered from the chains, never stored. */
  private readonly reviews: ReviewHandler;
  /** metrics.k8s.io, from kubelets' summaries (what metrics-server serves). */
  private readonly metrics: MetricsApi;
  private server?: Server;
  private inFlight = 0;
  private mutatingInFlight = 0;
  private ready = false;
  private address = "";
  /** Listers for admission: namespaces, priority classes, storage classes. */
  private readonly caches: {
    namespaces: ObjectCache;
    priorityClasses: ObjectCache;
    storageClasses: ObjectCache;
    serviceAccounts: ObjectCache;
    limitRanges: ObjectCache;
    resourceQuotas: ObjectCache;
  };
  /** RBAC: policy index, bootstrap policy, escalation prevention. */
  readonly rbac: Rbac;
  private readonly authorizer: Authorizer;
  /** The Node authorizer's graph of what each node's pods use, kept from the pods and PersistentVolumes. */
  private readonly nodeAuthorizer: RunningNodeAuthorizer;

  constructor(private readonly opts: ApiServerOptions) {
    this.log = opts.logger ?? silentLogger;
    const clock = opts.clock ?? systemClock;
    this.clock = clock;
    for (const r of BUILTIN_RESOURCES) {
      const strategy = opts.strategyFor?.(r) ?? (r.group === "apiextensions.k8s.io" ? crdStrategy : strategyFor(r));
      this.stores.set(`${r.group}/${r.version}/${r.plural}`, new ObjectStore({ store: opts.store, resource: r, strategy, clock, codec: codecFor(r) }));
    }
    this.crdController = new CrdController({
      crds: this.objects("apiextensions.k8s.io", "v1", "customresourcedefinitions"),
      registry: this,
      logger: this.log.with({ component: "crd" }),
    });
    this.caches = {
      namespaces: new ObjectCache(this.objects("", "v1", "namespaces"), this.log),
      priorityClasses: new ObjectCache(this.objects("scheduling.k8s.io", "v1", "priorityclasses"), this.log),
      storageClasses: new ObjectCache(this.objects("storage.k8s.io", "v1", "storageclasses"), this.log),
      serviceAccounts: new ObjectCache(this.objects("", "v1", "serviceaccounts"), this.log),
      limitRanges: new ObjectCache(this.objects("", "v1", "limitranges"), this.log),
      resourceQuotas: new ObjectCache(this.objects("", "v1", "resourcequotas"), this.log),
    };
    this.rbac = new Rbac({
      stores: {
        ClusterRole: this.objects("rbac.authorization.k8s.io", "v1", "clusterroles"),
        ClusterRoleBinding: this.objects("rbac.authorization.k8s.io", "v1", "clusterrolebindings"),
        Role: this.objects("rbac.authorization.k8s.io", "v1", "roles"),
        RoleBinding: this.objects("rbac.authorization.k8s.io", "v1", "rolebindings"),
      },
      logger: this.log.with({ component: "rbac" }),
    });
    this.nodeAuthorizer = createNodeAuthorizer({
      pods: this.objects("", "v1", "pods"),
      persistentVolumes: this.objects("", "v1", "persistentvolumes"),
      logger: this.log.with({ component: "node-authorizer" }),
    });
    this.authorizer = opts.authorizer ?? new AuthorizerChain([privilegedGroupAuthorizer, this.nodeAuthorizer, this.rbac.authorizer]);
    const admission = new AdmissionChain(
      // Upstream's order (kube-apiserver AllOrderedPlugins), the security issue adds its own.
      [
        namespaceLifecycle(this.caches.namespaces),
        limitRanger({ limitRanges: this.caches.limitRanges, live: this.objects("", "v1", "limitranges"), clock }),
        serviceAccountAdmission({ serviceAccounts: { find: (ns, name) => this.caches.serviceAccounts.find(ns, name) } }),
        nodeRestriction({ pods: this.objects("", "v1", "pods"), nodes: this.objects("", "v1", "nodes") }),
        podSecurity({ namespaces: this.caches.namespaces, pods: this.objects("", "v1", "pods"), logger: this.log.with({ component: "pod-security" }) }),
        priority({ priorityClasses: this.caches.priorityClasses }),
        defaultTolerationSeconds(),
        defaultStorageClass({ storageClasses: this.caches.storageClasses }),
        storageObjectInUseProtection(),
        this.rbac.escalationPrevention(() => this.authorizer),
        // Last, as upstream: it charges what every earlier plugin admitted.
        resourceQuota({ quotas: this.objects("", "v1", "resourcequotas"), cached: this.caches.resourceQuotas, clock }),
        ...(opts.admission ?? []),
      ].filter((p) => !(opts.disabledAdmissionPlugins ?? []).includes(p.name)),
    );
    this.handler = new ResourceHandler({
      lookup: (g, v, p) => this.stores.get(`${g}/${v}/${p}`) ?? this.custom.get(`${g}/${v}/${p}`)?.store,
      admission,
      printTable: opts.printTable ?? tablePrinter,
      strategicPatch: opts.strategicPatch ?? strategicPatchBuiltin,
      defaultWatchTimeoutSeconds: () => randomInt(1800, 3600),
    });
    this.kubelet = new KubeletProxy({ pods: this.objects("", "v1", "pods"), nodes: this.objects("", "v1", "nodes"), client: opts.kubeletClient, logger: this.log });
    this.reviews = new ReviewHandler({ authenticator: opts.authenticator, authorizer: this.authorizer, apiAudiences: opts.serviceAccountTokens?.config.apiAudiences });
    opts.serviceAccountTokens?.attach(
      readerGetter({
        serviceAccounts: this.caches.serviceAccounts,
        pods: this.objects("", "v1", "pods"),
        secrets: this.objects("", "v1", "secrets"),
        nodes: this.objects("", "v1", "nodes"),
      }),
      // TokenRequests pass admission as creates of serviceaccounts/token (NodeRestriction limits nodes to their pods' tokens).
      (attrs) => admission.run(attrs),
    );
    this.metrics = new MetricsApi({
      nodes: this.objects("", "v1", "nodes"),
      pods: this.objects("", "v1", "pods"),
      kubeletClient: opts.kubeletClient,
      resolutionMs: opts.metricResolutionMs,
      clock,
      logger: this.log,
    });
  }

  /** The store of one resource, for in-process bootstrap and tests. */
  objects(group: string, version: string, plural: string): ObjectStore {
    const key = `${group}/${version}/${plural}`;
    const s = this.stores.get(key) ?? this.custom.get(key)?.store;
    if (!s) throw new Error(`no resource ${group}/${version}/${plural}`);
    return s;
  }

  resources(): readonly ResourceType[] {
    return [...BUILTIN_RESOURCES, ...REVIEW_RESOURCES, ...METRICS_RESOURCES, ...[...this.custom.values()].map((c) => c.store.resource)];
  }

  serve(crdName: string, resources: readonly ServedCustomResource[]): void {
    for (const [key, c] of this.custom) if (c.crd === crdName) this.custom.delete(key);
    for (const { resource, strategy } of resources) {
      const store = new ObjectStore({ store: this.opts.store, resource, strategy, clock: this.clock });
      this.custom.set(`${resource.group}/${resource.version}/${resource.plural}`, { crd: crdName, store });
    }
    // Unchanged specs leave the documents (and their hashes) as they are.
    this.openapi.set(crdName, resources.flatMap((r) => (r.openapi ? [r.openapi] : [])));
  }

  unserve(crdName: string): void {
    for (const [key, c] of this.custom) if (c.crd === crdName) this.custom.delete(key);
    this.openapi.delete(crdName);
  }

  /** Starts listening; resolves with the bound port. */
  async start(): Promise<number> {
    for (const c of Object.values(this.caches)) await c.start();
    // Before listening: ServiceAccount admission needs them, and the controller that also makes them may start much later.
    await ensureDefaultServiceAccounts({ namespaces: this.objects("", "v1", "namespaces"), serviceAccounts: this.objects("", "v1", "serviceaccounts") }, this.log);
    await this.rbac.start();
    await this.nodeAuthorizer.start();
    await this.crdController.start();
    const server = createServer(
      {
        key: this.opts.tls.key,
        cert: this.opts.tls.cert,
        ca: this.opts.tls.clientCA,
        requestCert: true,
        rejectUnauthorized: false,
      },
      (req, res) => void this.handleRequest(req, res),
    );
    // Upgrades (exec, attach, port-forward) pass the same authentication and authorization as any request.
    server.on("upgrade", (req: IncomingMessage, socket, head: Buffer) => serveUpgradeAsRequest(req, socket, head, (rq, rs) => this.handleRequest(rq, rs)));
    // Watches are long-lived: no request timeout; the watch has its own.
    server.requestTimeout = 0;
    server.headersTimeout = 60_000;
    server.keepAliveTimeout = 65_000;
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.opts.port, this.opts.bindAddress ?? "0.0.0.0", () => {
        server.off("error", reject);
        resolve();
      });
    });
    const port = (server.address() as AddressInfo).port;
    this.address = `${this.opts.bindAddress && this.opts.bindAddress !== "0.0.0.0" ? this.opts.bindAddress : "127.0.0.1"}:${port}`;
    this.ready = true;
    return port;
  }

  async stop(): Promise<void> {
    this.ready = false;
    for (const c of Object.values(this.caches)) c.stop();
    this.rbac.stop();
    this.nodeAuthorizer.stop();
    this.crdController.stop();
    this.kubelet.close();
    await this.metrics.stop();
    const s = this.server;
    if (!s) return;
    await new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    });
  }

  private async handleRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = Date.now();
    const url = new URL(req.url ?? "/", "https://localhost");
    const isWatch = url.searchParams.get("watch") === "true" || url.searchParams.get("watch") === "1" || url.pathname.includes("/watch/");
    const mutating = MUTATING.has(req.method ?? "GET");
    // Long-running requests (watches, logs, exec, proxy) are not counted, as upstream.
    const counted = !isWatch && !KubeletProxy.isLongRunningPath(url.pathname);
    let user: UserInfo | undefined;
    try {
      if (counted) {
        const max = mutating ? (this.opts.maxMutatingRequestsInFlight ?? 200) : (this.opts.maxRequestsInFlight ?? 400);
        const cur = mutating ? this.mutatingInFlight : this.inFlight;
        if (cur >= max) throw tooManyRequests("Too many requests, please try again later.", 1);
        if (mutating) this.mutatingInFlight++;
        else this.inFlight++;
      }
      try {
        if (UNAUTHENTICATED_PATHS.has(url.pathname) || /^\/(healthz|livez|readyz)\//.test(url.pathname)) {
          return await this.serveHealthOrVersion(res, url);
        }
        if (this.opts.publicRoutes && !url.pathname.startsWith("/api") && (await this.opts.publicRoutes(req, res, url))) return;
        user = await this.opts.authenticator.authenticate(req);
        if (!user) throw unauthorized();
        const info = parseRequestInfo(req.method ?? "GET", url);
        user = await impersonate(req, user, this.authorizer);
        const decision = await this.authorizer.authorize(user, info);
        if (decision.decision !== "allow") throw forbiddenError(user, info, decision.reason);
        if (this.reviews.handles(info)) return await this.reviews.serve({ info, url, req, res, user });
        if (this.opts.serviceAccountTokens?.handles(info)) return await this.opts.serviceAccountTokens.serve({ info, url, req, res, user });
        if (this.kubelet.handles(info)) return await this.kubelet.serve({ info, url, req, res, user });
        if (this.metrics.handles(info)) return await this.metrics.serve({ info, url, req, res });
        if (info.isResourceRequest) return await this.handler.handle({ info, url, req, res, user });
        return await this.serveNonResource(req, res, url);
      } finally {
        if (counted) {
          if (mutating) this.mutatingInFlight--;
          else this.inFlight--;
        }
      }
    } catch (err) {
      const status = toStatus(err);
      if (!(err instanceof StatusError)) {
        this.log.error("request failed", { method: req.method, path: url.pathname, err: (err as Error)?.stack ?? String(err) });
      }
      if (res.headersSent) {
        res.end();
      } else sendError(res, err);
      this.log.debug("request", { method: req.method, path: url.pathname, code: status.code, user: user?.username, ms: Date.now() - started });
    }
  }

  private async serveHealthOrVersion(res: ServerResponse, url: URL): Promise<void> {
    const path = url.pathname.replace(/\/$/, "");
    if (path === "/version") return send(res, 200, versionInfo());
    const [, kind, only] = /^\/(healthz|livez|readyz)(?:\/(.+))?$/.exec(path) ?? [];
    if (!kind) throw notFound({ group: "", resource: "" }, path);
    const checks: [string, () => Promise<void>][] = [
      ["ping", async () => {}],
      ["log", async () => {}],
      [
        "etcd",
        async () => {
          await this.opts.store.currentRevision();
        },
      ],
      ["poststarthook/bootstrap-namespaces", async () => {}],
    ];
    if (kind === "readyz") {
      checks.push([
        "shutdown",
        async () => {
          if (!this.ready) throw new Error("server is shutting down");
        },
      ]);
    }
    const selected = only ? checks.filter(([n]) => n === only) : checks;
    if (selected.length === 0) throw notFound({ group: "", resource: "" }, path);
    const lines: string[] = [];
    let ok = true;
    for (const [name, check] of selected) {
      try {
        await check();
        lines.push(`[+]${name} ok`);
      } catch {
        ok = false;
        lines.push(`[-]${name} failed: reason withheld`);
      }
    }
    const verbose = url.searchParams.has("verbose") || !ok;
    const body = only ? (ok ? "ok" : lines.join("\n")) : verbose ? `${lines.join("\n")}\n${kind} check ${ok ? "passed" : "failed"}\n` : "ok";
    res.writeHead(ok ? 200 : 500, { "Content-Type": "text/plain; charset=utf-8", "X-Content-Type-Options": "nosniff" });
    res.end(body);
  }

  private async serveNonResource(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const path = url.pathname.replace(/\/$/, "") || "/";
    if (path === "/api" || path === "/apis") {
      const rendering = negotiate(req.headers.accept, { discovery: true });
      if (rendering.kind === "discovery") {
        const ct = `application/json;g=apidiscovery.k8s.io;v=${rendering.version};as=APIGroupDiscoveryList`;
        return send(res, 200, aggregatedDiscovery(this, path === "/api" ? "api" : "apis", rendering.version), undefined, ct);
      }
      return send(res, 200, path === "/api" ? apiVersions(this.address) : apiGroupList(this), rendering);
    }
    let m = /^\/api\/([^/]+)$/.exec(path);
    if (m) {
      const doc = apiResourceList(this, "", m[1]!);
      if (doc) return send(res, 200, doc);
    }
    m = /^\/apis\/([^/]+)$/.exec(path);
    if (m) {
      const doc = apiGroupDoc(this, m[1]!);
      if (doc) return send(res, 200, doc);
    }
    m = /^\/apis\/([^/]+)\/([^/]+)$/.exec(path);
    if (m) {
      const doc = apiResourceList(this, m[1]!, m[2]!);
      if (doc) return send(res, 200, doc);
    }
    if (openapiRoutes(req, res, url, this.openapi)) return;
    if (this.opts.serviceAccountTokens && (await this.opts.serviceAccountTokens.serveDiscovery(req, res, url))) return;
    if (this.opts.extraRoutes && (await this.opts.extraRoutes(req, res, url))) return;
    res.writeHead(404, { "Content-Type": "text/plain; charset=utf-8" });
    res.end("404 page not found\n");
  }
}
