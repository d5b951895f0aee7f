/**
 * skiff's ingress controller (networking.k8s.io/v1), as ingress-nginx and
 * Traefik serve the standard Ingress spec: it creates the default
 * IngressClass `skiff`, watches Ingresses, IngressClasses, Services,
 * EndpointSlices and `kubernetes.io/tls` Secrets, and proxies HTTP and
 * HTTPS (SNI) requests to the ready endpoints of the Services the served
 * Ingresses name. Served Ingresses get `status.loadBalancer.ingress` set to
 * the given node addresses. Not supported, and said so: `resource`
 * backends (answered 503 with the reason, and a Warning Event on the
 * Ingress) and ExternalName Services (503). Plain HTTP is served as is
 * even for hosts with TLS (Traefik's default; ingress-nginx would
 * redirect).
 */
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createNetServer, isIP, type Server as NetServer, type Socket } from "node:net";
import { createServer as createTlsServer, type SecureContext } from "node:tls";
import type { Secret, Service } from "kubernetes-types/core/v1.js";
import type { EndpointSlice } from "kubernetes-types/discovery/v1.js";
import type { Ingress, IngressClass, IngressLoadBalancerIngress } from "kubernetes-types/networking/v1.js";
import type { ClientConfig } from "../../client/config.js";
import { EventRecorder } from "../../client/event-recorder.js";
import { SharedInformer, stripManagedFields } from "../../client/informer.js";
import { type KubeObject, ResourceClient } from "../../client/resource-client.js";
import { ENDPOINT_SLICES, INGRESS_CLASSES, INGRESSES, SECRETS, SERVICES } from "../../client/resources.js";
import { RestClient } from "../../client/rest-client.js";
import { WorkQueue } from "../../client/work-queue.js";
import { Backoff, sleep } from "../../machinery/backoff.js";
import type { Logger } from "../../machinery/log.js";
import { StatusError } from "../../machinery/status-error.js";
import type { KeyPairPem } from "../../pki/certs.js";
import { Backends, SERVICE_NAME_LABEL } from "./backends.js";
import { INGRESS_CLASS_NAME, INGRESS_CONTROLLER_NAME, isOurs, skiffIngressClass } from "./ingress-class.js";
import { FastFront, KEEP_ALIVE_TIMEOUT_MS } from "./fast-path.js";
import { IngressProxy, type ProxyRouter, type RouteTarget } from "./proxy.js";
import { hostOf, RouteTable } from "./routes.js";
import { defaultIngressCertificate, TlsStore } from "./tls-store.js";

/** Where a listener binds; port 0 picks a free one. */
export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

/** Options of {@link startIngressController}. */
export interface IngressControllerOptions {
  readonly client: ClientConfig;
  readonly httpListen: ListenAddress;
  readonly httpsListen: ListenAddress;
  /** Written to `status.loadBalancer.ingress` of served Ingresses (IPs as `ip`, names as `hostname`). */
  readonly statusAddresses: readonly string[];
  readonly logger: Logger;
  /** Served when no Secret covers a host; a throwaway self-signed one unless given (e.g. one the cluster CA signed). */
  readonly defaultCertificate?: KeyPairPem;
}

/** A running ingress controller. */
export interface IngressController {
  readonly httpPort: number;
  readonly httpsPort: number;
  /** Endpoints (`ip:port`) with a connection pool now (tests, diagnostics). */
  upstreams(): string[];
  /** Closes the listeners (in-flight requests finish), stops the watches. */
  stop(): Promise<void>;
}

const SLICE_SERVICE_INDEX = "ingress-service";
const EVENT_CONTROLLER = "skiff-ingress-controller";
/** How long requests in flight may take to finish when the controller stops. */
const STOP_GRACE_MS = 10_000;

function keyOf(o: KubeObject): string {
  return `${o.metadata?.namespace ?? ""}/${o.metadata?.name ?? ""}`;
}

function desiredStatus(addresses: readonly string[]): IngressLoadBalancerIngress[] {
  return addresses.map((a) => (isIP(a) ? { ip: a } : { hostname: a }));
}

