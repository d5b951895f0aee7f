/**
 * The namespace controller, as upstream's (pkg/controller/namespace):
 * watches Namespaces and, for each one with a deletionTimestamp, runs the
 * {@link NamespacedResourcesDeleter} until the namespace is empty and
 * finalized.
 *
 * Events are acted on after a 5 s grace period (upstream's, so API
 * servers and store replicas see the deletion and any last-moment
 * creates first). Content still terminating is re-checked after
 * `estimate / 2 + 1` seconds; failures requeue with backoff capped at a
 * minute, so a namespace is retried at least every minute.
 */
import type { Namespace } from "kubernetes-types/core/v1.js";
import type { InformerFactory, SharedInformer } from "../../client/informer.js";
import { BucketRateLimiter, ItemExponentialFailureRateLimiter, MaxOfRateLimiter } from "../../client/rate-limiter.js";
import { NAMESPACES } from "../../client/resources.js";
import type { RestClient } from "../../client/rest-client.js";
import { objectKey } from "../../client/store.js";
import { WorkQueue } from "../../client/work-queue.js";
import { type Logger, silentLogger } from "../../machinery/log.js";
import { restContentApi, restNamespaceApi } from "./api.js";
import { type ContentApi, type NamespaceApi, NamespacedResourcesDeleter, ResourcesRemainingError } from "./sync.js";
import { processNextWorkItem, runController } from "../common/workers.js";

/** Upstream's `namespaceDeletionGracePeriod`. */
export const NAMESPACE_DELETION_GRACE_PERIOD_MS = 5000;

/** Options of a {@link NamespaceController}. */
export interface NamespaceControllerOptions {
  readonly rest: RestClient;
  readonly informers: InformerFactory;
  readonly logger?: Logger;
  /** Namespaces deleted at once (upstream `--concurrent-namespace-syncs`, 10). */
  readonly workers?: number;
  /** Delay before acting on a namespace event (5 s, as upstream). */
  readonly gracePeriodMs?: number;
  /** Override the API (tests). */
  readonly namespaceApi?: NamespaceApi;
  readonly contentApi?: ContentApi;
}

/** The namespace controller; {@link run} until the signal aborts. */
export class NamespaceController {
  // Upstream's nsControllerRateLimiter: 5 ms doubling to 60 s, 10 qps overall.
  private readonly queue = new WorkQueue<string>({
    rateLimiter: new MaxOfRateLimiter<string>(new ItemExponentialFailureRateLimiter<string>(5, 60_000), new BucketRateLimiter<string>(10, 100)),
  });
  private readonly namespaces: SharedInformer<Namespace>;
  private readonly deleter: NamespacedResourcesDeleter;
  private readonly log: Logger;

  constructor(private readonly opts: NamespaceControllerOptions) {
    this.log = opts.logger ?? silentLogger;
    this.namespaces = opts.informers.informerFor<Namespace>(NAMESPACES);
    this.deleter = new NamespacedResourcesDeleter({
      namespaces: opts.namespaceApi ?? restNamespaceApi(opts.rest),
      content: opts.contentApi ?? restContentApi(opts.rest),
      logger: this.log,
    });
    this.namespaces.addEventHandler({
      onAdd: (ns) => this.enqueue(ns),
      onUpdate: (_old, ns) => this.enqueue(ns),
    });
  }

  private enqueue(ns: Namespace): void {
    if (!ns.metadata?.deletionTimestamp) return;
    this.queue.addAfter(objectKey(ns), this.opts.gracePeriodMs ?? NAMESPACE_DELETION_GRACE_PERIOD_MS);
  }

  /** Waits for the namespace cache, then deletes terminating namespaces until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    return runController(signal, {
      name: "namespace",
      log: this.log,
      queues: [this.queue],
      informers: [this.namespaces],
      workers: this.opts.workers ?? 10,
      processNextWorkItem: () => processNextWorkItem(this.queue, (key) => this.sync(key), (key, err) => this.handleErr(key, err)),
    });
  }

  private handleErr(key: string, err: unknown): void {
    if (err instanceof ResourcesRemainingError) {
      const seconds = Math.floor(err.estimate / 2) + 1;
      this.log.debug("content remaining in namespace", { namespace: key, waitSeconds: seconds });
      this.queue.addAfter(key, seconds * 1000);
    } else {
      this.log.warn("deletion of namespace failed", { namespace: key, err: (err as Error).message });
      this.queue.addRateLimited(key);
    }
  }

  /** Re-reads the namespace from the cache: gone means done. */
  private async sync(key: string): Promise<void> {
    const ns = this.namespaces.get(key);
    if (!ns) return;
    await this.deleter.delete(ns.metadata?.name ?? key);
  }
}
