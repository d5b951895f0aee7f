/**
 * The snapshot a scheduling cycle works on (internal/cache/snapshot.go): the
 * NodeInfos by name and as a list, the sublists of nodes with
 * (anti-)affinity pods, and the PVCs in use. The Cache refreshes it in
 * place, re-copying only NodeInfos that changed since its generation.
 */
import type { Node, Pod } from "kubernetes-types/core/v1.js";
import { NodeInfo, PackedResources } from "./node-info.js";
import type { NodeInfoLister, SharedLister, StorageInfoLister } from "./types.js";

export class Snapshot implements SharedLister, NodeInfoLister, StorageInfoLister {
  /** Every NodeInfo, by node name. */
  nodeInfoMap = new Map<string, NodeInfo>();
  nodeInfoList: NodeInfo[] = [];
  havePodsWithAffinityNodeInfoList: NodeInfo[] = [];
  havePodsWithRequiredAntiAffinityNodeInfoList: NodeInfo[] = [];
  /** "namespace/claim" of every PVC used by a pod in the snapshot. */
  usedPVCSet = new Set<string>();
  /** The highest NodeInfo generation copied into this snapshot. */
  generation = 0;
  /** The resource numbers of this snapshot's NodeInfos, side by side (see PackedResources). */
  readonly packed = new PackedResources();

  /** NewSnapshot: a snapshot built directly from objects (tests, simulations). */
  static fromObjects(pods: readonly Pod[], nodes: readonly Node[]): Snapshot {
    const s = new Snapshot();
    const byNode = new Map<string, NodeInfo>();
    for (const pod of pods) {
      const nodeName = pod.spec?.nodeName ?? "";
      let ni = byNode.get(nodeName);
      if (!ni) byNode.set(nodeName, (ni = new NodeInfo()));
      ni.addPod(pod);
    }
    for (const node of nodes) {
      const name = node.metadata?.name ?? "";
      let ni = byNode.get(name);
      if (!ni) byNode.set(name, (ni = new NodeInfo()));
      ni.setNode(node);
      ni.attachPack(s.packed);
      s.nodeInfoMap.set(name, ni);
      s.nodeInfoList.push(ni);
      if (ni.podsWithAffinity.length > 0) s.havePodsWithAffinityNodeInfoList.push(ni);
      if (ni.podsWithRequiredAntiAffinity.length > 0) s.havePodsWithRequiredAntiAffinityNodeInfoList.push(ni);
      for (const key of ni.pvcRefCounts.keys()) s.usedPVCSet.add(key);
    }
    return s;
  }

  nodeInfos(): NodeInfoLister {
    return this;
  }

  storageInfos(): StorageInfoLister {
    return this;
  }

  numNodes(): number {
    return this.nodeInfoList.length;
  }

  list(): readonly NodeInfo[] {
    return this.nodeInfoList;
  }

  havePodsWithAffinityList(): readonly NodeInfo[] {
    return this.havePodsWithAffinityNodeInfoList;
  }

  havePodsWithRequiredAntiAffinityList(): readonly NodeInfo[] {
    return this.havePodsWithRequiredAntiAffinityNodeInfoList;
  }

  get(nodeName: string): NodeInfo | undefined {
    const ni = this.nodeInfoMap.get(nodeName);
    return ni?.node() ? ni : undefined;
  }

  isPVCUsedByPods(key: string): boolean {
    return this.usedPVCSet.has(key);
  }
}