function sameStatus(ing: Ingress, want: IngressLoadBalancerIngress[]): boolean {
  const have = (ing.status?.loadBalancer?.ingress ?? []).map((e) => ({ ...(e.ip ? { ip: e.ip } : {}), ...(e.hostname ? { hostname: e.hostname } : {}) }));
  return JSON.stringify(have) === JSON.stringify(want);
}

/** Starts the controller: the IngressClass, the watches, then both listeners. */
export async function startIngressController(opts: IngressControllerOptions): Promise<IngressController> {
  const log = opts.logger.with({ component: "ingress-controller" });
  const rest = new RestClient({ ...opts.client, userAgent: opts.client.userAgent ?? "skiff-ingress-controller" });
  const ingressClient = new ResourceClient<Ingress>(rest, INGRESSES);
  const classClient = new ResourceClient<IngressClass>(rest, INGRESS_CLASSES);
  const abort = new AbortController();
  const signal = abort.signal;

  const informer = <T extends KubeObject>(source: ResourceClient<T>, name: string, fieldSelector?: string) =>
    new SharedInformer<T>({ source, name, logger: opts.logger, transform: stripManagedFields, ...(fieldSelector ? { fieldSelector } : {}) });
  const ingresses = informer(ingressClient, "ingresses");
  const classes = informer(classClient, "ingressclasses");
  const services = informer(new ResourceClient<Service>(rest, SERVICES), "services");
  const slices = informer(new ResourceClient<EndpointSlice>(rest, ENDPOINT_SLICES), "endpointslices");
  const secrets = informer(new ResourceClient<Secret>(rest, SECRETS), "tls-secrets", "type=kubernetes.io/tls");
  slices.addIndexer(SLICE_SERVICE_INDEX, (s) => {
    const svc = s.metadata?.labels?.[SERVICE_NAME_LABEL];
    return svc ? [`${s.metadata?.namespace ?? ""}/${svc}`] : [];
  });

  const backends = new Backends({
    service: (ns, name) => services.get(`${ns}/${name}`),
    slices: (ns, svc) => slices.byIndex(SLICE_SERVICE_INDEX, `${ns}/${svc}`),
  });
  const tls = new TlsStore((key) => secrets.get(key), log);
  const events = new EventRecorder({ sink: rest, reportingController: EVENT_CONTROLLER, logger: opts.logger });
  const statusQueue = new WorkQueue<string>();
  const want = desiredStatus(opts.statusAddresses);

  // ---- the routing table, rebuilt (coalesced) whenever an Ingress, class or TLS Secret changes ----
  let table = new RouteTable([]);
  let served = new Set<string>();
  /** Warnings already recorded, per Ingress generation. */
  const warned = new Set<string>();
  let rebuildQueued = false;
  const rebuild = () => {
    rebuildQueued = false;
    const cls = classes.list();
    const ours = ingresses.list().filter((i) => isOurs(i, cls));
    table = new RouteTable(ours);
    tls.rebuild(ours);
    const next = new Set(ours.map(keyOf));
    for (const ing of ours) {
      if (!sameStatus(ing, want)) statusQueue.add(keyOf(ing));
      warnUnsupported(ing);
    }
    for (const k of next) if (!served.has(k)) log.info("serving Ingress", { ingress: k });
    for (const k of served) if (!next.has(k)) log.info("no longer serving Ingress", { ingress: k });
    served = next;
  };
  const scheduleRebuild = () => {
    if (rebuildQueued) return;
    rebuildQueued = true;
    queueMicrotask(rebuild);
  };
  const warnUnsupported = (ing: Ingress) => {
    const gen = `${keyOf(ing)}@${ing.metadata?.generation ?? 0}`;
    if (warned.has(gen)) return;
    warned.add(gen);
    const backs = [ing.spec?.defaultBackend, ...(ing.spec?.rules ?? []).flatMap((r) => (r.http?.paths ?? []).map((p) => p.backend))];
    for (const b of backs) {
      if (b?.resource === undefined) continue;
      const what = `${b.resource.apiGroup ? `${b.resource.apiGroup}/` : ""}${b.resource.kind} ${b.resource.name}`;
      const ref = { apiVersion: "networking.k8s.io/v1", kind: "Ingress", namespace: ing.metadata?.namespace, name: ing.metadata?.name, uid: ing.metadata?.uid };
      events.event(ref, undefined, "Warning", "UnsupportedBackend", "Sync", `resource backend ${what} is not supported by ${INGRESS_CONTROLLER_NAME}; requests routed to it get 503`);
    }
  };
  ingresses.addEventHandler({ onAdd: scheduleRebuild, onUpdate: scheduleRebuild, onDelete: scheduleRebuild });
  classes.addEventHandler({ onAdd: scheduleRebuild, onUpdate: scheduleRebuild, onDelete: scheduleRebuild });
  secrets.addEventHandler({ onAdd: scheduleRebuild, onUpdate: scheduleRebuild, onDelete: scheduleRebuild });
  const serviceChanged = (o: Service) => backends.serviceChanged(o.metadata?.namespace ?? "", o.metadata?.name ?? "");
  services.addEventHandler({ onAdd: serviceChanged, onUpdate: (_o, n) => serviceChanged(n), onDelete: serviceChanged });
  const sliceChanged = (s: EndpointSlice) => {
    const svc = s.metadata?.labels?.[SERVICE_NAME_LABEL];
    if (svc) backends.serviceChanged(s.metadata?.namespace ?? "", svc);
  };
  slices.addEventHandler({
    onAdd: sliceChanged,
    onUpdate: (o, n) => {
      sliceChanged(o);
      sliceChanged(n);
    },
    onDelete: sliceChanged,
  });

  const router: ProxyRouter = {
    route(hostHeader: string | undefined, path: string): RouteTarget {
      const host = hostOf(hostHeader);
      const m = table.match(host, path);
      if (m === undefined) {
        return { status: 404, body: `no Ingress rule matches host "${host}" and path "${path}", and no Ingress sets a defaultBackend` };
      }
      const b = m.backend;
      if (b.type === "resource") {
        return { status: 503, body: `Ingress ${b.ingress} routes here to resource backend ${b.description}, which ${INGRESS_CONTROLLER_NAME} does not support` };
      }
      return { pool: backends.pool(b.namespace, b.service, b.port) };
    },
  };

  // ---- start: watches, the IngressClass, the listeners ----
  const all = [ingresses, classes, services, slices, secrets] as SharedInformer<KubeObject>[];
  const runs = all.map((i) => i.run(signal));
  const classReady = ensureIngressClass(classClient, log, signal);
  const defaultCert = opts.defaultCertificate ?? (await defaultIngressCertificate());
  const synced = await Promise.all(all.map((i) => i.waitForSync(signal)));
  if (synced.includes(false)) throw new Error("ingress controller stopped before its caches synced");
  rebuild();

  const proxy = new IngressProxy(router, log);
  // The listeners take connections on the fast path (fast-path.ts); what it does not serve, node:http does.
  const httpFallback = createHttpServer({ keepAlive: true });
  const httpsFallback = createHttpServer({ keepAlive: true });
  const httpFront = new FastFront(httpFallback, (req, res) => proxy.handle(req, res, "http"));
  const httpsFront = new FastFront(httpsFallback, (req, res) => proxy.handle(req, res, "https"));
  const httpServer = createNetServer((socket) => httpFront.accept(socket));
  const httpsServer = createTlsServer(
    {
      cert: defaultCert.certPem,
      key: defaultCert.keyPem,
      ALPNProtocols: ["http/1.1"],
      SNICallback: (servername: string, cb: (err: Error | null, ctx?: SecureContext) => void) => cb(null, tls.lookup(servername)),
    },
    (socket) => httpsFront.accept(socket),
  );
  const connections = new Set<Socket>();
  for (const [server, scheme] of [
    [httpFallback, "http"],
    [httpsFallback, "https"],
  ] as const) {
    // Client keep-alive as nginx's default keepalive_timeout (75 s).
    server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
    server.headersTimeout = KEEP_ALIVE_TIMEOUT_MS + 1_000;
    server.requestTimeout = 0;
    server.on("request", (req: IncomingMessage, res: ServerResponse) => proxy.handle(req, res, scheme));
    server.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) => {
      connections.add(socket);
      socket.once("close", () => connections.delete(socket));
      proxy.upgrade(req, socket, head, scheme);
    });
    server.on("clientError", (_err, socket: Socket) => {
      if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
      else socket.destroy();
    });
  }
  const listen = (server: NetServer, at: ListenAddress) =>
    new Promise<number>((resolve, reject) => {
      server.once("error", reject);
      server.listen(at.port, at.host, () => {
        server.off("error", reject);
        const addr = server.address();
        resolve(typeof addr === "object" && addr !== null ? addr.port : at.port);
      });
    });
  let httpPort: number;
  let httpsPort: number;
  try {
    httpPort = await listen(httpServer, opts.httpListen);
    httpsPort = await listen(httpsServer, opts.httpsListen);
  } catch (err) {
    httpServer.close();
    abort.abort();
    await Promise.allSettled(runs);
    throw err;
  }
  log.info("ingress controller listening", { host: opts.httpListen.host, httpPort, httpsHost: opts.httpsListen.host, httpsPort, class: INGRESS_CLASS_NAME });

  const statusWorker = runStatusWorker(statusQueue, ingresses, ingressClient, classes, want, log);
  return {
    httpPort,
    httpsPort,
    upstreams: () => backends.upstreamKeys(),
    async stop() {
      abort.abort();
      statusQueue.shutDown();
      const closed = Promise.all([httpServer, httpsServer].map((s) => new Promise<void>((r) => s.close(() => r()))));
      // Idle keep-alive connections would hold close() open; busy ones get a grace period to finish their request.
      for (const s of [httpFallback, httpsFallback, httpFront, httpsFront]) s.closeIdleConnections();
      for (const s of connections) s.destroy();
      const grace = setTimeout(() => {
        for (const s of [httpFallback, httpsFallback, httpFront, httpsFront]) s.closeAllConnections();
      }, STOP_GRACE_MS);
      await closed;
      clearTimeout(grace);
      backends.close();
      await Promise.allSettled([...runs, statusWorker, classReady]);
      await events.shutdown();
      log.info("ingress controller stopped");
    },
  };
}

