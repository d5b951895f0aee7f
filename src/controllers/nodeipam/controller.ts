/**
 * The node IPAM controller, as upstream's range allocator
 * (pkg/controller/nodeipam, `--allocate-node-cidrs`): every Node gets a
 * `spec.podCIDR` (and `podCIDRs`) of `/nodeCidrMaskSize` from the cluster
 * CIDR, which its network plugin uses for pod IPs. Ranges Nodes already
 * carry are marked taken before anything is handed out, and a deleted
 * Node's range returns to the pool. When the pool is empty the Node gets a
 * `CIDRNotAvailable` event and is retried with backoff.
 */
import type { Node } from "kubernetes-types/core/v1.js";
import type { EventRecorder } from "../../client/event-recorder.js";
import type { InformerFactory, SharedInformer } from "../../client/informer.js";
import { ResourceClient } from "../../client/resource-client.js";
import { NODES } from "../../client/resources.js";
import type { RestClient } from "../../client/rest-client.js";
import { WorkQueue } from "../../client/work-queue.js";
import { parseCidr } from "../../machinery/cidr.js";
import { type Logger, silentLogger } from "../../machinery/log.js";
import { isNotFound } from "../../machinery/status-error.js";
import { processNextWorkItem } from "../common/workers.js";
import { CidrSet } from "./cidr-set.js";

/** Options of a {@link NodeIpamController}. */
export interface NodeIpamControllerOptions {
  readonly rest: RestClient;
  readonly informers: InformerFactory;
  /** The pod network (`--cluster-cidr`, 10.42.0.0/16). */
  readonly clusterCidr: string;
  /** Size of each node's range (`--node-cidr-mask-size`, 24). */
  readonly nodeCidrMaskSize: number;
  readonly recorder?: EventRecorder;
  readonly logger?: Logger;
}

/** Allocates pod CIDRs to Nodes; {@link run} until the signal aborts. */
export class NodeIpamController {
  private readonly queue = new WorkQueue<string>();
  private readonly nodes: SharedInformer<Node>;
  private readonly client: ResourceClient<Node>;
  private readonly set: CidrSet;
  private readonly log: Logger;
  /** What this controller knows each Node holds, so a delete can free it. */
  private readonly held = new Map<string, string>();

  constructor(private readonly opts: NodeIpamControllerOptions) {
    this.log = opts.logger ?? silentLogger;
    this.set = new CidrSet(parseCidr(opts.clusterCidr), opts.nodeCidrMaskSize);
    this.client = new ResourceClient<Node>(opts.rest, NODES);
    this.nodes = opts.informers.informerFor<Node>(NODES);
    this.nodes.addEventHandler({
      onAdd: (n) => this.queue.add(n.metadata?.name ?? ""),
      onUpdate: (_o, n) => {
        if (!n.spec?.podCIDR) this.queue.add(n.metadata?.name ?? "");
      },
      onDelete: (n) => this.queue.add(n.metadata?.name ?? ""),
    });
  }

  /** Marks every existing range taken, then allocates until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    const stop = () => this.queue.shutDown();
    signal.addEventListener("abort", stop, { once: true });
    try {
      if (!(await this.nodes.waitForSync(signal))) return;
      // Occupy before any allocation, so a restart never hands out a range a Node already has.
      for (const n of this.nodes.list()) this.occupy(n);
      this.log.info("starting node ipam controller", { clusterCIDR: this.opts.clusterCidr, nodeCIDRMaskSize: this.opts.nodeCidrMaskSize });
      while (await processNextWorkItem(this.queue, (name) => this.sync(name), (name, err) => this.retry(name, err))) {
        // each turn handles one node
      }
    } finally {
      signal.removeEventListener("abort", stop);
      this.queue.shutDown();
    }
  }

  private occupy(node: Node): void {
    const name = node.metadata?.name ?? "";
    const cidr = node.spec?.podCIDR;
    if (!cidr) return;
    if (this.set.occupy(cidr)) this.held.set(name, cidr);
    else this.log.info("node has a pod CIDR outside the cluster CIDR; leaving it alone", { node: name, podCIDR: cidr });
  }

  private async sync(name: string): Promise<void> {
    const node = this.nodes.get(name);
    if (!node) {
      const cidr = this.held.get(name);
      if (cidr) {
        this.set.release(cidr);
        this.held.delete(name);
        this.log.info("released pod CIDR of deleted node", { node: name, podCIDR: cidr });
      }
      return;
    }
    if (node.spec?.podCIDR) {
      this.occupy(node);
      return;
    }
    const cidr = this.set.allocateNext();
    if (!cidr) {
      this.opts.recorder?.event(nodeRef(node), undefined, "Normal", "CIDRNotAvailable", "CIDRNotAvailable", `Node ${name} status is now: CIDRNotAvailable`);
      throw new Error(`failed to allocate cidr from cluster cidr ${this.opts.clusterCidr}: CIDR allocation failed; there are no remaining CIDRs left to allocate in the accepted range`);
    }
    try {
      await this.client.patch(name, { spec: { podCIDR: cidr, podCIDRs: [cidr] } }, { type: "strategic", fieldManager: "node-ipam-controller" });
    } catch (err) {
      this.set.release(cidr);
      if (isNotFound(err)) return;
      this.opts.recorder?.event(nodeRef(node), undefined, "Normal", "CIDRAssignmentFailed", "CIDRAssignmentFailed", `Node ${name} status is now: CIDRAssignmentFailed`);
      throw err;
    }
    this.held.set(name, cidr);
    this.log.info("set node pod CIDR", { node: name, podCIDR: cidr });
  }

  private retry(name: string, err: unknown): void {
    this.log.warn("could not allocate a pod CIDR, retrying", { node: name, err: (err as Error).message });
    this.queue.addRateLimited(name);
  }
}

function nodeRef(node: Node) {
  return { apiVersion: "v1", kind: "Node", name: node.metadata?.name ?? "", uid: node.metadata?.uid ?? "" };
}
