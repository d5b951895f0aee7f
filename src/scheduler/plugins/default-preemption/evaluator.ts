/**
 * The preemption evaluator (framework/preemption/preemption.go, v1.30):
 * checks the preemptor may preempt, dry-runs removing lower-priority pods
 * on a sample of nodes where preemption might help, picks the best
 * candidate and prepares it — rejecting victims that wait at Permit and
 * returning the API work (evictions, cleared nominations) as a
 * PreemptionPlan for the wiring.
 */
import type { Pod, PodCondition } from "kubernetes-types/core/v1.js";
import type { PodDisruptionBudget } from "kubernetes-types/policy/v1.js";
import type { CycleState } from "../../framework/cycle-state.js";
import { FitError, newDiagnosis } from "../../framework/fit-error.js";
import type { NodeInfo } from "../../framework/node-info.js";
import { podKey, podPriority } from "../../framework/pod-info.js";
import { Code, Status } from "../../framework/status.js";
import { type Handle, NominatingMode, type NodeToStatusMap, type PostFilterOutcome, type PreemptionPlan } from "../../framework/types.js";
import { type Candidate, CandidateList, pickOneNodeForPreemption, type Victims } from "./candidates.js";

/** The preemption-policy-specific parts (preemption.Interface). */
export interface PreemptionInterface {
  /** A random offset into the potential nodes, and how many candidates to find. */
  getOffsetAndNumCandidates(numNodes: number): [number, number];
  /** Whether the pod may preempt, and why not. */
  podEligibleToPreemptOthers(pod: Pod, nominatedNodeStatus: Status | undefined): [boolean, string];
  /** The fewest victims on the node (a copy) that make room for the pod, with their PDB violations. */
  selectVictimsOnNode(state: CycleState, pod: Pod, nodeInfo: NodeInfo, pdbs: readonly PodDisruptionBudget[]): { victims: Pod[]; numPDBViolations: number; status: Status | null };
}

/** The condition added to a victim before it is deleted. */
export function disruptionTargetCondition(preemptor: Pod): PodCondition {
  return {
    type: "DisruptionTarget",
    status: "True",
    reason: "PreemptionByScheduler",
    message: `${preemptor.spec?.schedulerName ?? ""}: preempting to accommodate a higher priority pod`,
  };
}

export class Evaluator {
  constructor(
    private readonly pluginName: string,
    private readonly handle: Handle,
    private readonly state: CycleState,
    private readonly iface: PreemptionInterface,
  ) {}

  /**
   * Preempt: on success a nominated node and the plan (status null); when
   * no node can be helped, a result clearing the nomination and an
   * Unschedulable status worded as a FitError; when the pod may not
   * preempt, no result and an Unschedulable status.
   */
  preempt(pod: Pod, m: NodeToStatusMap): PostFilterOutcome {
    // The latest version of the pod: its nomination may have changed since the cycle started.
    const ns = pod.metadata?.namespace ?? "";
    const name = pod.metadata?.name ?? "";
    const latest = this.handle.listers.pods.get(ns, name);
    if (!latest) return { status: Status.asStatus(`pod ${JSON.stringify(name)} not found`) };

    const [eligible, msg] = this.iface.podEligibleToPreemptOthers(latest, m.get(latest.status?.nominatedNodeName ?? ""));
    if (!eligible) return { status: Status.of(Code.Unschedulable, msg) };

    const found = this.findCandidates(latest, m);
    if (found.error !== undefined && found.candidates.length === 0) return { status: Status.asStatus(found.error) };
    if (found.candidates.length === 0) {
      const diagnosis = newDiagnosis();
      diagnosis.nodeToStatusMap = found.nodeStatuses;
      const fitError = new FitError(latest, found.nodeStatuses.size, diagnosis);
      // Clear the pod's nominated node, if it has one.
      return {
        result: { nominatingInfo: { nominatedNodeName: "", nominatingMode: NominatingMode.Override } },
        status: Status.of(Code.Unschedulable, fitError.message),
      };
    }
    const best = this.selectCandidate(found.candidates);
    if (!best || best.name === "") return { status: Status.of(Code.Unschedulable, "no candidate node for preemption") };
    const plan = this.prepareCandidate(best, latest);
    return { result: { nominatingInfo: { nominatedNodeName: best.name, nominatingMode: NominatingMode.Override }, preemption: plan }, status: null };
  }

  /** findCandidates: dry-run preemption on a sample of the nodes where it might help. */
  private findCandidates(pod: Pod, m: NodeToStatusMap): { candidates: Candidate[]; nodeStatuses: NodeToStatusMap; error?: string } {
    const allNodes = this.handle.snapshotSharedLister().nodeInfos().list();
    if (allNodes.length === 0) return { candidates: [], nodeStatuses: new Map(), error: "no nodes available" };
    const { potentialNodes, nodeStatuses: unschedulable } = nodesWherePreemptionMightHelp(allNodes, m);
    // No node can be helped: the caller's result clears the pod's nomination.
    if (potentialNodes.length === 0) return { candidates: [], nodeStatuses: unschedulable };
    const pdbs = this.handle.listers.podDisruptionBudgets.list();
    const [offset, numCandidates] = this.iface.getOffsetAndNumCandidates(potentialNodes.length);
    const r = this.dryRunPreemption(pod, potentialNodes, pdbs, offset, numCandidates);
    for (const [node, s] of unschedulable) r.nodeStatuses.set(node, s);
    return r;
  }

