/**
 * The node lifecycle controller, as upstream's pkg/controller/nodelifecycle:
 * - every `--node-monitor-period` it checks each node's heartbeats (status
 *   and Lease, see node-health.ts); a node silent for longer than
 *   `--node-monitor-grace-period` gets Ready (and the other kubelet
 *   conditions) `Unknown` / `NodeStatusUnknown` / "Kubelet stopped posting
 *   node status.", a `NodeNotReady` event, and its pods' Ready condition
 *   set False;
 * - a node whose Ready is False or Unknown is queued, per zone and at the
 *   zone's eviction rate, for the `node.kubernetes.io/not-ready` or
 *   `unreachable` NoExecute taint, which the taint eviction controller acts
 *   on; a zone with no Ready node stops being tainted (and untainted: all
 *   zones down means the control plane, not the nodes, is cut off); a Ready
 *   node loses both taints;
 * - on every node change it keeps the condition NoSchedule taints and the
 *   unschedulable taint in step with the node (no-schedule-taints.ts).
 * Handlers only enqueue; the work runs on the controller's own loops.
 */
import type { Lease } from "kubernetes-types/coordination/v1.js";
import type { Node, NodeCondition, Pod, Taint } from "kubernetes-types/core/v1.js";
import type { SharedInformer } from "../../client/informer.js";
import { sleepOn, systemTimers, type Timers } from "../../client/timers.js";
import { WorkQueue } from "../../client/work-queue.js";
import { type Logger, silentLogger } from "../../machinery/log.js";
import { processNextWorkItem } from "../common/workers.js";
import type { LifecycleApi, LifecycleRecorder } from "./api.js";
import { markPodsNotReady } from "./mark-pods-not-ready.js";
import { type NodeHealthData, type NodeHealthObservation, observeNodeHealth } from "./node-health.js";
import { removeTaintOffNode, swapNodeControllerTaint, type TaintWriter } from "./node-taints.js";
import { getNodeCondition, getZoneKey, isNodeExcludedFromDisruptionChecks, nodeRef } from "./node-utils.js";
import { labelsToReconcile, noScheduleTaintChanges } from "./no-schedule-taints.js";
import { addPodNodeNameIndexer, podsAssignedToNode } from "./pod-index.js";
import { EVICTION_RATE_LIMITER_BURST, NeverLimiter, NODE_EVICTION_PERIOD_MS, RateLimitedTimedQueue, TokenBucketLimiter } from "./rate-limited-queue.js";
import { type NodeLifecycleSettings, resolveNodeLifecycleSettings } from "./settings.js";
import { NOT_READY_TAINT_TEMPLATE, taintExists, UNREACHABLE_TAINT_TEMPLATE } from "./taints.js";
import { computeZoneState, evictionQPS, type ZoneState } from "./zone-state.js";

/** The namespace of node Leases. */
export const NODE_LEASE_NAMESPACE = "kube-node-lease";
/** Tries of one node's health update (upstream's NodeHealthUpdateRetry), 20 ms apart. */
const NODE_HEALTH_UPDATE_RETRY = 5;
const RETRY_SLEEP_MS = 20;
/** Nodes whose health is updated at once (upstream's nodeUpdateWorkerSize). */
const NODE_UPDATE_WORKERS = 8;
/** Workers of pod updates (upstream's podUpdateWorkerSize). */
const POD_UPDATE_WORKERS = 4;

/** Options of a {@link NodeLifecycleController}. */
export interface NodeLifecycleControllerOptions {
  readonly nodes: SharedInformer<Node>;
  readonly pods: SharedInformer<Pod>;
  /** Leases of the kube-node-lease namespace. */
  readonly leases: SharedInformer<Lease>;
  readonly api: LifecycleApi;
  /** Reports as `node-controller`, as upstream. */
  readonly recorder?: LifecycleRecorder;
  /** Timings and rates (defaults: upstream's). */
  readonly settings?: Partial<NodeLifecycleSettings>;
  readonly timers?: Timers;
  readonly logger?: Logger;
}

