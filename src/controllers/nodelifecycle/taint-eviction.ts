/**
 * The taint eviction controller (upstream's pkg/controller/tainteviction,
 * the NoExecute taint manager): a pod on a node with NoExecute taints it
 * does not all tolerate is deleted at once; one that tolerates them all is
 * deleted when its shortest tolerationSeconds runs out (never, when none
 * has tolerationSeconds). Before deleting, the pod gets the condition
 * DisruptionTarget (reason DeletionByTaintManager) and a
 * `TaintManagerEviction` event "Marking for deletion Pod ns/name"; a
 * scheduled deletion the taint's removal cancels gets "Cancelling deletion
 * of Pod ns/name".
 */
import type { Node, Pod, Taint, Toleration } from "kubernetes-types/core/v1.js";
import type { SharedInformer } from "../../client/informer.js";
import { sleepOn, systemTimers, type Timers } from "../../client/timers.js";
import { WorkQueue } from "../../client/work-queue.js";
import { type Logger, silentLogger } from "../../machinery/log.js";
import { deepEqual } from "../common/equality.js";
import { processNextWorkItem } from "../common/workers.js";
import type { LifecycleApi, LifecycleRecorder } from "./api.js";
import { addPodNodeNameIndexer, podsAssignedToNode } from "./pod-index.js";
import { disruptionTarget, namespacedName, podRef, updatePodCondition } from "./pod-status.js";
import { getMatchingTolerations, getMinTolerationTimeMs, getNoExecuteTaints } from "./taints.js";
import { TimedWorkerQueue } from "./timed-workers.js";

/** The controller's name, as kube-controller-manager's `--controllers` knows it. */
export const TAINT_EVICTION_CONTROLLER_NAME = "taint-eviction-controller";

/** Tries of one deletion (upstream's retries), 10 ms apart. */
const DELETE_RETRIES = 5;

/** Options of a {@link TaintEvictionController}. */
export interface TaintEvictionControllerOptions {
  readonly nodes: SharedInformer<Node>;
  readonly pods: SharedInformer<Pod>;
  readonly api: LifecycleApi;
  readonly recorder?: LifecycleRecorder;
  readonly timers?: Timers;
  readonly logger?: Logger;
}

/** Deletes pods from nodes with NoExecute taints; {@link run} until the signal aborts. */
export class TaintEvictionController {
  private readonly log: Logger;
  private readonly timers: Timers;
  /** Node names whose NoExecute taints changed. */
  readonly nodeQueue: WorkQueue<string>;
  /** `nodeName|ns/name` of pods whose binding or tolerations changed. */
  readonly podQueue: WorkQueue<string>;
  /** The NoExecute taints of each tainted node, as last handled. */
  private readonly taintedNodes = new Map<string, Taint[]>();
  readonly evictions: TimedWorkerQueue;

  constructor(private readonly opts: TaintEvictionControllerOptions) {
    this.log = (opts.logger ?? silentLogger).with({ controller: TAINT_EVICTION_CONTROLLER_NAME });
    this.timers = opts.timers ?? systemTimers;
    this.nodeQueue = new WorkQueue<string>({ timers: this.timers });
    this.podQueue = new WorkQueue<string>({ timers: this.timers });
    this.evictions = new TimedWorkerQueue((key, fireAt) => this.deletePod(key, fireAt), this.timers, this.log);
    addPodNodeNameIndexer(opts.pods);
    opts.pods.addEventHandler({
      onAdd: (p) => this.podUpdated(undefined, p),
      onUpdate: (o, p) => this.podUpdated(o, p),
      onDelete: (p) => this.podUpdated(p, undefined),
    });
    opts.nodes.addEventHandler({
      onAdd: (n) => this.nodeUpdated(undefined, n),
      onUpdate: (o, n) => this.nodeUpdated(o, n),
      onDelete: (n) => this.nodeUpdated(n, undefined),
    });
  }

  /** Handles node and pod changes until `signal` aborts, then cancels pending deletions. */
  async run(signal: AbortSignal): Promise<void> {
    const stop = () => {
      this.nodeQueue.shutDown();
      this.podQueue.shutDown();
    };
    signal.addEventListener("abort", stop, { once: true });
    try {
      if (!(await this.opts.nodes.waitForSync(signal)) || !(await this.opts.pods.waitForSync(signal))) return;
      this.log.info("starting controller");
      const nodeWorker = (async () => {
        while (await processNextWorkItem(this.nodeQueue, async (name) => this.handleNodeUpdate(name), (name, err) => this.logError("node", name, err))) {
          // one node per turn
        }
      })();
      const podWorker = (async () => {
        while (await processNextWorkItem(this.podQueue, async (key) => this.handlePodUpdate(key), (key, err) => this.logError("pod", key, err))) {
          // one pod per turn
        }
      })();
      await Promise.all([nodeWorker, podWorker]);
    } finally {
      signal.removeEventListener("abort", stop);
      stop();
      await this.evictions.cancelAndWait();
      this.log.info("shutting down controller");
    }
  }

  private logError(what: string, key: string, err: unknown): void {
    this.log.error(`handling ${what} update failed`, { item: key, err: (err as Error).message });
  }

  // ---- event handlers (enqueue only) ----

  /** PodUpdated: a pod's node or tolerations changed (or it came or went). */
  podUpdated(oldPod: Pod | undefined, newPod: Pod | undefined): void {
    const pod = newPod ?? oldPod;
    if (!pod) return;
    if (oldPod && newPod && oldPod.spec?.nodeName === newPod.spec?.nodeName && deepEqual(oldPod.spec?.tolerations ?? [], newPod.spec?.tolerations ?? [])) return;
    this.podQueue.add(`${pod.spec?.nodeName ?? ""}|${pod.metadata?.namespace ?? ""}/${pod.metadata?.name ?? ""}`);
  }