  /**
   * DryRunPreemption: victims per node, on copies of the node and the cycle
   * state, starting at `offset`; stops once it has numCandidates candidates,
   * one of them PDB-clean. Non-violating candidates come first.
   */
  dryRunPreemption(
    pod: Pod,
    potentialNodes: readonly NodeInfo[],
    pdbs: readonly PodDisruptionBudget[],
    offset: number,
    numCandidates: number,
  ): { candidates: Candidate[]; nodeStatuses: NodeToStatusMap; error?: string } {
    const nonViolating = new CandidateList(numCandidates);
    const violating = new CandidateList(numCandidates);
    const nodeStatuses: NodeToStatusMap = new Map();
    const errs: string[] = [];
    for (let i = 0; i < potentialNodes.length; i++) {
      const nodeInfoCopy = potentialNodes[(offset + i) % potentialNodes.length]!.snapshot();
      const stateCopy = this.state.clone();
      const r = this.iface.selectVictimsOnNode(stateCopy, pod, nodeInfoCopy, pdbs);
      let status = r.status;
      if ((!status || status.isSuccess()) && r.victims.length !== 0) {
        const c: Candidate = { name: nodeInfoCopy.name, victims: { pods: r.victims, numPDBViolations: r.numPDBViolations } };
        (r.numPDBViolations === 0 ? nonViolating : violating).add(c);
        if (nonViolating.length > 0 && nonViolating.length + violating.length >= numCandidates) break;
        continue;
      }
      if (!status || status.isSuccess()) status = Status.asStatus(`expected at least one victim pod on node ${JSON.stringify(nodeInfoCopy.name)}`);
      if (status.code === Code.Error) errs.push(status.message());
      nodeStatuses.set(nodeInfoCopy.name, status);
    }
    const error = errs.length === 0 ? undefined : errs.length === 1 ? errs[0] : `[${errs.join(", ")}]`;
    return { candidates: [...nonViolating.items, ...violating.items], nodeStatuses, error };
  }

  /** SelectCandidate. */
  selectCandidate(candidates: readonly Candidate[]): Candidate | undefined {
    if (candidates.length === 0) return undefined;
    if (candidates.length === 1) return candidates[0];
    const victimsMap = new Map<string, Victims>();
    for (const c of candidates) victimsMap.set(c.name, c.victims);
    const node = pickOneNodeForPreemption(victimsMap, this.handle.clock.now());
    const victims = victimsMap.get(node);
    // Unreachable; upstream falls back to the first candidate too.
    return victims ? { name: node, victims } : candidates[0];
  }

  /**
   * prepareCandidate: rejects victims waiting at Permit (in-process, as
   * upstream), and returns the rest of the work — deleting the other
   * victims, clearing lower-priority nominations on the node — as a plan.
   */
  private prepareCandidate(c: Candidate, pod: Pod): PreemptionPlan {
    const podsToDelete: Pod[] = [];
    for (const victim of c.victims.pods) {
      const waiting = this.handle.getWaitingPod(podKey(victim));
      if (waiting) waiting.reject(this.pluginName, "preempted");
      else podsToDelete.push(victim);
    }
    // Lower-priority pods nominated here may no longer fit; clearing their nomination requeues them.
    const priority = podPriority(pod);
    const nominatedPodsToClear = this.handle
      .nominatedPodsForNode(c.name)
      .filter((pi) => podPriority(pi.pod) < priority)
      .map((pi) => pi.pod);
    return { preemptor: pod, nodeName: c.name, victims: c.victims.pods, podsToDelete, disruptionCondition: disruptionTargetCondition(pod), nominatedPodsToClear };
  }
}

/**
 * nodesWherePreemptionMightHelp: nodes not rejected as
 * UnschedulableAndUnresolvable; those are reported as "Preemption is not
 * helpful for scheduling".
 */
export function nodesWherePreemptionMightHelp(nodes: readonly NodeInfo[], m: NodeToStatusMap): { potentialNodes: NodeInfo[]; nodeStatuses: NodeToStatusMap } {
  const potentialNodes: NodeInfo[] = [];
  const nodeStatuses: NodeToStatusMap = new Map();
  for (const node of nodes) {
    // Each plugin's status — Unschedulable or UnschedulableAndUnresolvable — says whether preemption may help.
    if (m.get(node.name)?.code === Code.UnschedulableAndUnresolvable) {
      nodeStatuses.set(node.name, Status.of(Code.UnschedulableAndUnresolvable, "Preemption is not helpful for scheduling"));
      continue;
    }
    potentialNodes.push(node);
  }
  return { potentialNodes, nodeStatuses };
}