/** Watches node health and taints nodes; {@link run} until the signal aborts. */
export class NodeLifecycleController {
  readonly settings: NodeLifecycleSettings;
  /** Node names whose NoSchedule taints and labels need a look. */
  readonly nodeUpdateQueue: WorkQueue<string>;
  /** `ns/name` of pods newly bound to a node. */
  readonly podUpdateQueue: WorkQueue<string>;
  private readonly log: Logger;
  private readonly timers: Timers;
  private readonly writer: TaintWriter;
  private readonly knownNodeSet = new Map<string, Node>();
  private readonly nodeHealth = new Map<string, NodeHealthData>();
  private readonly zoneNoExecuteTainter = new Map<string, RateLimitedTimedQueue>();
  private readonly zoneStates = new Map<string, ZoneState>();
  private readonly nodesToRetry = new Set<string>();

  constructor(private readonly opts: NodeLifecycleControllerOptions) {
    this.settings = resolveNodeLifecycleSettings(opts.settings);
    this.log = (opts.logger ?? silentLogger).with({ controller: "nodelifecycle" });
    this.timers = opts.timers ?? systemTimers;
    this.nodeUpdateQueue = new WorkQueue<string>({ timers: this.timers });
    this.podUpdateQueue = new WorkQueue<string>({ timers: this.timers });
    this.writer = { api: opts.api, timers: this.timers, cachedNode: (name) => opts.nodes.get(name) };
    addPodNodeNameIndexer(opts.pods);
    opts.pods.addEventHandler({
      onAdd: (p) => this.podUpdated(undefined, p),
      onUpdate: (o, p) => this.podUpdated(o, p),
    });
    opts.nodes.addEventHandler({
      onAdd: (n) => this.nodeUpdateQueue.add(n.metadata?.name ?? ""),
      onUpdate: (_o, n) => this.nodeUpdateQueue.add(n.metadata?.name ?? ""),
    });
  }

  /** Runs the monitor, the tainting passes and the workers until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    const stop = () => {
      this.nodeUpdateQueue.shutDown();
      this.podUpdateQueue.shutDown();
    };
    signal.addEventListener("abort", stop, { once: true });
    try {
      if (!(await this.opts.leases.waitForSync(signal)) || !(await this.opts.nodes.waitForSync(signal)) || !(await this.opts.pods.waitForSync(signal))) return;
      this.log.info("starting controller", {
        nodeMonitorPeriod: `${this.settings.nodeMonitorPeriodMs}ms`,
        nodeMonitorGracePeriod: `${this.settings.nodeMonitorGracePeriodMs}ms`,
        nodeStartupGracePeriod: `${this.settings.nodeStartupGracePeriodMs}ms`,
      });
      const loops: Promise<void>[] = [];
      for (let i = 0; i < NODE_UPDATE_WORKERS; i++) {
        loops.push(this.worker(this.nodeUpdateQueue, (name) => this.processNodeUpdate(name), "node"));
      }
      for (let i = 0; i < POD_UPDATE_WORKERS; i++) {
        loops.push(this.worker(this.podUpdateQueue, (key) => this.processPod(key), "pod"));
      }
      // Tainting is rate limited per zone, so it runs often and lets the limiters pace it.
      loops.push(this.every(NODE_EVICTION_PERIOD_MS, signal, () => this.doNoExecuteTaintingPass()));
      loops.push(this.every(this.settings.nodeMonitorPeriodMs, signal, () => this.monitorNodeHealth()));
      await Promise.all(loops);
    } finally {
      signal.removeEventListener("abort", stop);
      stop();
      this.log.info("shutting down controller");
    }
  }

  private async worker(queue: WorkQueue<string>, sync: (key: string) => Promise<void>, what: string): Promise<void> {
    while (
      await processNextWorkItem(queue, sync, (key, err) => {
        this.log.warn(`${what} update failed; requeueing`, { item: key, err: (err as Error).message });
        queue.addRateLimited(key);
      })
    ) {
      // one item per turn
    }
  }

  /** wait.Until: runs `fn`, then waits `periodMs` after it finished, until `signal` aborts. */
  private async every(periodMs: number, signal: AbortSignal, fn: () => Promise<void>): Promise<void> {
    while (!signal.aborted) {
      try {
        await fn();
      } catch (err) {
        this.log.error("periodic pass failed", { err: (err as Error).message });
      }
      try {
        await sleepOn(this.timers, periodMs, signal);
      } catch {
        return;
      }
    }
  }

