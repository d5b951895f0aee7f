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

/**
 * The image states of every node that reports no images: one shared (hot)
 * map rather than one per node, which ImageLocality would otherwise fetch
 * from all over the heap for every node it scores.
 */
export const NO_IMAGES: ReadonlyMap<string, ImageStateSummary> = new Map();

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

/** Offsets of a NodeInfo's numbers in {@link PackedResources} (see there). */
export const PACK_ALLOC_CPU = 0;
export const PACK_ALLOC_MEMORY = 1;
export const PACK_ALLOC_EPHEMERAL = 2;
export const PACK_ALLOWED_PODS = 3;
export const PACK_REQ_CPU = 4;
export const PACK_REQ_MEMORY = 5;
export const PACK_REQ_EPHEMERAL = 6;
export const PACK_NUM_PODS = 7;
export const PACK_NONZERO_CPU = 8;
export const PACK_NONZERO_MEMORY = 9;
const PACK_STRIDE = 10;

/**
 * The numbers NodeResourcesFit and the resource scorers read for every node
 * of every cycle (allocatable, requested and non-zero requested cpu, memory
 * and ephemeral storage, allowed and current pod counts), for all of a
 * snapshot's NodeInfos side by side in one Float64Array. Read through the
 * objects, each node costs several dependent loads scattered over the heap
 * (NodeInfo, Resource, the boxed number); here it is one slot in a few
 * hundred kilobytes. A NodeInfo keeps its slot in step with its objects
 * whenever it changes; the objects stay the source of truth.
 */
export class PackedResources {
  data = new Float64Array(PACK_STRIDE * 64);
  private used = 0;
  private readonly free: number[] = [];

  /** A slot's offset into `data`. */
  alloc(): number {
    const reused = this.free.pop();
    if (reused !== undefined) return reused;
    const offset = this.used;
    this.used += PACK_STRIDE;
    if (this.used > this.data.length) {
      const grown = new Float64Array(Math.max(this.data.length * 2, this.used));
      grown.set(this.data);
      this.data = grown;
    }
    return offset;
  }

  release(offset: number): void {
    this.free.push(offset);
  }
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
  /** Images on the node, by every name they are known by (replaced, never changed in place: may be shared). */
  imageStates: ReadonlyMap<string, ImageStateSummary> = NO_IMAGES;
  /** "namespace/claim" → number of pods on the node using it. */
  pvcRefCounts = new Map<string, number>();
  generation: number;
  /** The packed copy of the resource numbers, for NodeInfos of a snapshot (see {@link PackedResources}). */
  pack: PackedResources | undefined = undefined;
  /** This NodeInfo's offset in `pack.data`. */
  packSlot = 0;

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
    if (this.pack) this.syncPack(this.pack);
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
    if (this.pack) this.syncPack(this.pack);
  }

  /** RemoveNode: forgets the node object, keeping the pods until their deletions arrive. */
  removeNode(): void {
    this.nodeObject = undefined;
    this.nodeName = "";
    this.generation = nextGeneration();
    logChange(this);
  }

  /** Keeps this NodeInfo's numbers in a slot of `pack` from now on. */
  attachPack(pack: PackedResources): void {
    if (this.pack === pack) return;
    this.detachPack();
    this.pack = pack;
    this.packSlot = pack.alloc();
    this.syncPack(pack);
  }

  /** Gives the slot back (the NodeInfo left its snapshot). */
  detachPack(): void {
    this.pack?.release(this.packSlot);
    this.pack = undefined;
    this.packSlot = 0;
  }

  private syncPack(pack: PackedResources): void {
    const d = pack.data;
    const o = this.packSlot;
    const a = this.allocatable;
    const r = this.requested;
    d[o + PACK_ALLOC_CPU] = a.milliCPU;
    d[o + PACK_ALLOC_MEMORY] = a.memory;
    d[o + PACK_ALLOC_EPHEMERAL] = a.ephemeralStorage;
    d[o + PACK_ALLOWED_PODS] = a.allowedPodNumber;
    d[o + PACK_REQ_CPU] = r.milliCPU;
    d[o + PACK_REQ_MEMORY] = r.memory;
    d[o + PACK_REQ_EPHEMERAL] = r.ephemeralStorage;
    d[o + PACK_NUM_PODS] = this.pods.length;
    d[o + PACK_NONZERO_CPU] = this.nonZeroRequested.milliCPU;
    d[o + PACK_NONZERO_MEMORY] = this.nonZeroRequested.memory;
  }

  /** Snapshot/Clone: a copy whose pod lists, ports, resources and counts are independent (and unpacked). */
  snapshot(): NodeInfo {
    const c = Object.create(NodeInfo.prototype) as NodeInfo;
    c.requested = new Resource();
    c.nonZeroRequested = new Resource();
    c.allocatable = new Resource();
    c.pack = undefined;
    c.packSlot = 0;
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
    if (this.pack) this.syncPack(this.pack);
  }
}
