/**
 * DefaultPreemption (PostFilter): when no node fits, finds a node where
 * evicting lower-priority pods makes room — respecting PodDisruptionBudgets
 * where it can, evicting as few and as unimportant pods as possible — and
 * nominates the pod there. Args: minCandidateNodesPercentage (10),
 * minCandidateNodesAbsolute (100).
 *
 * The evictions themselves are API writes the wiring performs from the
 * result's `preemption` plan (see PreemptionPlan); victims waiting at
 * Permit are rejected here.
 */
import type { Pod } from "kubernetes-types/core/v1.js";
import type { PodDisruptionBudget } from "kubernetes-types/policy/v1.js";
import type { CycleState } from "../../framework/cycle-state.js";
import type { NodeInfo } from "../../framework/node-info.js";
import { type PodInfo, podPriority } from "../../framework/pod-info.js";
import type { PluginRegistration } from "../../framework/registry.js";
import { Code, Status } from "../../framework/status.js";
import type { Handle, NodeToStatusMap, PostFilterOutcome, PostFilterPlugin } from "../../framework/types.js";
import { Names } from "../names.js";
import { type DefaultPreemptionArgs, defaultDefaultPreemptionArgs, validateDefaultPreemptionArgs } from "./args.js";
import { moreImportantPod } from "./candidates.js";
import { Evaluator, type PreemptionInterface } from "./evaluator.js";
import { filterPodsWithPDBViolation } from "./pdb.js";

/** podTerminatingByPreemption: deleted, with a DisruptionTarget condition set by scheduler preemption. */
function podTerminatingByPreemption(p: Pod): boolean {
  if (!p.metadata?.deletionTimestamp) return false;
  for (const c of p.status?.conditions ?? []) {
    if (c.type === "DisruptionTarget") return c.status === "True" && c.reason === "PreemptionByScheduler";
  }
  return false;
}

export class DefaultPreemption implements PostFilterPlugin, PreemptionInterface {
  readonly name = Names.DefaultPreemption;
  readonly args: Required<DefaultPreemptionArgs>;

  constructor(
    args: DefaultPreemptionArgs,
    private readonly handle: Handle,
    /** Random numbers in [0, 1) for the dry run's starting node (tests make it deterministic). */
    private readonly rng: () => number = Math.random,
  ) {
    this.args = defaultDefaultPreemptionArgs(args);
  }

  /** PostFilter: preemption; a non-empty message is prefixed "preemption: " for the FailedScheduling event. */
  postFilter(state: CycleState, pod: Pod, m: NodeToStatusMap): PostFilterOutcome {
    const out = new Evaluator(this.name, this.handle, state, this).preempt(pod, m);
    const msg = out.status?.message() ?? "";
    if (msg.length > 0) return { result: out.result, status: Status.of(out.status!.code, `preemption: ${msg}`) };
    return out;
  }

  /** calculateNumCandidates: the percentage of the nodes, at least the absolute number, at most all of them. */
  calculateNumCandidates(numNodes: number): number {
    let n = Math.trunc((numNodes * this.args.minCandidateNodesPercentage) / 100);
    if (n < this.args.minCandidateNodesAbsolute) n = this.args.minCandidateNodesAbsolute;
    if (n > numNodes) n = numNodes;
    return n;
  }

  getOffsetAndNumCandidates(numNodes: number): [number, number] {
    return [Math.floor(this.rng() * numNodes), this.calculateNumCandidates(numNodes)];
  }

  /**
   * PodEligibleToPreemptOthers: not with preemptionPolicy Never, nor while
   * lower-priority pods it preempted are still terminating on its nominated
   * node (unless that node is now unresolvable for it).
   */
  podEligibleToPreemptOthers(pod: Pod, nominatedNodeStatus: Status | undefined): [boolean, string] {
    if (pod.spec?.preemptionPolicy === "Never") return [false, "not eligible due to preemptionPolicy=Never."];
    const nomNodeName = pod.status?.nominatedNodeName ?? "";
    if (nomNodeName !== "") {
      if (nominatedNodeStatus?.code === Code.UnschedulableAndUnresolvable) return [true, ""];
      const ni = this.handle.snapshotSharedLister().nodeInfos().get(nomNodeName);
      if (ni) {
        const priority = podPriority(pod);
        for (const p of ni.pods) {
          if (podPriority(p.pod) < priority && podTerminatingByPreemption(p.pod)) return [false, "not eligible due to a terminating pod on the nominated node."];
        }
      }
    }
    return [true, ""];
  }