  // ---- handlers (enqueue only) ----

  private podUpdated(oldPod: Pod | undefined, newPod: Pod): void {
    const nodeName = newPod.spec?.nodeName;
    if (nodeName && (!oldPod || oldPod.spec?.nodeName !== nodeName)) {
      this.podUpdateQueue.add(`${newPod.metadata?.namespace ?? ""}/${newPod.metadata?.name ?? ""}`);
    }
  }

  // ---- node updates: NoSchedule taints and labels ----

  /** doNodeProcessingPassWorker's work for one node. */
  async processNodeUpdate(nodeName: string): Promise<void> {
    await this.doNoScheduleTaintingPass(nodeName);
    await this.reconcileNodeLabels(nodeName);
  }

  /** Keeps the node's condition and unschedulable NoSchedule taints in step with it. */
  async doNoScheduleTaintingPass(nodeName: string): Promise<void> {
    const node = this.opts.nodes.get(nodeName);
    if (!node) return;
    const { add, remove } = noScheduleTaintChanges(node);
    if (add.length === 0 && remove.length === 0) return;
    if (!(await swapNodeControllerTaint(this.writer, add, remove, node, (what, err) => this.taintError(what, err)))) {
      throw new Error(`failed to swap taints of node ${nodeName}`);
    }
  }

  private async reconcileNodeLabels(nodeName: string): Promise<void> {
    const node = this.opts.nodes.get(nodeName);
    if (!node) return;
    const labels = labelsToReconcile(node);
    if (Object.keys(labels).length === 0) return;
    try {
      await this.opts.api.patchNodeLabels(nodeName, labels);
    } catch (err) {
      throw new Error(`failed update labels for node ${nodeName}: ${(err as Error).message}`);
    }
  }

  private taintError(what: string, err: unknown): void {
    this.log.error(what, { err: (err as Error).message });
  }

  // ---- pod updates ----

  /** processPod: a pod bound to a node that is not Ready is marked not ready too. */
  async processPod(key: string): Promise<void> {
    const pod = this.opts.pods.get(key);
    if (!pod) return;
    const nodeName = pod.spec?.nodeName ?? "";
    const health = this.nodeHealth.get(nodeName);
    // Not looked at yet (or gone): the next monitor pass handles the node's pods.
    if (!health) return;
    if (!this.opts.nodes.get(nodeName)) throw new Error(`failed to read node ${nodeName} of pod ${key}`);
    const ready = getNodeCondition(health.status, "Ready");
    if (!ready) return;
    if (ready.status !== "True") await markPodsNotReady(this.opts.api, this.opts.recorder, [pod], nodeName, this.timers.now(), this.log);
  }

  // ---- NoExecute tainting ----

  /** Takes due nodes off each zone's queue, as fast as the zone's limiter allows, and taints them NoExecute. */
  async doNoExecuteTaintingPass(): Promise<void> {
    for (const queue of [...this.zoneNoExecuteTainter.values()]) {
      await queue.try(async (v) => {
        const node = this.opts.nodes.get(v.value);
        if (!node) {
          this.log.info("node no longer present in nodeLister", { node: v.value });
          return { done: true, retryAfterMs: 0 };
        }
        const ready = getNodeCondition(node.status, "Ready");
        if (!ready) {
          this.log.info("failed to get NodeCondition from the node status", { node: v.value });
          return { done: false, retryAfterMs: 50 };
        }
        // Unreachable and not-ready mirror Ready's Unknown and False, so they exclude each other.
        let add: Taint;
        let opposite: Taint;
        if (ready.status === "False") {
          add = { ...NOT_READY_TAINT_TEMPLATE };
          opposite = { ...UNREACHABLE_TAINT_TEMPLATE };
        } else if (ready.status === "Unknown") {
          add = { ...UNREACHABLE_TAINT_TEMPLATE };
          opposite = { ...NOT_READY_TAINT_TEMPLATE };
        } else {
          this.log.debug("node was in a taint queue, but it's ready now; ignoring taint request", { node: v.value });
          return { done: true, retryAfterMs: 0 };
        }
        const ok = await swapNodeControllerTaint(this.writer, [add], [opposite], node, (what, err) => this.taintError(what, err));
        if (ok) this.log.info("tainted node NoExecute", { node: v.value, taint: `${add.key}:${add.effect}` });
        return { done: ok, retryAfterMs: 0 };
      });
    }
  }

