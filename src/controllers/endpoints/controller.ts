/**
 * The Endpoints controller, as upstream's (pkg/controller/endpoint): keeps
 * one Endpoints object per Service with a selector, listing the selected
 * pods' addresses (ready and not ready) for every port.
 *
 * Handlers only enqueue Service keys: Service changes at once, pod changes
 * (for every Service the pod was or is a member of) after the batch period,
 * and deleted Endpoints so a Service's are recreated. A sync re-reads
 * everything from the caches; failures requeue with backoff and are
 * dropped after 15 retries, as upstream. At start every existing Endpoints
 * is queued once, so Endpoints whose Service vanished while the controller
 * was down are removed.
 */
import type { Endpoints, Pod, Service } from "kubernetes-types/core/v1.js";
import type { EventRecorder } from "../../client/event-recorder.js";
import type { InformerFactory, SharedInformer } from "../../client/informer.js";
import { ResourceClient } from "../../client/resource-client.js";
import { ENDPOINTS, PODS, SERVICES } from "../../client/resources.js";
import type { RestClient } from "../../client/rest-client.js";
import { objectKey } from "../../client/store.js";
import { WorkQueue } from "../../client/work-queue.js";
import { type Logger, silentLogger } from "../../machinery/log.js";
import { isConflict } from "../../machinery/status-error.js";
import { servicesSelecting, servicesToUpdateOnPodChange } from "../endpointslice/util/pods.js";
import { TriggerTimeTracker } from "../endpointslice/util/trigger-time-tracker.js";
import { type EndpointsSyncDeps, LEADER_ELECTION_ANNOTATION, syncEndpoints } from "./sync.js";
import { processNextWorkItem, runController } from "../common/workers.js";

/** Retries of one Service before it is dropped from the queue (upstream: 15, about 82 s of backoff). */
export const MAX_RETRIES = 15;

/** Options of an {@link EndpointsController}. */
export interface EndpointsControllerOptions {
  readonly rest: RestClient;
  readonly informers: InformerFactory;
  readonly recorder?: EventRecorder;
  readonly logger?: Logger;
  /** Concurrent syncs (upstream `--concurrent-endpoint-syncs`, 5). */
  readonly workers?: number;
  /** Delay before a pod change is synced, so bursts coalesce (upstream `--endpoint-updates-batch-period`, 0). */
  readonly batchPeriodMs?: number;
}

/** The Endpoints controller; {@link run} until the signal aborts. */
export class EndpointsController {
  private readonly queue = new WorkQueue<string>();
  private readonly services: SharedInformer<Service>;
  private readonly pods: SharedInformer<Pod>;
  private readonly endpoints: SharedInformer<Endpoints>;
  private readonly log: Logger;
  private readonly deps: EndpointsSyncDeps;

  constructor(private readonly opts: EndpointsControllerOptions) {
    this.log = opts.logger ?? silentLogger;
    this.services = opts.informers.informerFor<Service>(SERVICES);
    this.pods = opts.informers.informerFor<Pod>(PODS);
    this.endpoints = opts.informers.informerFor<Endpoints>(ENDPOINTS);

    this.services.addEventHandler({
      onAdd: (svc) => this.queue.add(objectKey(svc)),
      onUpdate: (_old, svc) => this.queue.add(objectKey(svc)),
      onDelete: (svc) => this.queue.add(objectKey(svc)),
    });
    this.pods.addEventHandler({
      onAdd: (pod) => this.enqueuePodServices(pod),
      onUpdate: (oldPod, pod) => {
        const keys = servicesToUpdateOnPodChange(this.services.byNamespace(pod.metadata?.namespace ?? ""), oldPod, pod);
        for (const key of keys) this.queue.addAfter(key, this.opts.batchPeriodMs ?? 0);
      },
      onDelete: (pod) => this.enqueuePodServices(pod),
    });
    this.endpoints.addEventHandler({ onDelete: (ep) => this.queue.add(objectKey(ep)) });

    const client = new ResourceClient<Endpoints>(opts.rest, ENDPOINTS);
    this.deps = {
      service: (key) => this.services.get(key),
      podsIn: (ns) => this.pods.byNamespace(ns),
      endpoints: (key) => this.endpoints.get(key),
      writer: {
        create: (ns, ep) => client.namespace(ns).create(ep),
        update: (ns, ep) => client.namespace(ns).update(ep),
        delete: (ns, name) => client.namespace(ns).delete(name),
      },
      triggerTimes: new TriggerTimeTracker(),
      warn: (regarding, reason, action, note) => opts.recorder?.event(regarding, undefined, "Warning", reason, action, note),
      log: this.log,
    };
  }

  private enqueuePodServices(pod: Pod): void {
    const keys = servicesSelecting(this.services.byNamespace(pod.metadata?.namespace ?? ""), pod.metadata?.labels);
    for (const key of keys) this.queue.addAfter(key, this.opts.batchPeriodMs ?? 0);
  }

  /** Waits for the caches, queues leftover Endpoints, then syncs Services until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    return runController(signal, {
      name: "endpoint",
      log: this.log,
      queues: [this.queue],
      informers: [this.services, this.pods, this.endpoints],
      workers: this.opts.workers ?? 5,
      processNextWorkItem: () => processNextWorkItem(this.queue, (key) => syncEndpoints(this.deps, key), (key, err) => this.handleErr(key, err)),
      afterSync: () => {
        this.checkLeftoverEndpoints();
        return undefined;
      },
    });
  }

  /**
   * Queues the Service of every Endpoints once, so Endpoints left behind by
   * a Service deleted while no controller ran are found (leader-election
   * records excepted: they have no Service by design).
   */
  private checkLeftoverEndpoints(): void {
    for (const ep of this.endpoints.list()) {
      if (ep.metadata?.annotations?.[LEADER_ELECTION_ANNOTATION] !== undefined) continue;
      this.queue.add(objectKey(ep));
    }
  }

  private handleErr(key: string, err: unknown): void {
    if (this.queue.numRequeues(key) < MAX_RETRIES) {
      // A conflict only means the cache was behind our last write.
      if (!isConflict(err)) this.log.info("error syncing endpoints, retrying", { service: key, err: (err as Error).message });
      this.queue.addRateLimited(key);
      return;
    }
    this.log.warn("dropping service out of the queue", { service: key, err: (err as Error).message });
    this.queue.forget(key);
  }
}