/** Creates the `skiff` IngressClass unless it exists, retrying until it is there or `signal` aborts. */
async function ensureIngressClass(client: ResourceClient<IngressClass>, log: Logger, signal: AbortSignal): Promise<void> {
  const backoff = new Backoff(500, 30_000);
  while (!signal.aborted) {
    try {
      await client.create(skiffIngressClass(), { signal });
      log.info("created the default IngressClass", { name: INGRESS_CLASS_NAME, controller: INGRESS_CONTROLLER_NAME });
      return;
    } catch (err) {
      if (err instanceof StatusError && err.reason === "AlreadyExists") {
        const have = await client.get(INGRESS_CLASS_NAME, { signal }).catch(() => undefined);
        if (have !== undefined && have.spec?.controller !== INGRESS_CONTROLLER_NAME) {
          log.warn("IngressClass skiff exists with another controller; Ingresses of that class are not served", { controller: have.spec?.controller ?? "" });
        }
        return;
      }
      if (signal.aborted) return;
      log.warn("cannot create the IngressClass; retrying", { name: INGRESS_CLASS_NAME, err: (err as Error).message });
    }
    await sleep(backoff.next(), signal).catch(() => {});
  }
}

/** Writes `status.loadBalancer.ingress` of queued Ingresses that are still served and differ. */
async function runStatusWorker(
  queue: WorkQueue<string>,
  ingresses: SharedInformer<Ingress>,
  client: ResourceClient<Ingress>,
  classes: SharedInformer<IngressClass>,
  want: IngressLoadBalancerIngress[],
  log: Logger,
): Promise<void> {
  for (;;) {
    const key = await queue.get();
    if (key === undefined) return;
    try {
      const ing = ingresses.get(key);
      if (ing !== undefined && isOurs(ing, classes.list()) && !sameStatus(ing, want)) {
        const [ns, name] = key.split("/") as [string, string];
        await client.namespace(ns).patch(name, { status: { loadBalancer: { ingress: want } } }, { type: "merge", subresource: "status" });
        log.info("updated Ingress status", { ingress: key, addresses: want.map((w) => w.ip ?? w.hostname ?? "").join(",") });
      }
      queue.forget(key);
    } catch (err) {
      if (!(err instanceof StatusError && err.code === 404)) {
        log.warn("cannot update Ingress status; retrying", { ingress: key, err: (err as Error).message });
        queue.addRateLimited(key);
      }
    } finally {
      queue.done(key);
    }
  }
}