  // ---- health monitoring ----

  /** One monitor pass over every node (monitorNodeHealth). */
  async monitorNodeHealth(): Promise<void> {
    const nodes = this.opts.nodes.list();
    const { added, deleted, newZoneRepresentatives } = this.classifyNodes(nodes);
    for (const n of newZoneRepresentatives) this.addPodEvictorForNewZone(n);
    for (const n of added) {
      const name = n.metadata?.name ?? "";
      this.log.debug("controller observed a new node", { node: name });
      this.recordNodeEvent(n, "RegisteredNode", `Registered Node ${name} in Controller`);
      this.knownNodeSet.set(name, n);
      this.addPodEvictorForNewZone(n);
      await this.markNodeAsReachable(n).catch(() => undefined);
    }
    for (const n of deleted) {
      const name = n.metadata?.name ?? "";
      this.log.info("controller observed a node deletion", { node: name });
      this.recordNodeEvent(n, "RemovingNode", `Removing Node ${name} from Controller`);
      this.knownNodeSet.delete(name);
      // Upstream keeps these forever; a cluster that churns (simulated) nodes would only accumulate them.
      this.nodeHealth.delete(name);
      this.nodesToRetry.delete(name);
      this.zoneNoExecuteTainter.get(getZoneKey(n))?.remove(name);
    }
    const zoneToNodeConditions = new Map<string, (NodeCondition | undefined)[]>();
    await parallelize(NODE_UPDATE_WORKERS, nodes, (n) => this.updateNodeHealth(n, zoneToNodeConditions));
    await this.handleDisruption(zoneToNodeConditions, nodes);
  }

  private async updateNodeHealth(cached: Node, zoneToNodeConditions: Map<string, (NodeCondition | undefined)[]>): Promise<void> {
    let node = structuredClone(cached);
    const name = node.metadata?.name ?? "";
    let obs: NodeHealthObservation | undefined;
    for (let attempt = 0; !obs; attempt++) {
      try {
        obs = await this.tryUpdateNodeHealth(node);
      } catch (err) {
        if (attempt + 1 >= NODE_HEALTH_UPDATE_RETRY) {
          this.log.error("update health of node from controller error, skipping - no pods will be evicted", { node: name, err: (err as Error).message });
          return;
        }
        try {
          node = await this.opts.api.getNode(name);
        } catch {
          this.log.error("failed while getting a node to retry updating node health; probably node was deleted", { node: name });
          return;
        }
        await sleepOn(this.timers, RETRY_SLEEP_MS);
      }
    }
    const current = obs.currentReadyCondition;
    const observed = obs.observedReadyCondition;
    if (!isNodeExcludedFromDisruptionChecks(node)) {
      const zone = getZoneKey(node);
      const list = zoneToNodeConditions.get(zone) ?? [];
      list.push(current);
      zoneToNodeConditions.set(zone, list);
    }
    if (current) {
      const pods = podsAssignedToNode(this.opts.pods, name);
      await this.processTaintBaseEviction(node, observed);
      const needsRetry = this.nodesToRetry.has(name);
      let mark = false;
      if (current.status !== "True" && observed.status === "True") {
        // Reported once, on the transition.
        this.recordNodeStatusChange(node, "NodeNotReady");
        mark = true;
      } else if (needsRetry && observed.status !== "True") {
        mark = true;
      }
      if (mark) {
        try {
          await markPodsNotReady(this.opts.api, this.opts.recorder, pods, name, this.timers.now(), this.log);
        } catch (err) {
          this.log.error("unable to mark all pods NotReady on node; queuing for retry", { node: name, err: (err as Error).message });
          this.nodesToRetry.add(name);
          return;
        }
      }
    }
    this.nodesToRetry.delete(name);
  }

