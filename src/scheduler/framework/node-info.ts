/**
 * framework.NodeInfo: a node with the pods the scheduler counts on it and
 * their aggregate requests, ports, images and PVC references. Every change
 * bumps a process-wide generation number, which is how the cache's
 * snapshot update finds the few NodeInfos that changed since last time.
 */
import type { Node, Pod } from "kubernetes-types/core/v1.js";
import { HostPortInfo, podHostPorts } from "./host-ports.js";
import { PodInfo, podKey } from "./pod-info.js";
import { Resource } from "./resource.js";

let generation = 0;

/** nextGeneration: a process-wide, strictly increasing number. */
export function nextGeneration(): number {
  generation += 1;
  return generation;
}

/** How many recent NodeInfo changes {@link changedSince} can report (a power of two). */
const CHANGE_LOG_SIZE = 4096;
const changeLog: NodeInfo[] = new Array(CHANGE_LOG_SIZE);
let changes = 0;

/** Records that `ni` changed (its generation was set). */
function logChange(ni: NodeInfo): void {
  changeLog[changes & (CHANGE_LOG_SIZE - 1)] = ni;
  changes++;
}

/** A position in the log of NodeInfo changes, for {@link changedSince}. */
export function changePosition(): number {
  return changes;
}

/**
 * Calls `f` with every NodeInfo whose generation was set since `position`
 * (oldest first; one NodeInfo may come more than once), and returns the
 * current position; or returns undefined, calling nothing, when more
 * changes happened than the log keeps. Lets per-node aggregates over a
 * long node list revisit the few nodes a cycle changed instead of all.
 */
export function changedSince(position: number, f: (ni: NodeInfo) => void): number | undefined {
  if (changes - position > CHANGE_LOG_SIZE || position > changes) return undefined;
  for (let i = position; i < changes; i++) f(changeLog[i & (CHANGE_LOG_SIZE - 1)]!);
  return changes;
}

/**
 * ImageStateSummary: an image's size and the nodes that have it. The node
 * set is shared with the cache and kept current, so `numNodes` is the live
 * count (upstream copies the set into each snapshot; sharing it avoids a
 * copy per image per changed node).
 */
export class ImageStateSummary {
  constructor(
    readonly size: number,
    readonly nodes: Set<string>,
  ) {}

  get numNodes(): number {
    return this.nodes.size;
  }
}

function podWithAffinity(p: Pod): boolean {
  const a = p.spec?.affinity;
  return !!a && (!!a.podAffinity || !!a.podAntiAffinity);
}

function podWithRequiredAntiAffinity(p: Pod): boolean {
  const a = p.spec?.affinity;
  return !!a?.podAntiAffinity && (a.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution?.length ?? 0) !== 0;
}

function removeFromList(list: PodInfo[], key: string): PodInfo | undefined {
  for (let i = 0; i < list.length; i++) {
    if (podKey(list[i]!.pod) === key) {
      const removed = list[i]!;
      list[i] = list[list.length - 1]!;
      list.pop();
      return removed;
    }
  }
  return undefined;
}

