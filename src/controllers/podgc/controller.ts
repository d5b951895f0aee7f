/**
 * The pod garbage collector, as upstream's pkg/controller/podgc: every 20 s
 * it force-deletes (grace period 0)
 * - terminated pods (not Pending, Running or Unknown) beyond
 *   `--terminated-pod-gc-threshold`, evicted ones first, then oldest first
 *   (a threshold of 0 turns this off);
 * - terminating pods on a NotReady node tainted
 *   `node.kubernetes.io/out-of-service` (no kubelet will finish them);
 * - pods bound to a node that no longer exists, once the node has been
 *   missing for a 40 s quarantine and a fresh GET confirms it is gone
 *   (condition DisruptionTarget, reason DeletionByPodGC);
 * - terminating pods never bound to a node.
 * A pod not yet terminal is first patched to phase Failed, as nothing else
 * would ever move it there.
 */
import type { Node, Pod, PodCondition } from "kubernetes-types/core/v1.js";
import type { SharedInformer } from "../../client/informer.js";
import { NODES, PODS } from "../../client/resources.js";
import { sleepOn, systemTimers, type Timers } from "../../client/timers.js";
import { WorkQueue } from "../../client/work-queue.js";
import { type Logger, silentLogger } from "../../machinery/log.js";
import { isNotFound } from "../../machinery/status-error.js";
import { parseTime } from "../common/time.js";
import type { Controller, ControllerContext } from "../manager.js";
import { type LifecycleApi, restLifecycleApi } from "../nodelifecycle/api.js";
import { isNodeReady } from "../nodelifecycle/node-utils.js";
import { disruptionTarget, updatePodCondition } from "../nodelifecycle/pod-status.js";
import { DEFAULT_TERMINATED_POD_GC_THRESHOLD } from "../nodelifecycle/settings.js";
import { TAINT_NODE_OUT_OF_SERVICE, taintKeyExists } from "../nodelifecycle/taints.js";

/** How often the collector runs (upstream's gcCheckPeriod). */
export const GC_CHECK_PERIOD_MS = 20_000;
/** How long a node must stay missing before its pods count as orphaned (upstream's quarantineTime). */
export const QUARANTINE_MS = 40_000;

/** Options of a {@link PodGCController}. */
export interface PodGCControllerOptions {
  readonly pods: SharedInformer<Pod>;
  readonly nodes: SharedInformer<Node>;
  readonly api: LifecycleApi;
  /** Terminated pods kept before the oldest are deleted (`--terminated-pod-gc-threshold`, 12500; 0 or less: keep all). */
  readonly terminatedPodThreshold?: number;
  /** {@link GC_CHECK_PERIOD_MS} unless given. */
  readonly gcCheckPeriodMs?: number;
  /** {@link QUARANTINE_MS} unless given. */
  readonly quarantineMs?: number;
  readonly timers?: Timers;
  readonly logger?: Logger;
}

/** Collects pods nothing else will; {@link run} until the signal aborts. */
export class PodGCController {
  private readonly log: Logger;
  private readonly timers: Timers;
  private readonly threshold: number;
  private readonly quarantineMs: number;
  /** Names of nodes pods are bound to but the cache lacks, each due after the quarantine. */
  readonly nodeQueue: WorkQueue<string>;

  constructor(private readonly opts: PodGCControllerOptions) {
    this.log = (opts.logger ?? silentLogger).with({ controller: "podgc" });
    this.timers = opts.timers ?? systemTimers;
    this.threshold = opts.terminatedPodThreshold ?? DEFAULT_TERMINATED_POD_GC_THRESHOLD;
    if (!Number.isInteger(this.threshold)) throw new Error(`--terminated-pod-gc-threshold must be a whole number, not ${this.threshold}`);
    this.quarantineMs = opts.quarantineMs ?? QUARANTINE_MS;
    this.nodeQueue = new WorkQueue<string>({ timers: this.timers });
  }