  /** NodeUpdated: a node's NoExecute taints changed (or it came or went). */
  nodeUpdated(oldNode: Node | undefined, newNode: Node | undefined): void {
    const node = newNode ?? oldNode;
    if (!node) return;
    if (oldNode && newNode && deepEqual(getNoExecuteTaints(oldNode.spec?.taints), getNoExecuteTaints(newNode.spec?.taints))) return;
    this.nodeQueue.add(node.metadata?.name ?? "");
  }

  // ---- handling ----

  /** handleNodeUpdate: records the node's NoExecute taints and (re)considers each of its pods. */
  handleNodeUpdate(nodeName: string): void {
    const node = this.opts.nodes.get(nodeName);
    if (!node) {
      this.log.debug("noticed node deletion", { node: nodeName });
      this.taintedNodes.delete(nodeName);
      return;
    }
    const taints = getNoExecuteTaints(node.spec?.taints);
    if (taints.length === 0) this.taintedNodes.delete(nodeName);
    else this.taintedNodes.set(nodeName, taints);
    // taintedNodes is current before the pods are read: a pod bound later is handled by its own update.
    const pods = podsAssignedToNode(this.opts.pods, nodeName);
    if (pods.length === 0) return;
    if (taints.length === 0) {
      this.log.debug("all taints were removed from the node; cancelling all evictions", { node: nodeName });
      for (const p of pods) this.cancelWorkWithEvent(namespacedName(p.metadata?.namespace ?? "", p.metadata?.name ?? ""));
      return;
    }
    const now = this.timers.now();
    for (const p of pods) this.processPodOnNode(namespacedName(p.metadata?.namespace ?? "", p.metadata?.name ?? ""), nodeName, p.spec?.tolerations, taints, now);
  }

  /** handlePodUpdate: considers one pod against its node's NoExecute taints. */
  handlePodUpdate(item: string): void {
    const bar = item.indexOf("|");
    const nodeName = item.slice(0, bar);
    const key = item.slice(bar + 1);
    const pod = this.opts.pods.get(key);
    if (!pod) {
      this.log.debug("noticed pod deletion", { pod: key });
      this.cancelWorkWithEvent(key);
      return;
    }
    // Items carry the node they were queued for; a pod since bound elsewhere has a newer item.
    if ((pod.spec?.nodeName ?? "") !== nodeName || nodeName === "") return;
    const taints = this.taintedNodes.get(nodeName);
    // The node is gone or lost its taints: that update already cancelled what needed cancelling.
    if (!taints) return;
    this.processPodOnNode(key, nodeName, pod.spec?.tolerations, taints, this.timers.now());
  }

  private processPodOnNode(key: string, nodeName: string, tolerations: readonly Toleration[] | undefined, taints: readonly Taint[], now: number): void {
    if (taints.length === 0) this.cancelWorkWithEvent(key);
    const { allTolerated, used } = getMatchingTolerations(taints, tolerations);
    if (!allTolerated) {
      this.log.info("not all taints are tolerated after update for pod on node", { pod: key, node: nodeName });
      // Whatever was scheduled is replaced by a deletion now.
      this.cancelWorkWithEvent(key);
      this.evictions.addWork(key, now, now);
      return;
    }
    const min = getMinTolerationTimeMs(used);
    if (min < 0) {
      this.log.debug("current tolerations for pod tolerate forever, cancelling any scheduled deletion", { pod: key });
      this.cancelWorkWithEvent(key);
      return;
    }
    let start = now;
    const trigger = start + min;
    const scheduled = this.evictions.getWorker(key);
    if (scheduled) {
      // The toleration counts from when the pod first had to leave, not from this update.
      start = scheduled.createdAt;
      if (start + min < trigger) return;
      this.cancelWorkWithEvent(key);
    }
    this.evictions.addWork(key, start, start + min);
  }

  private cancelWorkWithEvent(key: string): void {
    if (this.evictions.cancelWork(key)) this.emit(key, `Cancelling deletion of Pod ${key}`);
  }

  private emit(key: string, note: string): void {
    const slash = key.indexOf("/");
    const ref = podRef({ metadata: { namespace: key.slice(0, slash), name: key.slice(slash + 1) } });
    this.opts.recorder?.event(ref, undefined, "Normal", "TaintManagerEviction", "TaintManagerEviction", note);
  }

  /** deletePodHandler: the event, then up to 5 tries of condition-and-delete. */
  private async deletePod(key: string, _fireAt: number): Promise<void> {
    const slash = key.indexOf("/");
    const ns = key.slice(0, slash);
    const name = key.slice(slash + 1);
    this.log.info("deleting pod", { pod: key });
    this.emit(key, `Marking for deletion Pod ${key}`);
    let last: unknown;
    for (let i = 0; i < DELETE_RETRIES; i++) {
      try {
        await this.addConditionAndDeletePod(ns, name);
        return;
      } catch (err) {
        last = err;
        await sleepOn(this.timers, 10);
      }
    }
    throw last;
  }

  private async addConditionAndDeletePod(ns: string, name: string): Promise<void> {
    const pod = await this.opts.api.getPod(ns, name);
    const status = structuredClone(pod.status ?? {});
    if (updatePodCondition(status, disruptionTarget("DeletionByTaintManager", "Taint manager: deleting due to NoExecute taint"), this.timers.now())) {
      const cond = status.conditions!.find((c) => c.type === "DisruptionTarget")!;
      await this.opts.api.patchPodStatus(ns, name, pod.metadata?.uid ?? "", { conditions: [cond] });
    }
    await this.opts.api.deletePod(ns, name);
  }
}
