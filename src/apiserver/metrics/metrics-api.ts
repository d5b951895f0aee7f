/**
 * `metrics.k8s.io/v1beta1`, served by the API server itself (what
 * metrics-server provides as an aggregated API), so `kubectl top node`,
 * `kubectl top pod [--containers]` and autoscalers work:
 *
 * - `GET /apis/metrics.k8s.io/v1beta1/nodes[/NAME]` → NodeMetrics(List);
 * - `GET /apis/metrics.k8s.io/v1beta1/[namespaces/NS/]pods[/NAME]` → PodMetrics(List);
 * - lists take `labelSelector` and `fieldSelector` (metadata.name,
 *   metadata.namespace), matched against the nodes and pods themselves, and
 *   come sorted by (namespace and) name;
 * - an object without metrics yet is 404 `nodemetrics.metrics.k8s.io "N"
 *   not found` / `podmetrics.metrics.k8s.io "NS/N" not found`, and a node or
 *   pod that does not exist is the core 404 (`pods "N" not found`), as
 *   metrics-server answers;
 * - get and list only; watch and writes are 405.
 *
 * Figures come from the scraper (scraper.ts): the first request starts it,
 * and usage needs two scrapes, so right after start lists are empty and
 * `kubectl top` says "metrics not available yet", as with a fresh
 * metrics-server.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { type Clock, systemClock } from "../../machinery/clock.js";
import { type LabelSelector, parseLabelSelector, SelectorParseError } from "../../machinery/labels.js";
import type { Logger } from "../../machinery/log.js";
import { badRequest, methodNotSupported, notFound } from "../../machinery/status-error.js";
import { parseFieldSelector, type FieldSelector } from "../field-selectors.js";
import { send } from "../http/respond.js";
import { KubeletConnections, type KubeletClientConfig } from "../kubelet/connection.js";
import { negotiate, type Rendering } from "../negotiation.js";
import type { ObjectStore } from "../registry/object-store.js";
import type { KObject } from "../registry/types.js";
import type { RequestInfo } from "../request-info.js";
import { type NodeMetrics, nodeMetrics, type PodMetrics, podMetrics } from "./objects.js";
import { METRICS_API_VERSION, METRICS_GROUP, METRICS_VERSION } from "./resources.js";
import { MetricsScraper } from "./scraper.js";
import { MetricsStorage } from "./storage.js";
import { kubeletSummaryFetcher, type SummaryFetcher } from "./summary-client.js";
import { type MetricsRow, metricsTable } from "./table.js";

/** metrics-server's --metric-resolution default. */
export const DEFAULT_METRIC_RESOLUTION_MS = 15_000;
/** metrics-server's --kubelet-request-timeout default. */
const DEFAULT_KUBELET_REQUEST_TIMEOUT_MS = 10_000;

/** Options of a {@link MetricsApi}. */
export interface MetricsApiOptions {
  readonly nodes: ObjectStore;
  readonly pods: ObjectStore;
  /** How kubelets are reached (the API server's kubelet client certificate). */
  readonly kubeletClient?: KubeletClientConfig;
  /** Reads a node's summary; over `kubeletClient` when absent (tests inject one). */
  readonly fetch?: SummaryFetcher;
  /** Time between scrapes (15 s). */
  readonly resolutionMs?: number;
  readonly clock?: Clock;
  readonly logger: Logger;
}

/** One metrics request (after authentication and authorization). */
export interface MetricsRequest {
  readonly info: RequestInfo;
  readonly url: URL;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
}

/** NodeMetricsList or PodMetricsList. */
interface MetricsList {
  readonly kind: "NodeMetricsList" | "PodMetricsList";
  readonly apiVersion: string;
  readonly metadata: Record<string, never>;
  readonly items: readonly (NodeMetrics | PodMetrics)[];
}

const NODE_METRICS = { group: METRICS_GROUP, resource: "nodemetrics" };
const POD_METRICS = { group: METRICS_GROUP, resource: "podmetrics" };

