/**
 * Diagnosis and FitError (framework/types.go, v1.30): why no node fits a pod,
 * and the FailedScheduling message built from it:
 *
 *   0/3 nodes are available: 1 node(s) had untolerated taint {k: v}, 2 Insufficient memory. preemption: …
 *
 * The per-node reasons are counted, each rendered "<count> <reason>", sorted
 * as strings and joined with ", ". A PreFilter rejection replaces the
 * histogram with its own message; a PostFilter (preemption) message follows
 * as one more " <msg>." segment — DefaultPreemption words it "preemption: …".
 */
import type { Pod } from "kubernetes-types/core/v1.js";
import { Code, type Status } from "./status.js";
import type { NodeToStatusMap } from "./types.js";

/** NoNodeAvailableMsg, formatted with the number of nodes. */
export const NoNodeAvailableMsg = "0/%v nodes are available";

/** ErrNoNodesAvailable: the message when the snapshot has no node at all. */
export const ErrNoNodesAvailable = "no nodes available to schedule pods";

/** Diagnosis: the details of a scheduling failure. */
export interface Diagnosis {
  /** The status of every node that was evaluated and rejected. */
  nodeToStatusMap: NodeToStatusMap;
  /** Plugins that rejected the pod (Unschedulable, UnschedulableAndUnresolvable). */
  unschedulablePlugins: Set<string>;
  /** Plugins that returned Pending. */
  pendingPlugins: Set<string>;
  /** The PreFilter rejection message, when PreFilter rejected the pod. */
  preFilterMsg: string;
  /** The PostFilter (preemption) message, filled in by the caller after running PostFilter. */
  postFilterMsg: string;
}

export function newDiagnosis(): Diagnosis {
  return { nodeToStatusMap: new Map(), unschedulablePlugins: new Set(), pendingPlugins: new Set(), preFilterMsg: "", postFilterMsg: "" };
}

/** Diagnosis.AddPluginStatus: records which plugin rejected (or pended) the pod. */
export function addPluginStatus(d: Diagnosis, s: Status): void {
  if (s.plugin === "") return;
  if (s.isRejected()) d.unschedulablePlugins.add(s.plugin);
  if (s.code === Code.Pending) d.pendingPlugins.add(s.plugin);
}

/** The "<count> <reason>" histogram of the nodes' reasons, sorted as strings. */
export function reasonsHistogram(nodeToStatusMap: NodeToStatusMap): string[] {
  const counts = new Map<string, number>();
  for (const status of nodeToStatusMap.values()) {
    for (const reason of status.reasons()) counts.set(reason, (counts.get(reason) ?? 0) + 1);
  }
  const out: string[] = [];
  for (const [reason, n] of counts) out.push(`${n} ${reason}`);
  // Go's sort.Strings orders by bytes; so does comparing UTF-16 code units for these ASCII messages.
  return out.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** FitError: the pod fits no node. A value the caller reports, not a thrown error. */
export class FitError {
  constructor(
    readonly pod: Pod,
    readonly numAllNodes: number,
    readonly diagnosis: Diagnosis,
  ) {}

  /** FitError.Error(): the FailedScheduling message. */
  get message(): string {
    let msg = `${NoNodeAvailableMsg.replace("%v", String(this.numAllNodes))}:`;
    const preFilterMsg = this.diagnosis.preFilterMsg;
    if (preFilterMsg !== "") {
      // PreFilter gave every node the same status; counting it per node would repeat it.
      msg += ` ${preFilterMsg}.`;
    } else {
      const histogram = reasonsHistogram(this.diagnosis.nodeToStatusMap);
      if (histogram.length !== 0) msg += ` ${histogram.join(", ")}.`;
    }
    const postFilterMsg = this.diagnosis.postFilterMsg;
    if (postFilterMsg !== "") msg += ` ${postFilterMsg}.`;
    return msg;
  }

  toString(): string {
    return this.message;
  }
}