  /**
   * tryUpdateNodeHealth: observes the node and, when it went silent, writes
   * its Unknown conditions. What was observed is remembered either way.
   */
  private async tryUpdateNodeHealth(node: Node): Promise<NodeHealthObservation> {
    const name = node.metadata?.name ?? "";
    const now = this.timers.now();
    const lease = this.opts.leases.get(`${NODE_LEASE_NAMESPACE}/${name}`);
    const obs = observeNodeHealth(node, this.nodeHealth.get(name), lease, now, this.settings, this.log);
    this.nodeHealth.set(name, obs.health);
    if (obs.statusChanged) {
      try {
        await this.opts.api.updateNodeStatus(node);
      } catch (err) {
        this.log.error("error updating node", { node: name, err: (err as Error).message });
        throw err;
      }
      this.log.info("node stopped posting status; its conditions are now Unknown", { node: name });
      const health: NodeHealthData = { status: node.status, probeTimestamp: obs.health.probeTimestamp, readyTransitionTimestamp: this.timers.now(), lease };
      this.nodeHealth.set(name, health);
      return { ...obs, health };
    }
    return obs;
  }

  private async processTaintBaseEviction(node: Node, observed: NodeCondition): Promise<void> {
    const name = node.metadata?.name ?? "";
    switch (observed.status) {
      case "False":
        // Already unreachable: swap to not-ready at once, no need to wait for the rate limiter.
        if (taintExists(node.spec?.taints, UNREACHABLE_TAINT_TEMPLATE)) {
          const ok = await swapNodeControllerTaint(this.writer, [{ ...NOT_READY_TAINT_TEMPLATE }], [{ ...UNREACHABLE_TAINT_TEMPLATE }], node, (w, e) => this.taintError(w, e));
          if (!ok) this.log.error("failed to instantly swap UnreachableTaint to NotReadyTaint; will try again in the next cycle", { node: name });
        } else if (this.markNodeForTainting(node, "False")) {
          this.log.info("node is NotReady; adding it to the taint queue", { node: name });
        }
        break;
      case "Unknown":
        if (taintExists(node.spec?.taints, NOT_READY_TAINT_TEMPLATE)) {
          const ok = await swapNodeControllerTaint(this.writer, [{ ...UNREACHABLE_TAINT_TEMPLATE }], [{ ...NOT_READY_TAINT_TEMPLATE }], node, (w, e) => this.taintError(w, e));
          if (!ok) this.log.error("failed to instantly swap NotReadyTaint to UnreachableTaint; will try again in the next cycle", { node: name });
        } else if (this.markNodeForTainting(node, "Unknown")) {
          this.log.info("node is unresponsive; adding it to the taint queue", { node: name });
        }
        break;
      case "True": {
        try {
          if (await this.markNodeAsReachable(node)) this.log.info("node is healthy again, removed all taints", { node: name });
        } catch {
          this.log.error("failed to remove taints from node; will retry in next iteration", { node: name });
        }
        break;
      }
    }
  }

  private tainterFor(node: Node): RateLimitedTimedQueue {
    const zone = getZoneKey(node);
    let q = this.zoneNoExecuteTainter.get(zone);
    if (!q) {
      this.addPodEvictorForNewZone(node);
      q = this.zoneNoExecuteTainter.get(zone)!;
    }
    return q;
  }