/** See the module comment. */
export class MetricsApi {
  private readonly scraper: MetricsScraper;
  private readonly storage: MetricsStorage;
  private readonly connections: KubeletConnections | undefined;
  private readonly clock: Clock;

  constructor(private readonly o: MetricsApiOptions) {
    const resolutionMs = o.resolutionMs ?? DEFAULT_METRIC_RESOLUTION_MS;
    this.clock = o.clock ?? systemClock;
    this.storage = new MetricsStorage(resolutionMs);
    this.connections = o.fetch ? undefined : new KubeletConnections(o.nodes, o.kubeletClient);
    const fetch = o.fetch ?? kubeletSummaryFetcher(this.connections!, Math.min(DEFAULT_KUBELET_REQUEST_TIMEOUT_MS, resolutionMs));
    this.scraper = new MetricsScraper({
      nodes: o.nodes,
      pods: o.pods,
      fetch,
      storage: this.storage,
      resolutionMs,
      clock: this.clock,
      logger: o.logger.with({ component: "metrics" }),
    });
  }

  /** Whether `info` addresses the metrics group. */
  handles(info: RequestInfo): boolean {
    return info.isResourceRequest && info.group === METRICS_GROUP;
  }

  /** Scrapes every node now (what the periodic loop does); resolves once the batch is stored. */
  scrape(): Promise<void> {
    return this.scraper.scrapeOnce();
  }

  /** Stops scraping and closes kubelet connections. */
  async stop(): Promise<void> {
    await this.scraper.stop();
    this.connections?.close();
  }

  async serve(r: MetricsRequest): Promise<void> {
    const { info } = r;
    const known = info.version === METRICS_VERSION && ((info.resource === "nodes" && !info.namespace) || info.resource === "pods");
    if (!known || info.subresource) throw notFound({ group: info.group, resource: info.subresource ? `${info.resource}/${info.subresource}` : info.resource }, info.name || info.resource);
    const q = info.resource === "nodes" ? NODE_METRICS : POD_METRICS;
    if (info.verb !== "get" && info.verb !== "list") throw methodNotSupported({ group: METRICS_GROUP, resource: info.resource }, info.verb);
    const rendering = negotiate(r.req.headers.accept, { table: true });
    this.scraper.ensureStarted();
    const now = this.clock.now();
    if (info.resource === "nodes") {
      if (info.verb === "get") {
        const node = await this.o.nodes.get(undefined, info.name);
        const u = this.storage.node(info.name);
        if (!u) throw notFound(q, info.name);
        const m = nodeMetrics(node, u, now);
        return this.respond(r.res, rendering, m, [{ object: m, cpuNanoCores: u.cpuNanoCores, memoryBytes: u.memoryBytes, windowMs: u.windowMs }], false);
      }
      const { labelSelector, fieldSelector } = selectors(r.url, info.resource);
      const nodes = (await this.o.nodes.listReadOnly(undefined, { labelSelector })).items.filter((n) => !fieldSelector || fieldSelector.matches(n));
      const rows: MetricsRow[] = [];
      const items: NodeMetrics[] = [];
      for (const n of sortByName(nodes)) {
        const u = this.storage.node(n.metadata?.name ?? "");
        if (!u) continue;
        const m = nodeMetrics(n, u, now);
        items.push(m);
        rows.push({ object: m, cpuNanoCores: u.cpuNanoCores, memoryBytes: u.memoryBytes, windowMs: u.windowMs });
      }
      return this.respond(r.res, rendering, { kind: "NodeMetricsList", apiVersion: METRICS_API_VERSION, metadata: {}, items } satisfies MetricsList, rows, true);
    }
    if (info.verb === "get") {
      const pod = await this.o.pods.get(info.namespace, info.name);
      const u = this.storage.pod(info.namespace, info.name);
      if (!u) throw notFound(q, `${info.namespace}/${info.name}`);
      const m = podMetrics(pod, u, now);
      return this.respond(r.res, rendering, m, [podRow(m, u)], false);
    }
    const { labelSelector, fieldSelector } = selectors(r.url, info.resource);
    const pods = (await this.o.pods.listReadOnly(info.namespace || undefined, { labelSelector })).items.filter((p) => !fieldSelector || fieldSelector.matches(p));
    const rows: MetricsRow[] = [];
    const items: PodMetrics[] = [];
    for (const p of sortByName(pods)) {
      const u = this.storage.pod(p.metadata?.namespace ?? "", p.metadata?.name ?? "");
      if (!u) continue;
      const m = podMetrics(p, u, now);
      items.push(m);
      rows.push(podRow(m, u));
    }
    return this.respond(r.res, rendering, { kind: "PodMetricsList", apiVersion: METRICS_API_VERSION, metadata: {}, items } satisfies MetricsList, rows, true);
  }

