/**
 * The nominator (internal/queue nominator): which pods preemption nominated
 * to which nodes. Filters count nominated pods of equal or higher priority
 * as if they already ran on their node.
 */
import type { Pod } from "kubernetes-types/core/v1.js";
import type { PodInfo } from "../framework/pod-info.js";
import { podKey } from "../framework/pod-info.js";
import { type NamespacedLister, type NominatingInfo, NominatingMode, nominatingMode, type PodNominator } from "../framework/types.js";

const NONE: readonly PodInfo[] = Object.freeze([]);

function nominatedNodeName(pod: Pod): string {
  return pod.status?.nominatedNodeName ?? "";
}

export class Nominator implements PodNominator {
  private readonly nominatedPods = new Map<string, PodInfo[]>();
  private readonly nominatedPodToNode = new Map<string, string>();

  /** With a pod lister, pods already deleted or bound are not nominated. */
  constructor(private readonly podLister?: NamespacedLister<Pod>) {}

  addNominatedPod(pi: PodInfo, nominatingInfo: NominatingInfo | null = null): void {
    // Never keep two entries for one pod.
    this.delete(pi.pod);
    let nodeName: string;
    if (nominatingMode(nominatingInfo) === NominatingMode.Override) {
      nodeName = nominatingInfo!.nominatedNodeName;
    } else {
      nodeName = nominatedNodeName(pi.pod);
      if (nodeName === "") return;
    }
    if (this.podLister) {
      const current = this.podLister.get(pi.pod.metadata?.namespace ?? "", pi.pod.metadata?.name ?? "");
      if (!current || (current.spec?.nodeName ?? "") !== "") return;
    }
    const uid = podKey(pi.pod);
    this.nominatedPodToNode.set(uid, nodeName);
    const list = this.nominatedPods.get(nodeName) ?? [];
    if (list.some((p) => podKey(p.pod) === uid)) return;
    list.push(pi);
    this.nominatedPods.set(nodeName, list);
  }

  private delete(pod: Pod): void {
    const uid = podKey(pod);
    const nnn = this.nominatedPodToNode.get(uid);
    if (nnn === undefined) return;
    const list = (this.nominatedPods.get(nnn) ?? []).filter((p) => podKey(p.pod) !== uid);
    if (list.length === 0) this.nominatedPods.delete(nnn);
    else this.nominatedPods.set(nnn, list);
    this.nominatedPodToNode.delete(uid);
  }

  deleteNominatedPodIfExists(pod: Pod): void {
    this.delete(pod);
  }

  /**
   * UpdateNominatedPod: replaces the pod object; when neither version carries
   * a nominated node but one was recorded (set in memory by preemption just
   * before an unrelated update), the recorded nomination is kept.
   */
  updateNominatedPod(oldPod: Pod, newPodInfo: PodInfo): void {
    let info: NominatingInfo | null = null;
    if (nominatedNodeName(oldPod) === "" && nominatedNodeName(newPodInfo.pod) === "") {
      const nnn = this.nominatedPodToNode.get(podKey(oldPod));
      if (nnn !== undefined) info = { nominatingMode: NominatingMode.Override, nominatedNodeName: nnn };
    }
    this.delete(oldPod);
    this.addNominatedPod(newPodInfo, info);
  }

  /** Whether any pod is nominated to any node (the filter loop's fast path: usually none). */
  hasNominatedPods(): boolean {
    return this.nominatedPods.size > 0;
  }

  /** The pods nominated to a node (a copy; empty lists are shared and must not be modified). */
  nominatedPodsForNode(nodeName: string): PodInfo[] {
    const list = this.nominatedPods.get(nodeName);
    return list ? list.slice() : (NONE as PodInfo[]);
  }

  /** The node a pod is nominated to, if any. */
  nominatedNodeFor(pod: Pod): string | undefined {
    return this.nominatedPodToNode.get(podKey(pod));
  }
}
