/**
 * The scheduler cache (internal/cache/cache.go): nodes and the pods on them,
 * updated incrementally from informer events and from the scheduler's own
 * assumptions ("this pod will be bound to that node").
 *
 * NodeInfos sit in a list ordered by last change, each stamped with a
 * generation. updateSnapshot walks the list from the head only until it
 * reaches a NodeInfo the snapshot already has, so refreshing the snapshot
 * after one binding copies one NodeInfo, not the cluster.
 *
 * Pod life cycle: assumePod → finishBinding → addPod (the informer confirms
 * the binding) → updatePod* → removePod; or assumePod → forgetPod when
 * binding fails. With a ttl, assumed pods whose binding finished but which
 * were never confirmed expire in cleanupAssumedPods. Methods return an error
 * message for events that do not fit this life cycle.
 */
import type { Node, Pod } from "kubernetes-types/core/v1.js";
import { type Clock, systemClock } from "../../machinery/clock.js";
import { NodeTree } from "./node-tree.js";
import { ImageStateSummary, NO_IMAGES, NodeInfo } from "./node-info.js";
import { podKey } from "./pod-info.js";
import type { Snapshot } from "./snapshot.js";

interface NodeItem {
  info: NodeInfo;
  next: NodeItem | undefined;
  prev: NodeItem | undefined;
}

interface PodState {
  pod: Pod;
  /** When an assumed pod expires (ms); undefined: never. */
  deadline: number | undefined;
  /** Whether binding finished, so the assumed pod may expire. */
  bindingFinished: boolean;
}

export interface CacheOptions {
  /** How long an assumed pod whose binding finished waits for confirmation; 0 (the upstream default) means forever. */
  ttlMs?: number;
  clock?: Clock;
}

/** A read-only view of the cache for debugging (Dump). */
export interface CacheDump {
  readonly nodes: ReadonlyMap<string, NodeInfo>;
  readonly assumedPods: ReadonlySet<string>;
}

function nodeName(node: Node): string {
  return node.metadata?.name ?? "";
}

function describePod(pod: Pod): string {
  return `${podKey(pod)}(${pod.metadata?.namespace ?? ""}/${pod.metadata?.name ?? ""})`;
}

export class Cache {
  private readonly ttlMs: number;
  private readonly clock: Clock;
  private readonly assumedPods = new Set<string>();
  private readonly podStates = new Map<string, PodState>();
  private readonly nodes = new Map<string, NodeItem>();
  private headNode: NodeItem | undefined;
  private readonly nodeTree = new NodeTree();
  private readonly imageStates = new Map<string, ImageStateSummary>();

  constructor(opts: CacheOptions = {}) {
    this.ttlMs = opts.ttlMs ?? 0;
    this.clock = opts.clock ?? systemClock;
  }

  nodeCount(): number {
    return this.nodes.size;
  }

  podCount(): number {
    let n = 0;
    for (const item of this.nodes.values()) n += item.info.pods.length;
    return n;
  }

  // ---- the NodeInfo list ----

  private moveToHead(name: string): void {
    const item = this.nodes.get(name);
    if (!item || item === this.headNode) return;
    if (item.prev) item.prev.next = item.next;
    if (item.next) item.next.prev = item.prev;
    if (this.headNode) this.headNode.prev = item;
    item.next = this.headNode;
    item.prev = undefined;
    this.headNode = item;
  }

  private removeFromList(name: string): void {
    const item = this.nodes.get(name);
    if (!item) return;
    if (item.prev) item.prev.next = item.next;
    if (item.next) item.next.prev = item.prev;
    if (item === this.headNode) this.headNode = item.next;
    this.nodes.delete(name);
  }

  private itemFor(name: string): NodeItem {
    let item = this.nodes.get(name);
    if (!item) {
      item = { info: new NodeInfo(), next: undefined, prev: undefined };
      this.nodes.set(name, item);
      // A new item goes to the head so that the next snapshot update sees it.
      if (this.headNode) this.headNode.prev = item;
      item.next = this.headNode;
      this.headNode = item;
    }
    return item;
  }

  // ---- pods ----