  private respond(res: ServerResponse, rendering: Rendering, body: NodeMetrics | PodMetrics | MetricsList, rows: MetricsRow[], list: boolean): void {
    send(res, 200, rendered(rendering, body, rows, list), rendering.kind === "yaml" ? rendering : undefined);
  }
}

/** The body for `rendering`: the object or list itself, a Table, or PartialObjectMetadata. */
function rendered(rendering: Rendering, body: NodeMetrics | PodMetrics | MetricsList, rows: MetricsRow[], list: boolean): unknown {
  if (rendering.kind === "table") {
    const include = rendering.includeObject === "None" || rendering.includeObject === "Object" ? rendering.includeObject : "Metadata";
    return metricsTable(rows, include, `meta.k8s.io/${rendering.version}`);
  }
  if (rendering.kind === "partial-metadata") {
    const gv = `meta.k8s.io/${rendering.version}`;
    const partial = (o: NodeMetrics | PodMetrics) => ({ kind: "PartialObjectMetadata", apiVersion: gv, metadata: o.metadata });
    return list ? { kind: "PartialObjectMetadataList", apiVersion: gv, metadata: {}, items: (body as MetricsList).items.map(partial) } : partial(body as NodeMetrics | PodMetrics);
  }
  return body;
}

function podRow(m: PodMetrics, u: { windowMs: number; containers: readonly { cpuNanoCores: number; memoryBytes: number }[] }): MetricsRow {
  let cpu = 0;
  let mem = 0;
  for (const c of u.containers) {
    cpu += c.cpuNanoCores;
    mem += c.memoryBytes;
  }
  return { object: m, cpuNanoCores: cpu, memoryBytes: mem, windowMs: u.windowMs };
}

/** Sorted by namespace, then name (the order the Kube API lists in). */
function sortByName(objs: readonly KObject[]): KObject[] {
  const key = (o: KObject) => [o.metadata?.namespace ?? "", o.metadata?.name ?? ""] as const;
  return [...objs].sort((a, b) => {
    const [an, ann] = key(a);
    const [bn, bnn] = key(b);
    return an !== bn ? (an < bn ? -1 : 1) : ann < bnn ? -1 : ann > bnn ? 1 : 0;
  });
}

function selectors(url: URL, plural: string): { labelSelector: LabelSelector; fieldSelector: FieldSelector | undefined } {
  try {
    return {
      labelSelector: parseLabelSelector(url.searchParams.get("labelSelector") ?? undefined),
      // Only metadata.name and metadata.namespace: metrics types register no other field labels.
      fieldSelector: parseFieldSelector(url.searchParams.get("fieldSelector") ?? undefined, METRICS_GROUP, plural),
    };
  } catch (err) {
    if (err instanceof SelectorParseError) {
      throw badRequest(err.message.startsWith("unable to parse requirement") ? err.message : `unable to parse requirement: ${err.message}`);
    }
    throw err;
  }
}