  /**
   * SelectVictimsOnNode: removes every lower-priority pod from the node
   * copy; if the pod then fits, reprieves as many as possible — PDB-violating
   * ones first, then the others, each from the highest priority down.
   */
  selectVictimsOnNode(state: CycleState, pod: Pod, nodeInfo: NodeInfo, pdbs: readonly PodDisruptionBudget[]): { victims: Pod[]; numPDBViolations: number; status: Status | null } {
    const fail = (s: Status) => ({ victims: [], numPDBViolations: 0, status: s });
    const removePod = (pi: PodInfo): Status | null => {
      const err = nodeInfo.removePod(pi.pod);
      if (err) return Status.asStatus(err);
      const s = this.handle.runPreFilterExtensionRemovePod(state, pod, pi, nodeInfo);
      return s && !s.isSuccess() ? Status.asStatus(s.asError() ?? new Error(s.message())) : null;
    };
    const addPod = (pi: PodInfo): Status | null => {
      nodeInfo.addPodInfo(pi);
      const s = this.handle.runPreFilterExtensionAddPod(state, pod, pi, nodeInfo);
      return s && !s.isSuccess() ? Status.asStatus(s.asError() ?? new Error(s.message())) : null;
    };

    const priority = podPriority(pod);
    const potentialVictims: PodInfo[] = [];
    // Iterate over a copy: removePod changes the node's list.
    for (const pi of nodeInfo.pods.slice()) {
      if (podPriority(pi.pod) >= priority) continue;
      potentialVictims.push(pi);
      const err = removePod(pi);
      if (err) return fail(err);
    }
    // Nothing to remove: the node's state did not change, no need to filter again.
    if (potentialVictims.length === 0) return fail(Status.of(Code.UnschedulableAndUnresolvable, "No preemption victims found for incoming pod"));

    // Affinity to lower-priority pods is not considered (upstream's choice, for speed).
    const fits = this.handle.runFilterPluginsWithNominatedPods(state, pod, nodeInfo);
    if (fits && !fits.isSuccess()) return fail(fits);

    const now = this.handle.clock.now();
    potentialVictims.sort((a, b) => (moreImportantPod(a.pod, b.pod, now) ? -1 : moreImportantPod(b.pod, a.pod, now) ? 1 : 0));
    const { violating, nonViolating } = filterPodsWithPDBViolation(potentialVictims, pdbs);
    const victims: Pod[] = [];
    let numViolatingVictim = 0;
    const reprieve = (pi: PodInfo): boolean | Status => {
      const err = addPod(pi);
      if (err) return err;
      const s = this.handle.runFilterPluginsWithNominatedPods(state, pod, nodeInfo);
      const podFits = !s || s.isSuccess();
      if (!podFits) {
        const err2 = removePod(pi);
        if (err2) return err2;
        victims.push(pi.pod);
      }
      return podFits;
    };
    for (const pi of violating) {
      const r = reprieve(pi);
      if (r instanceof Status) return fail(r);
      if (!r) numViolatingVictim++;
    }
    for (const pi of nonViolating) {
      const r = reprieve(pi);
      if (r instanceof Status) return fail(r);
    }
    return { victims, numPDBViolations: numViolatingVictim, status: null };
  }
}

export const defaultPreemptionRegistration: PluginRegistration = {
  factory: (args, handle) => {
    const a = (args ?? {}) as DefaultPreemptionArgs;
    const errs = validateDefaultPreemptionArgs("", a);
    if (errs.length > 0) throw new Error(errs.length === 1 ? errs[0] : `[${errs.join(", ")}]`);
    return new DefaultPreemption(a, handle);
  },
  argsKind: "DefaultPreemptionArgs",
  defaultArgs: (args) => ({ ...defaultDefaultPreemptionArgs(args as DefaultPreemptionArgs) }),
  validateArgs: (path, args) => validateDefaultPreemptionArgs(path, args as DefaultPreemptionArgs),
};