  private addPodLocked(pod: Pod, assumed: boolean): void {
    const key = podKey(pod);
    const name = pod.spec?.nodeName ?? "";
    const item = this.itemFor(name);
    item.info.addPod(pod);
    this.moveToHead(name);
    this.podStates.set(key, { pod, deadline: undefined, bindingFinished: false });
    if (assumed) this.assumedPods.add(key);
  }

  private removePodLocked(pod: Pod): string | undefined {
    const key = podKey(pod);
    const name = pod.spec?.nodeName ?? "";
    const item = this.nodes.get(name);
    if (item) {
      const err = item.info.removePod(pod);
      if (err) return err;
      if (item.info.pods.length === 0 && !item.info.node()) this.removeFromList(name);
      else this.moveToHead(name);
    }
    this.podStates.delete(key);
    this.assumedPods.delete(key);
    return undefined;
  }

  /** AssumePod: counts the pod on pod.spec.nodeName before the binding is confirmed. */
  assumePod(pod: Pod): string | undefined {
    const key = podKey(pod);
    if (key === "") return "cannot get cache key for pod with empty UID";
    if (this.podStates.has(key)) return `pod ${describePod(pod)} is in the cache, so can't be assumed`;
    this.addPodLocked(pod, true);
    return undefined;
  }

  /** FinishBinding: the binding call returned; the assumed pod may now expire (when a ttl is set). */
  finishBinding(pod: Pod): string | undefined {
    const key = podKey(pod);
    const state = this.podStates.get(key);
    if (state && this.assumedPods.has(key)) {
      state.deadline = this.ttlMs === 0 ? undefined : this.clock.now() + this.ttlMs;
      state.bindingFinished = true;
    }
    return undefined;
  }

  /** ForgetPod: undoes assumePod (binding failed). */
  forgetPod(pod: Pod): string | undefined {
    const key = podKey(pod);
    const state = this.podStates.get(key);
    if (state && (state.pod.spec?.nodeName ?? "") !== (pod.spec?.nodeName ?? "")) {
      return `pod ${describePod(pod)} was assumed on ${pod.spec?.nodeName ?? ""} but assigned to ${state.pod.spec?.nodeName ?? ""}`;
    }
    if (state && this.assumedPods.has(key)) return this.removePodLocked(pod);
    return `pod ${describePod(pod)} wasn't assumed so cannot be forgotten`;
  }

  /** AddPod: an assigned pod from the informer; confirms an assumed pod, or re-adds an expired one. */
  addPod(pod: Pod): string | undefined {
    const key = podKey(pod);
    if (key === "") return "cannot get cache key for pod with empty UID";
    const state = this.podStates.get(key);
    if (state && this.assumedPods.has(key)) {
      // The pod object now comes from the API: replace the assumed one, possibly on another node.
      const err = this.removePodLocked(state.pod);
      if (err) return err;
      this.addPodLocked(pod, false);
      return undefined;
    }
    if (!state) {
      this.addPodLocked(pod, false);
      return undefined;
    }
    return `pod ${describePod(pod)} was already in added state`;
  }

  /** UpdatePod: a new version of an added (not assumed) pod. */
  updatePod(oldPod: Pod, newPod: Pod): string | undefined {
    const key = podKey(oldPod);
    const state = this.podStates.get(key);
    if (!state) return `pod ${describePod(oldPod)} is not added to scheduler cache, so cannot be updated`;
    if (this.assumedPods.has(key)) return `assumed pod ${describePod(oldPod)} should not be updated`;
    if ((state.pod.spec?.nodeName ?? "") !== (newPod.spec?.nodeName ?? "")) {
      return `pod ${describePod(oldPod)} updated on a different node than previously added to; scheduler cache is corrupted`;
    }
    const err = this.removePodLocked(state.pod);
    if (err) return err;
    this.addPodLocked(newPod, false);
    return undefined;
  }

  /** RemovePod: the pod was deleted (or left its node). */
  removePod(pod: Pod): string | undefined {
    const key = podKey(pod);
    const state = this.podStates.get(key);
    if (!state) return `pod ${describePod(pod)} is not found in scheduler cache, so cannot be removed from it`;
    return this.removePodLocked(state.pod);
  }