  private markNodeForTainting(node: Node, status: "False" | "Unknown"): boolean {
    const name = node.metadata?.name ?? "";
    const q = this.tainterFor(node);
    // Not yet carrying the taint: forget an earlier attempt so the node is queued afresh.
    if (status === "False" && !taintExists(node.spec?.taints, NOT_READY_TAINT_TEMPLATE)) q.remove(name);
    if (status === "Unknown" && !taintExists(node.spec?.taints, UNREACHABLE_TAINT_TEMPLATE)) q.remove(name);
    return q.add(name, node.metadata?.uid ?? "");
  }

  /** Removes both NoExecute taints and takes the node off its zone's queue; true when it was queued. */
  private async markNodeAsReachable(node: Node): Promise<boolean> {
    const name = node.metadata?.name ?? "";
    try {
      await removeTaintOffNode(this.writer, name, node, [{ ...UNREACHABLE_TAINT_TEMPLATE }]);
    } catch (err) {
      this.log.error("failed to remove unreachable taint from node", { node: name, err: (err as Error).message });
      throw err;
    }
    try {
      await removeTaintOffNode(this.writer, name, node, [{ ...NOT_READY_TAINT_TEMPLATE }]);
    } catch (err) {
      this.log.error("failed to remove not-ready taint from node", { node: name, err: (err as Error).message });
      throw err;
    }
    return this.tainterFor(node).remove(name);
  }

  private addPodEvictorForNewZone(node: Node): void {
    const zone = getZoneKey(node);
    if (this.zoneStates.has(zone)) return;
    this.zoneStates.set(zone, "Initial");
    const qps = this.settings.nodeEvictionRate;
    const limiter = qps > 0 ? new TokenBucketLimiter(qps, EVICTION_RATE_LIMITER_BURST, this.timers) : new NeverLimiter();
    this.zoneNoExecuteTainter.set(zone, new RateLimitedTimedQueue(limiter, this.timers));
    this.log.info("initializing eviction for zone", { zone: zoneName(zone) });
  }

  private classifyNodes(all: readonly Node[]): { added: Node[]; deleted: Node[]; newZoneRepresentatives: Node[] } {
    const added: Node[] = [];
    const deleted: Node[] = [];
    const newZoneRepresentatives: Node[] = [];
    for (const n of all) {
      const name = n.metadata?.name ?? "";
      if (!this.knownNodeSet.has(name)) added.push(n);
      else if (!this.zoneStates.has(getZoneKey(n))) newZoneRepresentatives.push(n);
    }
    if (this.knownNodeSet.size + added.length !== all.length) {
      const present = new Set(all.map((n) => n.metadata?.name ?? ""));
      for (const [name, n] of this.knownNodeSet) if (!present.has(name)) deleted.push(n);
    }
    return { added, deleted, newZoneRepresentatives };
  }