  /** Collects every gcCheckPeriod until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    try {
      if (!(await this.opts.pods.waitForSync(signal)) || !(await this.opts.nodes.waitForSync(signal))) return;
      this.log.info("starting controller", { terminatedPodGCThreshold: this.threshold });
      while (!signal.aborted) {
        try {
          await this.gc();
        } catch (err) {
          this.log.error("pod garbage collection failed", { err: (err as Error).message });
        }
        try {
          await sleepOn(this.timers, this.opts.gcCheckPeriodMs ?? GC_CHECK_PERIOD_MS, signal);
        } catch {
          break;
        }
      }
    } finally {
      this.nodeQueue.shutDown();
      this.log.info("shutting down controller");
    }
  }

  /** One collection pass. */
  async gc(): Promise<void> {
    const pods = this.opts.pods.list();
    const nodes = this.opts.nodes.list();
    if (this.threshold > 0) await this.gcTerminated(pods);
    await this.gcTerminating(pods);
    await this.gcOrphaned(pods, nodes);
    await this.gcUnscheduledTerminating(pods);
  }

  private async gcTerminated(pods: readonly Pod[]): Promise<void> {
    const terminated = pods.filter(isPodTerminated);
    const deleteCount = terminated.length - this.threshold;
    if (deleteCount <= 0) return;
    this.log.info("garbage collecting pods", { numPods: deleteCount });
    terminated.sort(byEvictionAndCreationTimestamp);
    await Promise.all(terminated.slice(0, deleteCount).map((p) => this.markFailedAndDeletePod(p)));
  }

  private async gcTerminating(pods: readonly Pod[]): Promise<void> {
    const terminating: Pod[] = [];
    for (const pod of pods) {
      if (!pod.metadata?.deletionTimestamp) continue;
      const nodeName = pod.spec?.nodeName ?? "";
      const node = this.opts.nodes.get(nodeName);
      if (!node) {
        this.log.debug("failed to get node", { node: nodeName, pod: key(pod) });
        continue;
      }
      if (!isNodeReady(node) && taintKeyExists(node.spec?.taints, TAINT_NODE_OUT_OF_SERVICE)) {
        this.log.debug("garbage collecting pod that is terminating", { pod: key(pod), phase: pod.status?.phase });
        terminating.push(pod);
      }
    }
    if (terminating.length === 0) return;
    this.log.info("garbage collecting pods that are terminating on node tainted with node.kubernetes.io/out-of-service", { numPods: terminating.length });
    terminating.sort(byEvictionAndCreationTimestamp);
    await Promise.all(terminating.map((p) => this.markFailedAndDeletePod(p)));
  }

  private async gcOrphaned(pods: readonly Pod[], nodes: readonly Node[]): Promise<void> {
    const existing = new Set(nodes.map((n) => n.metadata?.name ?? ""));
    for (const pod of pods) {
      const nodeName = pod.spec?.nodeName;
      if (nodeName && !existing.has(nodeName)) this.nodeQueue.addAfter(nodeName, this.quarantineMs);
    }
    const deleted = await this.discoverDeletedNodes(existing);
    if (!deleted) return;
    for (const pod of pods) {
      if (!deleted.has(pod.spec?.nodeName ?? "")) continue;
      this.log.info("found orphaned pod assigned to the node, deleting", { pod: key(pod), node: pod.spec?.nodeName });
      const ok = await this.markFailedAndDeletePod(pod, disruptionTarget("DeletionByPodGC", "PodGC: node no longer exists"));
      if (ok) this.log.info("forced deletion of orphaned pod succeeded", { pod: key(pod) });
    }
  }

  /** The quarantined nodes still missing from the cache that the API server confirms gone; undefined once shut down. */
  private async discoverDeletedNodes(existing: ReadonlySet<string>): Promise<Set<string> | undefined> {
    const deleted = new Set<string>();
    while (this.nodeQueue.len() > 0) {
      const name = await this.nodeQueue.get();
      if (name === undefined) return undefined;
      try {
        if (!existing.has(name)) {
          try {
            await this.opts.api.getNode(name);
          } catch (err) {
            if (isNotFound(err)) deleted.add(name);
            // Any other failure: the node is queued again by the next pass if still needed.
            else this.log.error("error while getting node", { node: name, err: (err as Error).message });
          }
        }
      } finally {
        this.nodeQueue.done(name);
      }
    }
    return deleted;
  }