  /** GetPod: the cached version of the pod, or undefined. */
  getPod(pod: Pod): Pod | undefined {
    return this.podStates.get(podKey(pod))?.pod;
  }

  isAssumedPod(pod: Pod): boolean {
    return this.assumedPods.has(podKey(pod));
  }

  /** cleanupAssumedPods: expires assumed pods whose binding finished and whose deadline passed (upstream runs it every second). */
  cleanupAssumedPods(now = this.clock.now()): Pod[] {
    const expired: Pod[] = [];
    for (const key of [...this.assumedPods]) {
      const ps = this.podStates.get(key);
      if (!ps?.bindingFinished) continue;
      if (this.ttlMs !== 0 && ps.deadline !== undefined && now > ps.deadline) {
        if (this.removePodLocked(ps.pod) === undefined) expired.push(ps.pod);
      }
    }
    return expired;
  }

  // ---- nodes ----

  private addNodeImageStates(node: Node, info: NodeInfo): void {
    const summaries = new Map<string, ImageStateSummary>();
    for (const image of node.status?.images ?? []) {
      for (const name of image.names ?? []) {
        let state = this.imageStates.get(name);
        if (!state) this.imageStates.set(name, (state = new ImageStateSummary(image.sizeBytes ?? 0, new Set())));
        state.nodes.add(nodeName(node));
        summaries.set(name, state);
      }
    }
    info.imageStates = summaries.size > 0 ? summaries : NO_IMAGES;
  }

  private removeNodeImageStates(node: Node | undefined): void {
    if (!node) return;
    for (const image of node.status?.images ?? []) {
      for (const name of image.names ?? []) {
        const state = this.imageStates.get(name);
        if (!state) continue;
        state.nodes.delete(nodeName(node));
        if (state.nodes.size === 0) this.imageStates.delete(name);
      }
    }
  }

  /** AddNode; returns a copy of the node's NodeInfo. */
  addNode(node: Node): NodeInfo {
    const name = nodeName(node);
    const existing = this.nodes.get(name);
    if (existing) this.removeNodeImageStates(existing.info.node());
    const item = this.itemFor(name);
    this.moveToHead(name);
    this.nodeTree.addNode(node);
    this.addNodeImageStates(node, item.info);
    item.info.setNode(node);
    return item.info.snapshot();
  }

  /** UpdateNode; returns a copy of the node's NodeInfo. */
  updateNode(oldNode: Node | undefined, newNode: Node): NodeInfo {
    const name = nodeName(newNode);
    const existing = this.nodes.get(name);
    if (existing) this.removeNodeImageStates(existing.info.node());
    else this.nodeTree.addNode(newNode);
    const item = this.itemFor(name);
    this.moveToHead(name);
    this.nodeTree.updateNode(oldNode, newNode);
    this.addNodeImageStates(newNode, item.info);
    item.info.setNode(newNode);
    return item.info.snapshot();
  }

  /**
   * RemoveNode: the node leaves the tree (and so the snapshots); its NodeInfo
   * stays as a ghost while pods on it remain, since their deletions arrive
   * on another watch and may come later.
   */
  removeNode(node: Node): string | undefined {
    const name = nodeName(node);
    const item = this.nodes.get(name);
    if (!item) return `node ${name} is not found`;
    item.info.removeNode();
    if (item.info.pods.length === 0) this.removeFromList(name);
    else this.moveToHead(name);
    const err = this.nodeTree.removeNode(node);
    this.removeNodeImageStates(node);
    return err;
  }

  // ---- snapshots ----

