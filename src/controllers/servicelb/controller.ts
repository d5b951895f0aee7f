/**
 * ServiceLB, as k3s runs it for clusters without a cloud load balancer:
 * every `type: LoadBalancer` Service without a `loadBalancerClass` gets
 * `status.loadBalancer.ingress` = the serving nodes' addresses
 * ({@link desiredIngress}), kept current as nodes come, go and change
 * readiness, and cleared when the Service stops being a LoadBalancer. The
 * traffic itself needs no pods here: each node's service proxy answers on
 * its own addresses for LoadBalancer ingress IPs, as upstream kube-proxy
 * does for any load balancer IP.
 */
import type { Node, Service } from "kubernetes-types/core/v1.js";
import type { SharedInformer } from "../../client/informer.js";
import { ResourceClient } from "../../client/resource-client.js";
import { NODES, SERVICES } from "../../client/resources.js";
import type { RestClient } from "../../client/rest-client.js";
import { objectKey } from "../../client/store.js";
import { systemTimers, type Timers } from "../../client/timers.js";
import { WorkQueue } from "../../client/work-queue.js";
import { type Logger, silentLogger } from "../../machinery/log.js";
import { isConflict, isNotFound } from "../../machinery/status-error.js";
import { errorMessage } from "../common/errors.js";
import { processNextWorkItem, runController } from "../common/workers.js";
import type { Controller, ControllerContext } from "../manager.js";
import { desiredIngress, sameIngress, servedByServiceLB } from "./ingress.js";

/** The status writes the controller makes; {@link restServiceLBApi} for a real server. */
export interface ServiceLBApi {
  updateStatus(svc: Service): Promise<Service>;
}

export function restServiceLBApi(rest: RestClient): ServiceLBApi {
  const services = new ResourceClient<Service>(rest, SERVICES);
  return { updateStatus: (svc) => services.namespace(svc.metadata!.namespace!).updateStatus(svc) };
}

export interface ServiceLBControllerOptions {
  readonly services: SharedInformer<Service>;
  readonly nodes: SharedInformer<Node>;
  readonly api: ServiceLBApi;
  readonly logger?: Logger;
  readonly timers?: Timers;
}

/** Fills LoadBalancer Services' ingress addresses. {@link run} until the signal aborts. */
export class ServiceLBController implements Controller {
  readonly queue: WorkQueue<string>;
  private readonly log: Logger;

  constructor(private readonly opts: ServiceLBControllerOptions) {
    this.log = opts.logger ?? silentLogger;
    this.queue = new WorkQueue<string>({ timers: opts.timers ?? systemTimers });
    const consider = (svc: Service) => {
      // A Service that stopped being ours may still carry our addresses: look at it once more.
      if (servedByServiceLB(svc) || (svc.status?.loadBalancer?.ingress?.length ?? 0) > 0) this.queue.add(objectKey(svc));
    };
    opts.services.addEventHandler({ onAdd: consider, onUpdate: (_old, cur) => consider(cur) });
    // Any node change may change every LoadBalancer's addresses; the sync skips Services already right.
    const allServices = () => {
      for (const svc of opts.services.list()) consider(svc);
    };
    opts.nodes.addEventHandler({ onAdd: allServices, onUpdate: allServices, onDelete: allServices });
  }

  async run(signal: AbortSignal): Promise<void> {
    return runController(signal, {
      name: "service-lb",
      log: this.log,
      queues: [this.queue],
      informers: [this.opts.services, this.opts.nodes],
      workers: 1,
      processNextWorkItem: () =>
        processNextWorkItem(
          this.queue,
          (key) => this.sync(key),
          (key, err) => {
            this.log.error("error updating load balancer status, will retry", { service: key, err: errorMessage(err) });
            this.queue.addRateLimited(key);
          },
        ),
    });
  }

  /** Brings one Service's `status.loadBalancer` to what it should say. */
  async sync(key: string): Promise<void> {
    const svc = this.opts.services.get(key);
    if (!svc) return;
    const want = servedByServiceLB(svc) ? desiredIngress(this.opts.nodes.list()) : [];
    if (sameIngress(svc.status?.loadBalancer?.ingress, want)) return;
    const next: Service = { ...svc, status: { ...svc.status, loadBalancer: want.length > 0 ? { ingress: want } : {} } };
    try {
      await this.opts.api.updateStatus(next);
      this.log.info("updated load balancer status", { service: key, ingress: want.map((i) => i.ip).join(",") || "none" });
    } catch (err) {
      if (isNotFound(err)) return;
      // A newer Service is on its way through the informer, which queues it again.
      if (isConflict(err)) return;
      throw err;
    }
  }
}

/** The `service-lb-controller` of a controller manager (k3s' ServiceLB). */
export function newServiceLBController(ctx: ControllerContext): ServiceLBController {
  return new ServiceLBController({
    services: ctx.informers.informerFor<Service>(SERVICES),
    nodes: ctx.informers.informerFor<Node>(NODES),
    api: restServiceLBApi(ctx.rest),
    logger: ctx.logger.with({ controller: "service-lb" }),
  });
}