/** "namespace/name", the key of a PVC in pvcRefCounts and the snapshot's usedPVCSet. */
export function namespacedName(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

export class NodeInfo {
  private nodeObject: Node | undefined;
  private nodeName = "";
  pods: PodInfo[] = [];
  podsWithAffinity: PodInfo[] = [];
  podsWithRequiredAntiAffinity: PodInfo[] = [];
  usedPorts = new HostPortInfo();
  /** Total requests of the pods (assumed pods included). */
  requested = new Resource();
  /** Requests with 100m cpu / 200Mi memory for containers that set none; used for spreading scores. */
  nonZeroRequested = new Resource();
  /** node.status.allocatable. */
  allocatable = new Resource();
  /** Images on the node, by every name they are known by. */
  imageStates: Map<string, ImageStateSummary> = new Map();
  /** "namespace/claim" → number of pods on the node using it. */
  pvcRefCounts = new Map<string, number>();
  generation: number;

  constructor(...pods: Pod[]) {
    this.generation = nextGeneration();
    logChange(this);
    for (const p of pods) this.addPod(p);
  }

  /** The node object; undefined for a ghost NodeInfo whose node was deleted before its pods. */
  node(): Node | undefined {
    return this.nodeObject;
  }

  /** The node's name ("" when the node is unknown). */
  get name(): string {
    return this.nodeName;
  }

  addPodInfo(pi: PodInfo): void {
    this.pods.push(pi);
    if (podWithAffinity(pi.pod)) this.podsWithAffinity.push(pi);
    if (podWithRequiredAntiAffinity(pi.pod)) this.podsWithRequiredAntiAffinity.push(pi);
    this.update(pi, 1);
  }

  addPod(pod: Pod): void {
    this.addPodInfo(new PodInfo(pod));
  }

  /** RemovePod: an error message when the pod is not on this node. */
  removePod(pod: Pod): string | undefined {
    const key = podKey(pod);
    if (key === "") return "cannot get cache key for pod with empty UID";
    if (podWithAffinity(pod)) removeFromList(this.podsWithAffinity, key);
    if (podWithRequiredAntiAffinity(pod)) removeFromList(this.podsWithRequiredAntiAffinity, key);
    const removed = removeFromList(this.pods, key);
    if (!removed) return `no corresponding pod ${pod.metadata?.name ?? ""} in pods of node ${this.name}`;
    // The stored PodInfo knows what was added; the caller's object may be a newer version.
    this.update(removed, -1);
    return undefined;
  }

  private update(pi: PodInfo, sign: 1 | -1): void {
    const res = pi.resource;
    const r = res.resource;
    this.requested.milliCPU += sign * r.milliCPU;
    this.requested.memory += sign * r.memory;
    this.requested.ephemeralStorage += sign * r.ephemeralStorage;
    if (r.scalarResources) for (const [name, v] of r.scalarResources) this.requested.addScalar(name, sign * v);
    this.nonZeroRequested.milliCPU += sign * res.non0CPU;
    this.nonZeroRequested.memory += sign * res.non0Mem;
    for (const p of podHostPorts(pi.pod)) {
      if (sign > 0) this.usedPorts.add(p.hostIP, p.protocol, p.hostPort);
      else this.usedPorts.remove(p.hostIP, p.protocol, p.hostPort);
    }
    this.updatePVCRefCounts(pi.pod, sign);
    this.generation = nextGeneration();
    logChange(this);
  }

  private updatePVCRefCounts(pod: Pod, sign: 1 | -1): void {
    const ns = pod.metadata?.namespace ?? "";
    for (const v of pod.spec?.volumes ?? []) {
      const claim = v.persistentVolumeClaim?.claimName;
      if (claim === undefined) continue;
      const key = namespacedName(ns, claim);
      const n = (this.pvcRefCounts.get(key) ?? 0) + sign;
      if (n <= 0) this.pvcRefCounts.delete(key);
      else this.pvcRefCounts.set(key, n);
    }
  }

  /** SetNode: the node object and its allocatable resources. */
  setNode(node: Node): void {
    this.nodeObject = node;
    this.nodeName = node.metadata?.name ?? "";
    this.allocatable = Resource.fromList(node.status?.allocatable);
    this.generation = nextGeneration();
    logChange(this);
  }

  /** RemoveNode: forgets the node object, keeping the pods until their deletions arrive. */
  removeNode(): void {
    this.nodeObject = undefined;
    this.nodeName = "";
    this.generation = nextGeneration();
    logChange(this);
  }

  /** Snapshot/Clone: a copy whose pod lists, ports, resources and counts are independent. */
  snapshot(): NodeInfo {
    const c = Object.create(NodeInfo.prototype) as NodeInfo;
    c.requested = new Resource();
    c.nonZeroRequested = new Resource();
    c.allocatable = new Resource();
    c.copyFrom(this);
    return c;
  }

  /**
   * Makes this NodeInfo a copy of `other`, keeping this object's identity
   * (the snapshot lists hold it) and its Resource objects: filters read them
   * for every node of every cycle, and objects that stay where the snapshot
   * first allocated them (together, in node order) are cheaper to reach than
   * fresh ones scattered over the heap by each update.
   */
  copyFrom(other: NodeInfo): void {
    this.nodeObject = other.nodeObject;
    this.nodeName = other.nodeName;
    this.pods = other.pods.slice();
    this.podsWithAffinity = other.podsWithAffinity.slice();
    this.podsWithRequiredAntiAffinity = other.podsWithRequiredAntiAffinity.slice();
    this.usedPorts = other.usedPorts.clone();
    this.requested.copyFrom(other.requested);
    this.nonZeroRequested.copyFrom(other.nonZeroRequested);
    this.allocatable.copyFrom(other.allocatable);
    // The cache replaces the whole map on node updates and never mutates one in place.
    this.imageStates = other.imageStates;
    this.pvcRefCounts = new Map(other.pvcRefCounts);
    this.generation = other.generation;
    logChange(this);
  }
}