  /**
   * handleDisruption: recomputes each zone's state and sets its tainting
   * rate; when every zone is fully disrupted, stops all tainting and
   * removes the NoExecute taints (the control plane is probably the one
   * cut off), and when some node comes back, restarts every node's clock.
   */
  private async handleDisruption(zoneToNodeConditions: Map<string, (NodeCondition | undefined)[]>, nodes: readonly Node[]): Promise<void> {
    const newZoneStates = new Map<string, ZoneState>();
    let allAreFullyDisrupted = true;
    for (const [zone, conditions] of zoneToNodeConditions) {
      const { state } = computeZoneState(conditions, this.settings.unhealthyZoneThreshold);
      if (state !== "FullDisruption") allAreFullyDisrupted = false;
      newZoneStates.set(zone, state);
      if (!this.zoneStates.has(zone)) {
        this.log.error("setting initial state for unseen zone", { zone: zoneName(zone) });
        this.zoneStates.set(zone, "Initial");
      }
    }
    let allWasFullyDisrupted = true;
    for (const [zone, state] of this.zoneStates) {
      if (!zoneToNodeConditions.has(zone)) {
        this.zoneStates.delete(zone);
        continue;
      }
      if (state !== "FullDisruption") {
        allWasFullyDisrupted = false;
        break;
      }
    }
    if (allAreFullyDisrupted && allWasFullyDisrupted) return;
    if (allAreFullyDisrupted) {
      this.log.info("controller detected that all nodes are not-Ready; entering master disruption mode");
      for (const n of nodes) {
        await this.markNodeAsReachable(n).catch(() => this.log.error("failed to remove taints from node", { node: n.metadata?.name ?? "" }));
      }
      for (const zone of this.zoneStates.keys()) this.zoneNoExecuteTainter.get(zone)?.swapLimiter(0);
      for (const zone of this.zoneStates.keys()) this.zoneStates.set(zone, "FullDisruption");
      return;
    }
    if (allWasFullyDisrupted) {
      this.log.info("controller detected that some nodes are Ready; exiting master disruption mode");
      const now = this.timers.now();
      for (const n of nodes) {
        const h = this.nodeHealth.get(n.metadata?.name ?? "");
        if (!h) continue;
        h.probeTimestamp = now;
        h.readyTransitionTimestamp = now;
      }
      for (const zone of [...this.zoneStates.keys()]) {
        const state = newZoneStates.get(zone);
        if (!state) continue;
        this.setLimiterInZone(zone, zoneToNodeConditions.get(zone)?.length ?? 0, state);
        this.zoneStates.set(zone, state);
      }
      return;
    }
    for (const [zone, state] of [...this.zoneStates]) {
      const next = newZoneStates.get(zone);
      if (!next || state === next) continue;
      this.log.info("controller detected that zone is now in new state", { zone: zoneName(zone), newState: next });
      this.setLimiterInZone(zone, zoneToNodeConditions.get(zone)?.length ?? 0, next);
      this.zoneStates.set(zone, next);
    }
  }

  private setLimiterInZone(zone: string, zoneSize: number, state: ZoneState): void {
    const qps = evictionQPS(state, zoneSize, {
      evictionRate: this.settings.nodeEvictionRate,
      secondaryEvictionRate: this.settings.secondaryNodeEvictionRate,
      largeClusterThreshold: this.settings.largeClusterSizeThreshold,
    });
    if (qps !== undefined) this.zoneNoExecuteTainter.get(zone)?.swapLimiter(qps);
  }

  // ---- introspection (tests, logs) ----

  /** The state of a zone (by its key: "" for nodes without topology labels). */
  zoneState(zone: string): ZoneState | undefined {
    return this.zoneStates.get(zone);
  }

  /** The tainting rate of a zone now. */
  zoneEvictionQPS(zone: string): number | undefined {
    return this.zoneNoExecuteTainter.get(zone)?.qps;
  }

  /** Whether the node is queued (or was processed and not yet removed) for a NoExecute taint. */
  isQueuedForTainting(node: Node): boolean {
    return this.zoneNoExecuteTainter.get(getZoneKey(node))?.has(node.metadata?.name ?? "") ?? false;
  }

  /** What the controller remembers of a node's health. */
  healthOf(nodeName: string): Readonly<NodeHealthData> | undefined {
    return this.nodeHealth.get(nodeName);
  }

  // ---- events ----

  private recordNodeEvent(node: Node, reason: string, event: string): void {
    const name = node.metadata?.name ?? "";
    this.opts.recorder?.event(nodeRef(name, node.metadata?.uid), undefined, "Normal", reason, reason, `Node ${name} event: ${event}`);
  }

  private recordNodeStatusChange(node: Node, newStatus: string): void {
    const name = node.metadata?.name ?? "";
    this.log.info("recording status change event message for node", { node: name, status: newStatus });
    this.opts.recorder?.event(nodeRef(name, node.metadata?.uid), undefined, "Normal", newStatus, newStatus, `Node ${name} status is now: ${newStatus}`);
  }
}

/** A zone key as logs show it (the NUL separator is not printable). */
function zoneName(zone: string): string {
  return zone.replace("\u0000", "");
}

/** workqueue.ParallelizeUntil: `fn` over `items` with at most `workers` at once. */
async function parallelize<T>(workers: number, items: readonly T[], fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const run = async () => {
    while (next < items.length) {
      const item = items[next++]!;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(workers, items.length) }, run));
}
