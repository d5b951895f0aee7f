/**
 * metrics-server's scrape loop, inside the API server: every resolution
 * (15 s by default) it reads every node's kubelet summary at once, keeps
 * only pods that exist and are bound to the node that reported them (a
 * node must not speak for another's pods), and stores the batch — nodes
 * that failed simply have no new point. The loop starts at the first
 * metrics request, so a cluster nobody asks about metrics scrapes nothing.
 *
 * Failures are logged when nodes start failing (one line per scrape, with
 * a count and an example) and when they recover, not at every scrape: a
 * thousand simulated nodes have no kubelet to answer.
 */
import type { Clock } from "../../machinery/clock.js";
import type { Logger } from "../../machinery/log.js";
import type { ObjectStore } from "../registry/object-store.js";
import type { KObject } from "../registry/types.js";
import type { MetricsStorage } from "./storage.js";
import { decodeSummary, type MetricsBatch } from "./summary-decode.js";
import type { SummaryFetcher } from "./summary-client.js";

/** metrics-server's delayPerSourceMs and maxDelayMs. */
const SPREAD_PER_NODE_MS = 8;
const MAX_SPREAD_MS = 4000;

/** Options of a {@link MetricsScraper}. */
export interface MetricsScraperOptions {
  readonly nodes: ObjectStore;
  readonly pods: ObjectStore;
  readonly fetch: SummaryFetcher;
  readonly storage: MetricsStorage;
  /** Time between scrape starts (metrics-server's --metric-resolution, 15 s). */
  readonly resolutionMs: number;
  readonly clock: Clock;
  readonly logger: Logger;
}

/** See the module comment. */
export class MetricsScraper {
  private timer: NodeJS.Timeout | undefined;
  private readonly ac = new AbortController();
  private current: Promise<void> | undefined;
  private readonly failing = new Set<string>();
  private started = false;

  constructor(private readonly o: MetricsScraperOptions) {}

  /** Starts the loop unless it runs (the first scrape begins now). */
  ensureStarted(): void {
    if (this.started || this.ac.signal.aborted) return;
    this.started = true;
    this.o.logger.info("starting metrics scraper", { resolution: `${this.o.resolutionMs}ms` });
    const tick = () => {
      void this.scrapeOnce();
      this.timer = setTimeout(tick, this.o.resolutionMs);
      this.timer.unref();
    };
    tick();
  }

  /** Stops the loop and waits for a scrape in progress. */
  async stop(): Promise<void> {
    this.ac.abort();
    clearTimeout(this.timer);
    await this.current;
  }

  /** One scrape of every node into the storage; a scrape still running when the next is due is not doubled. */
  scrapeOnce(): Promise<void> {
    if (!this.current) {
      this.current = this.scrape()
        .catch((err: Error) => this.o.logger.error("metrics scrape failed", { err: err.message }))
        .finally(() => {
          this.current = undefined;
        });
    }
    return this.current;
  }

  private async scrape(): Promise<void> {
    const started = this.o.clock.now();
    const [nodes, pods] = await Promise.all([this.o.nodes.listReadOnly(undefined), this.o.pods.listReadOnly(undefined)]);
    const boundTo = new Map<string, string>();
    for (const p of pods.items) boundTo.set(`${p.metadata?.namespace}/${p.metadata?.name}`, String((p.spec as { nodeName?: string } | undefined)?.nodeName ?? ""));
    // As metrics-server: spread the requests over up to 8 ms per node (4 s at most), so a big cluster is not hit at once.
    const spreadMs = Math.min(MAX_SPREAD_MS, SPREAD_PER_NODE_MS * nodes.items.length);
    const results = await Promise.all(nodes.items.map((n) => this.collect(n, boundTo, Math.floor(Math.random() * spreadMs))));
    const names = new Set(nodes.items.map((n) => n.metadata?.name ?? ""));
    for (const n of this.failing) if (!names.has(n)) this.failing.delete(n);
    const batches: MetricsBatch[] = [];
    const newlyFailing: { node: string; err: string }[] = [];
    let recovered = 0;
    for (const [i, r] of results.entries()) {
      const name = nodes.items[i]!.metadata?.name ?? "";
      if ("batch" in r) {
        batches.push(r.batch);
        if (this.failing.delete(name)) recovered++;
      } else if (!this.failing.has(name)) {
        this.failing.add(name);
        // A node that is not Ready failing is expected (metrics-server logs that quietly).
        if (isReady(nodes.items[i]!)) newlyFailing.push({ node: name, err: r.error });
        else this.o.logger.debug("Failed to scrape node, node is not ready", { node: name, err: r.error });
      }
    }
    if (newlyFailing.length > 0) {
      const first = newlyFailing[0]!;
      this.o.logger.warn("Failed to scrape node", { node: first.node, err: first.err, ...(newlyFailing.length > 1 ? { moreNodes: newlyFailing.length - 1 } : {}) });
    }
    if (recovered > 0) this.o.logger.info("scraping nodes again", { nodes: recovered });
    const merged: MetricsBatch = { nodes: new Map(), pods: new Map() };
    for (const b of batches) {
      for (const [k, v] of b.nodes) if (!merged.nodes.has(k)) merged.nodes.set(k, v);
      for (const [k, v] of b.pods) if (!merged.pods.has(k)) merged.pods.set(k, v);
    }
    if (this.ac.signal.aborted) return;
    this.o.storage.store(merged);
    this.o.logger.debug("scrape finished", { nodes: merged.nodes.size, pods: merged.pods.size, ms: this.o.clock.now() - started });
  }

  /** One node's batch (its pods checked against their binding), or why it could not be read. */
  private async collect(node: KObject, boundTo: ReadonlyMap<string, string>, delayMs: number): Promise<{ batch: MetricsBatch } | { error: string }> {
    const name = node.metadata?.name ?? "";
    if (delayMs > 0) await new Promise<void>((resolve) => setTimeout(resolve, delayMs).unref());
    let batch: MetricsBatch;
    try {
      batch = decodeSummary(await this.o.fetch(name, this.ac.signal));
    } catch (err) {
      return { error: (err as Error)?.message ?? String(err) };
    }
    for (const [key, p] of batch.pods) {
      const bound = boundTo.get(key);
      if (bound === undefined) {
        batch.pods.delete(key);
      } else if (bound !== name) {
        this.o.logger.error("Dropping pod metric from unauthorized node", { pod: `${p.namespace}/${p.name}`, sourceNode: name, expectedNode: bound });
        batch.pods.delete(key);
      }
    }
    return { batch };
  }
}

function isReady(node: KObject): boolean {
  const conds = (node.status as { conditions?: { type?: string; status?: string }[] } | undefined)?.conditions ?? [];
  return conds.find((c) => c.type === "Ready")?.status === "True";
}