  private async gcUnscheduledTerminating(pods: readonly Pod[]): Promise<void> {
    for (const pod of pods) {
      if (!pod.metadata?.deletionTimestamp || pod.spec?.nodeName) continue;
      this.log.info("found unscheduled terminating pod not assigned to any node, deleting", { pod: key(pod) });
      if (await this.markFailedAndDeletePod(pod)) this.log.info("forced deletion of unscheduled terminating pod succeeded", { pod: key(pod) });
    }
  }

  /**
   * markFailedAndDeletePodWithCondition: phase Failed (with `condition`)
   * unless already terminal, then a deletion with grace period 0. Failures
   * are logged (NotFound quietly); the result says whether both went through.
   */
  private async markFailedAndDeletePod(pod: Pod, condition?: PodCondition): Promise<boolean> {
    const ns = pod.metadata?.namespace ?? "";
    const name = pod.metadata?.name ?? "";
    this.log.info("PodGC is force deleting pod", { pod: key(pod) });
    try {
      const phase = pod.status?.phase;
      if (phase !== "Succeeded" && phase !== "Failed") {
        const status = structuredClone(pod.status ?? {});
        status.phase = "Failed";
        const patch: { phase: string; conditions?: PodCondition[] } = { phase: "Failed" };
        if (condition) {
          updatePodCondition(status, condition, this.timers.now());
          patch.conditions = [status.conditions!.find((c) => c.type === condition.type)!];
        }
        await this.opts.api.patchPodStatus(ns, name, pod.metadata?.uid ?? "", patch);
      }
      await this.opts.api.deletePod(ns, name, { gracePeriodSeconds: 0 });
      return true;
    } catch (err) {
      if (isNotFound(err)) this.log.debug("pod already gone", { pod: key(pod) });
      else this.log.error("could not delete pod", { pod: key(pod), err: (err as Error).message });
      return false;
    }
  }
}

function key(pod: Pod): string {
  return `${pod.metadata?.namespace ?? ""}/${pod.metadata?.name ?? ""}`;
}

/** isPodTerminated: any phase but Pending, Running and Unknown. */
export function isPodTerminated(pod: Pod): boolean {
  const phase = pod.status?.phase;
  return phase !== "Pending" && phase !== "Running" && phase !== "Unknown";
}

/** eviction.PodIsEvicted: Failed with reason Evicted. */
function podIsEvicted(pod: Pod): boolean {
  return pod.status?.phase === "Failed" && pod.status?.reason === "Evicted";
}

/** byEvictionAndCreationTimestamp: evicted pods first, then oldest, then by name. */
export function byEvictionAndCreationTimestamp(a: Pod, b: Pod): number {
  const ae = podIsEvicted(a);
  const be = podIsEvicted(b);
  if (ae !== be) return ae ? -1 : 1;
  const at = parseTime(a.metadata?.creationTimestamp);
  const bt = parseTime(b.metadata?.creationTimestamp);
  if (at === bt) {
    const an = a.metadata?.name ?? "";
    const bn = b.metadata?.name ?? "";
    return an < bn ? -1 : an > bn ? 1 : 0;
  }
  return at - bt;
}

/** The `podgc` entry of the controller manager. */
export function newPodGCController(ctx: ControllerContext): Controller {
  return new PodGCController({
    pods: ctx.informers.informerFor<Pod>(PODS),
    nodes: ctx.informers.informerFor<Node>(NODES),
    api: restLifecycleApi(ctx.rest),
    terminatedPodThreshold: ctx.settings.terminatedPodGCThreshold,
    logger: ctx.logger,
  });
}