  /**
   * UpdateSnapshot: brings `snapshot` up to date, copying only NodeInfos
   * whose generation is newer than the snapshot's. Returns an error message
   * when the snapshot had to be rebuilt from an inconsistent state.
   */
  updateSnapshot(snapshot: Snapshot): string | undefined {
    const snapshotGeneration = snapshot.generation;
    let updateAllLists = false;
    let updateAffinity = false;
    let updateAntiAffinity = false;
    let updateUsedPVCSet = false;

    for (let item = this.headNode; item; item = item.next) {
      if (item.info.generation <= snapshotGeneration) break;
      const node = item.info.node();
      if (!node) continue;
      const name = nodeName(node);
      let existing = snapshot.nodeInfoMap.get(name);
      if (!existing) {
        updateAllLists = true;
        existing = new NodeInfo();
        existing.attachPack(snapshot.packed);
        snapshot.nodeInfoMap.set(name, existing);
      }
      const clone = item.info;
      if (existing.podsWithAffinity.length > 0 !== clone.podsWithAffinity.length > 0) updateAffinity = true;
      if (existing.podsWithRequiredAntiAffinity.length > 0 !== clone.podsWithRequiredAntiAffinity.length > 0) updateAntiAffinity = true;
      if (!updateUsedPVCSet) {
        if (existing.pvcRefCounts.size !== clone.pvcRefCounts.size) updateUsedPVCSet = true;
        else for (const k of clone.pvcRefCounts.keys()) if (!existing.pvcRefCounts.has(k)) updateUsedPVCSet = true;
      }
      // Keep the object: the snapshot's lists hold it and may not be rebuilt.
      existing.copyFrom(clone);
    }
    if (this.headNode) snapshot.generation = this.headNode.info.generation;

    // Deleted nodes leave the tree; their ghosts must leave the snapshot.
    if (snapshot.nodeInfoMap.size > this.nodeTree.numNodes) {
      this.removeDeletedNodesFromSnapshot(snapshot);
      updateAllLists = true;
    }
    if (updateAllLists || updateAffinity || updateAntiAffinity || updateUsedPVCSet) this.updateSnapshotLists(snapshot, updateAllLists);

    if (snapshot.nodeInfoList.length !== this.nodeTree.numNodes) {
      const msg =
        `snapshot state is not consistent, length of NodeInfoList=${snapshot.nodeInfoList.length} not equal to length of nodes in tree=${this.nodeTree.numNodes} ` +
        `, length of NodeInfoMap=${snapshot.nodeInfoMap.size}, length of nodes in cache=${this.nodes.size}, trying to recover`;
      this.updateSnapshotLists(snapshot, true);
      return msg;
    }
    return undefined;
  }

  private updateSnapshotLists(snapshot: Snapshot, updateAll: boolean): void {
    snapshot.havePodsWithAffinityNodeInfoList = [];
    snapshot.havePodsWithRequiredAntiAffinityNodeInfoList = [];
    snapshot.usedPVCSet = new Set();
    if (updateAll) {
      snapshot.nodeInfoList = [];
      for (const name of this.nodeTree.list()) {
        const ni = snapshot.nodeInfoMap.get(name);
        if (ni) snapshot.nodeInfoList.push(ni);
      }
    }
    for (const ni of snapshot.nodeInfoList) {
      if (ni.podsWithAffinity.length > 0) snapshot.havePodsWithAffinityNodeInfoList.push(ni);
      if (ni.podsWithRequiredAntiAffinity.length > 0) snapshot.havePodsWithRequiredAntiAffinityNodeInfoList.push(ni);
      for (const key of ni.pvcRefCounts.keys()) snapshot.usedPVCSet.add(key);
    }
  }

  private removeDeletedNodesFromSnapshot(snapshot: Snapshot): void {
    let toDelete = snapshot.nodeInfoMap.size - this.nodeTree.numNodes;
    for (const name of [...snapshot.nodeInfoMap.keys()]) {
      if (toDelete <= 0) break;
      const item = this.nodes.get(name);
      if (!item?.info.node()) {
        snapshot.nodeInfoMap.get(name)?.detachPack();
        snapshot.nodeInfoMap.delete(name);
        toDelete--;
      }
    }
  }

  /** Dump: copies of every NodeInfo and the assumed pod keys (debugging). */
  dump(): CacheDump {
    const nodes = new Map<string, NodeInfo>();
    for (const [name, item] of this.nodes) nodes.set(name, item.info.snapshot());
    return { nodes, assumedPods: new Set(this.assumedPods) };
  }
}
