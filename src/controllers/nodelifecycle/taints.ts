/**
 * Taints the node lifecycle controller manages, and the taint/toleration
 * arithmetic it and the taint eviction controller share, as upstream's
 * k8s.io/api well-known taints, pkg/util/taints and the core/v1 helper's
 * GetMatchingTolerations.
 */
import type { Taint, Toleration } from "kubernetes-types/core/v1.js";
import { deepEqual } from "../common/equality.js";
import { toleratesTaint } from "../../scheduler/framework/taints.js";

/** The node's Ready condition is False. */
export const TAINT_NODE_NOT_READY = "node.kubernetes.io/not-ready";
/** The node controller lost the node's heartbeat (Ready is Unknown). */
export const TAINT_NODE_UNREACHABLE = "node.kubernetes.io/unreachable";
/** The node is cordoned (spec.unschedulable). */
export const TAINT_NODE_UNSCHEDULABLE = "node.kubernetes.io/unschedulable";
export const TAINT_NODE_MEMORY_PRESSURE = "node.kubernetes.io/memory-pressure";
export const TAINT_NODE_DISK_PRESSURE = "node.kubernetes.io/disk-pressure";
export const TAINT_NODE_NETWORK_UNAVAILABLE = "node.kubernetes.io/network-unavailable";
export const TAINT_NODE_PID_PRESSURE = "node.kubernetes.io/pid-pressure";
/** Set by an administrator on a node that is shut down for good: its terminating pods may be force-deleted. */
export const TAINT_NODE_OUT_OF_SERVICE = "node.kubernetes.io/out-of-service";

/** upstream's UnreachableTaintTemplate. */
export const UNREACHABLE_TAINT_TEMPLATE: Readonly<Taint> = Object.freeze({ key: TAINT_NODE_UNREACHABLE, effect: "NoExecute" });
/** upstream's NotReadyTaintTemplate. */
export const NOT_READY_TAINT_TEMPLATE: Readonly<Taint> = Object.freeze({ key: TAINT_NODE_NOT_READY, effect: "NoExecute" });

/**
 * Which condition status gets which NoSchedule taint
 * (upstream's nodeConditionToTaintKeyStatusMap).
 */
export const NODE_CONDITION_TO_TAINT_KEY: Readonly<Record<string, Readonly<Record<string, string>>>> = Object.freeze({
  Ready: { False: TAINT_NODE_NOT_READY, Unknown: TAINT_NODE_UNREACHABLE },
  MemoryPressure: { True: TAINT_NODE_MEMORY_PRESSURE },
  DiskPressure: { True: TAINT_NODE_DISK_PRESSURE },
  NetworkUnavailable: { True: TAINT_NODE_NETWORK_UNAVAILABLE },
  PIDPressure: { True: TAINT_NODE_PID_PRESSURE },
});

/** Taint keys that stand for a node condition (upstream's taintKeyToNodeConditionMap). */
export const TAINT_KEY_TO_NODE_CONDITION: Readonly<Record<string, string>> = Object.freeze({
  [TAINT_NODE_NOT_READY]: "Ready",
  [TAINT_NODE_UNREACHABLE]: "Ready",
  [TAINT_NODE_NETWORK_UNAVAILABLE]: "NetworkUnavailable",
  [TAINT_NODE_MEMORY_PRESSURE]: "MemoryPressure",
  [TAINT_NODE_DISK_PRESSURE]: "DiskPressure",
  [TAINT_NODE_PID_PRESSURE]: "PIDPressure",
});

/** Taint.MatchTaint: same key and effect (value and timeAdded do not matter). */
export function matchTaint(a: Taint, b: Taint): boolean {
  return a.key === b.key && a.effect === b.effect;
}

/** TaintExists: some taint of `taints` matches `taint`. */
export function taintExists(taints: readonly Taint[] | undefined, taint: Taint): boolean {
  return (taints ?? []).some((t) => matchTaint(t, taint));
}

/** TaintKeyExists: some taint has the key. */
export function taintKeyExists(taints: readonly Taint[] | undefined, key: string): boolean {
  return (taints ?? []).some((t) => t.key === key);
}

/**
 * AddOrUpdateTaint: the taints with `taint` in place of the one matching it
 * (or appended); `updated` is false when an identical taint is already there.
 */
export function addOrUpdateTaint(taints: readonly Taint[] | undefined, taint: Taint): { taints: Taint[]; updated: boolean } {
  const out: Taint[] = [];
  let replaced = false;
  for (const t of taints ?? []) {
    if (matchTaint(taint, t)) {
      if (deepEqual(taint, t)) return { taints: [...(taints ?? [])], updated: false };
      out.push({ ...taint });
      replaced = true;
      continue;
    }
    out.push(t);
  }
  if (!replaced) out.push({ ...taint });
  return { taints: out, updated: true };
}

/** RemoveTaint: the taints without those matching `taint`; `updated` when one was there. */
export function removeTaint(taints: readonly Taint[] | undefined, taint: Taint): { taints: Taint[]; updated: boolean } {
  const all = taints ?? [];
  if (!taintExists(all, taint)) return { taints: [...all], updated: false };
  return { taints: all.filter((t) => !matchTaint(t, taint)), updated: true };
}

/** TaintSetDiff: what `wanted` adds to and removes from `current` (compared by key and effect). */
export function taintSetDiff(wanted: readonly Taint[], current: readonly Taint[]): { add: Taint[]; remove: Taint[] } {
  return {
    add: wanted.filter((t) => !taintExists(current, t)).map((t) => ({ ...t })),
    remove: current.filter((t) => !taintExists(wanted, t)).map((t) => ({ ...t })),
  };
}

/** The NoExecute taints of a node (upstream's getNoExecuteTaints). */
export function getNoExecuteTaints(taints: readonly Taint[] | undefined): Taint[] {
  return (taints ?? []).filter((t) => t.effect === "NoExecute");
}

/**
 * GetMatchingTolerations: whether every taint is tolerated, and for each
 * taint the first toleration that tolerates it.
 */
export function getMatchingTolerations(taints: readonly Taint[], tolerations: readonly Toleration[] | undefined): { allTolerated: boolean; used: Toleration[] } {
  if (taints.length === 0) return { allTolerated: true, used: [] };
  const tols = tolerations ?? [];
  if (tols.length === 0) return { allTolerated: false, used: [] };
  const used: Toleration[] = [];
  for (const taint of taints) {
    const t = tols.find((tol) => toleratesTaint(tol, taint));
    if (!t) return { allTolerated: false, used: [] };
    used.push(t);
  }
  return { allTolerated: true, used };
}

/**
 * getMinTolerationTime: the shortest tolerationSeconds of `tolerations` in
 * ms; 0 when there are none or one is <= 0; -1 when all tolerate forever.
 */
export function getMinTolerationTimeMs(tolerations: readonly Toleration[]): number {
  if (tolerations.length === 0) return 0;
  let min = Number.POSITIVE_INFINITY;
  for (const t of tolerations) {
    if (t.tolerationSeconds === undefined || t.tolerationSeconds === null) continue;
    if (t.tolerationSeconds <= 0) return 0;
    if (t.tolerationSeconds < min) min = t.tolerationSeconds;
  }
  return min === Number.POSITIVE_INFINITY ? -1 : min * 1000;
}
