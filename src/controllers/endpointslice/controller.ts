/**
 * The EndpointSlice controller, as upstream's (pkg/controller/endpointslice):
 * keeps the EndpointSlices of every Service with a selector, named
 * `<service>-<random>`, labelled `kubernetes.io/service-name` and
 * `endpointslice.kubernetes.io/managed-by`, owned by the Service (so the
 * garbage collector removes them with it), at most 100 endpoints each.
 *
 * Handlers only enqueue Service keys: Service changes at once; pod changes
 * after the batch period; slice changes someone else made (or deletions
 * the controller did not make) after a second, so the controller repairs
 * its slices; Node zone changes for the Services of pods on that Node.
 * A sync refuses a cache older than its own last writes; failures requeue
 * with backoff (1 s doubling) and are dropped after 15 retries.
 */
import type { Node, Pod, Service } from "kubernetes-types/core/v1.js";
import type { EndpointSlice } from "kubernetes-types/discovery/v1.js";
import type { EventRecorder } from "../../client/event-recorder.js";
import type { InformerFactory, SharedInformer } from "../../client/informer.js";
import { BucketRateLimiter, ItemExponentialFailureRateLimiter, MaxOfRateLimiter } from "../../client/rate-limiter.js";
import { ResourceClient } from "../../client/resource-client.js";
import { ENDPOINT_SLICES, NODES, PODS, SERVICES } from "../../client/resources.js";
import type { RestClient } from "../../client/rest-client.js";
import { objectKey } from "../../client/store.js";
import { WorkQueue } from "../../client/work-queue.js";
import { type Logger, silentLogger } from "../../machinery/log.js";
import { isConflict } from "../../machinery/status-error.js";
import { Reconciler } from "./reconciler.js";
import { SERVICE_NAME_LABEL, ZONE_LABEL } from "./slices.js";
import { type EndpointSliceSyncDeps, StaleInformerCacheError, syncEndpointSlices } from "./sync.js";
import { EndpointSliceTracker } from "./tracker.js";
import { servicesSelecting, servicesToUpdateOnPodChange } from "./util/pods.js";
import { TriggerTimeTracker } from "./util/trigger-time-tracker.js";
import { processNextWorkItem, runController } from "../common/workers.js";

/** Retries of one Service before it is dropped from the queue (upstream: 15). */
export const MAX_RETRIES = 15;
/** Minimum delay before syncing a Service after a change to one of its slices (upstream: 1 s). */
export const SLICE_CHANGE_MIN_SYNC_DELAY_MS = 1000;
/** The slice index: managed slices by `ns/<service-name label>`. */
const BY_SERVICE_INDEX = "endpointslice-controller:service";

/** Options of an {@link EndpointSliceController}. */
export interface EndpointSliceControllerOptions {
  readonly rest: RestClient;
  readonly informers: InformerFactory;
  readonly recorder?: EventRecorder;
  readonly logger?: Logger;
  /** Concurrent syncs (upstream `--concurrent-service-endpoint-syncs`, 5). */
  readonly workers?: number;
  /** Endpoints per slice (upstream `--max-endpoints-per-slice`, 100). */
  readonly maxEndpointsPerSlice?: number;
  /** Delay before a pod change is synced (upstream `--endpointslice-updates-batch-period`, 0). */
  readonly batchPeriodMs?: number;
}

/** The EndpointSlice controller; {@link run} until the signal aborts. */
export class EndpointSliceController {
  // Upstream: 1 s doubling to 1000 s per Service, 10 qps overall.
  private readonly queue = new WorkQueue<string>({
    rateLimiter: new MaxOfRateLimiter<string>(new ItemExponentialFailureRateLimiter<string>(1000, 1000_000), new BucketRateLimiter<string>(10, 100)),
  });
  private readonly services: SharedInformer<Service>;
  private readonly pods: SharedInformer<Pod>;
  private readonly nodes: SharedInformer<Node>;
  private readonly slices: SharedInformer<EndpointSlice>;
  private readonly tracker = new EndpointSliceTracker();
  private readonly reconciler: Reconciler;
  private readonly deps: EndpointSliceSyncDeps;
  private readonly log: Logger;

  constructor(private readonly opts: EndpointSliceControllerOptions) {
    this.log = opts.logger ?? silentLogger;
    this.services = opts.informers.informerFor<Service>(SERVICES);
    this.pods = opts.informers.informerFor<Pod>(PODS);
    this.nodes = opts.informers.informerFor<Node>(NODES);
    this.slices = opts.informers.informerFor<EndpointSlice>(ENDPOINT_SLICES);

    const client = new ResourceClient<EndpointSlice>(opts.rest, ENDPOINT_SLICES);
    this.reconciler = new Reconciler({
      writer: {
        create: (ns, s) => client.namespace(ns).create(s),
        update: (ns, s) => client.namespace(ns).update(s),
        delete: (ns, name) => client.namespace(ns).delete(name),
      },
      node: (name) => this.nodes.get(name),
      tracker: this.tracker,
      maxEndpointsPerSlice: opts.maxEndpointsPerSlice,
      logger: this.log,
    });
    this.slices.addIndexer(BY_SERVICE_INDEX, (s) => {
      const svc = s.metadata?.labels?.[SERVICE_NAME_LABEL];
      return svc && this.reconciler.managedByController(s) ? [`${s.metadata?.namespace ?? ""}/${svc}`] : [];
    });
    this.deps = {
      service: (key) => this.services.get(key),
      podsIn: (ns) => this.pods.byNamespace(ns),
      slicesOf: (ns, name) => this.slices.byIndex(BY_SERVICE_INDEX, `${ns}/${name}`),
      reconciler: this.reconciler,
      tracker: this.tracker,
      triggerTimes: new TriggerTimeTracker(),
      warn: (regarding, reason, action, note) => opts.recorder?.event(regarding, undefined, "Warning", reason, action, note),
    };

    this.services.addEventHandler({
      onAdd: (svc) => this.queue.add(objectKey(svc)),
      onUpdate: (_old, svc) => this.queue.add(objectKey(svc)),
      onDelete: (svc) => this.queue.add(objectKey(svc)),
    });
    this.pods.addEventHandler({
      onAdd: (pod) => this.enqueuePodServices(pod),
      onUpdate: (oldPod, pod) => {
        for (const key of servicesToUpdateOnPodChange(this.servicesIn(pod), oldPod, pod)) this.queue.addAfter(key, this.batchPeriod());
      },
      onDelete: (pod) => this.enqueuePodServices(pod),
    });
    this.nodes.addEventHandler({
      onAdd: (node, initial) => {
        if (!initial) this.enqueueNodeServices(node);
      },
      onUpdate: (oldNode, node) => {
        if (oldNode.metadata?.labels?.[ZONE_LABEL] !== node.metadata?.labels?.[ZONE_LABEL]) this.enqueueNodeServices(node);
      },
      onDelete: (node) => this.enqueueNodeServices(node),
    });
    this.slices.addEventHandler({
      onAdd: (s) => {
        if (this.reconciler.managedByController(s) && this.tracker.shouldSync(s)) this.queueServiceForSlice(s);
      },
      onUpdate: (old, s) => {
        // A user may relabel a slice to another Service: both need a sync.
        if (old.metadata?.labels?.[SERVICE_NAME_LABEL] !== s.metadata?.labels?.[SERVICE_NAME_LABEL]) {
          this.queueServiceForSlice(s);
          this.queueServiceForSlice(old);
          return;
        }
        const managedByChanged = this.reconciler.managedByController(old) !== this.reconciler.managedByController(s);
        if (managedByChanged || (this.reconciler.managedByController(s) && this.tracker.shouldSync(s))) this.queueServiceForSlice(s);
      },
      onDelete: (s) => {
        // A deletion the controller did not make means the Service needs its slice back.
        if (this.reconciler.managedByController(s) && this.tracker.has(s) && !this.tracker.handleDeletion(s)) this.queueServiceForSlice(s);
      },
    });
  }

  private batchPeriod(): number {
    return this.opts.batchPeriodMs ?? 0;
  }

  private servicesIn(pod: Pod): Service[] {
    return this.services.byNamespace(pod.metadata?.namespace ?? "");
  }

  private enqueuePodServices(pod: Pod): void {
    for (const key of servicesSelecting(this.servicesIn(pod), pod.metadata?.labels)) this.queue.addAfter(key, this.batchPeriod());
  }

  /**
   * A Node appeared, went or changed zone: the Services of its pods may
   * need the endpoints' zone updated. (Upstream reads zones only when a
   * Service syncs; skiff also follows Node changes.)
   */
  private enqueueNodeServices(node: Node): void {
    const name = node.metadata?.name;
    if (!name) return;
    for (const pod of this.pods.list()) {
      if (pod.spec?.nodeName === name) this.enqueuePodServices(pod);
    }
  }

  private queueServiceForSlice(s: EndpointSlice): void {
    const svc = s.metadata?.labels?.[SERVICE_NAME_LABEL];
    if (!svc) return;
    this.queue.addAfter(`${s.metadata?.namespace}/${svc}`, Math.max(SLICE_CHANGE_MIN_SYNC_DELAY_MS, this.batchPeriod()));
  }

  /** Waits for the caches, then syncs Services until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    return runController(signal, {
      name: "endpointslice",
      log: this.log,
      queues: [this.queue],
      informers: [this.services, this.pods, this.nodes, this.slices],
      workers: this.opts.workers ?? 5,
      processNextWorkItem: () => processNextWorkItem(this.queue, (key) => syncEndpointSlices(this.deps, key), (key, err) => this.handleErr(key, err)),
    });
  }

  private handleErr(key: string, err: unknown): void {
    if (this.queue.numRequeues(key) < MAX_RETRIES) {
      // A stale cache or a conflict clears up by itself: not worth a line at info.
      const quiet = err instanceof StaleInformerCacheError || isConflict(err) || /the object has been modified/.test((err as Error).message);
      if (quiet) this.log.debug("endpoint slices out of date, retrying", { service: key, err: (err as Error).message });
      else this.log.info("error syncing endpoint slices for service, retrying", { service: key, err: (err as Error).message });
      this.queue.addRateLimited(key);
      return;
    }
    this.log.warn("retry budget exceeded, dropping service out of the queue", { service: key, err: (err as Error).message });
    this.queue.forget(key);
  }
}
