/**
 * Which pods to give up first, as upstream's `ActivePods` and
 * `ActivePodsWithRanks` orderings (pkg/controller/controller_utils.go,
 * v1.30, with the PodDeletionCost and LogarithmicScaleDown features on, as
 * they are by default). Sorting puts the pods to delete first.
 */
import type { Pod } from "kubernetes-types/core/v1.js";
import { getPodReadyCondition, isPodReady } from "./pod-utils.js";
import { parseTime } from "./time.js";

/** The annotation that orders pods of one owner for deletion (lower goes first). */
export const POD_DELETION_COST = "controller.kubernetes.io/pod-deletion-cost";

/** Go's map lookup of an unknown phase yields 0, so only these differ from Pending. */
const PHASE_ORDINAL: Readonly<Record<string, number>> = { Pending: 0, Unknown: 1, Running: 2 };

const phaseOrdinal = (pod: Pod) => PHASE_ORDINAL[pod.status?.phase ?? ""] ?? 0;

/**
 * The pod-deletion-cost annotation as an int32, 0 when absent or invalid
 * (upstream's `GetDeletionCostFromPodAnnotations`: no leading `+`, no
 * leading zeros, within int32).
 */
export function getDeletionCostFromPodAnnotations(annotations: Readonly<Record<string, string>> | undefined): number {
  const value = annotations?.[POD_DELETION_COST];
  if (value === undefined) return 0;
  const first = value[0];
  const validFirst = first === "-" || value === "0" || (first !== undefined && first >= "1" && first <= "9");
  if (!validFirst || !/^-?\d+$/.test(value)) return 0;
  const n = Number(value);
  return n >= -2147483648 && n <= 2147483647 ? n : 0;
}

function maxContainerRestarts(pod: Pod): number {
  let max = 0;
  for (const c of pod.status?.containerStatuses ?? []) max = Math.max(max, c.restartCount ?? 0);
  return max;
}

/** The Ready condition's transition time, or 0 (Go's zero time) when not ready. */
function podReadyTime(pod: Pod): number {
  if (!isPodReady(pod)) return 0;
  return parseTime(getPodReadyCondition(pod.status)?.lastTransitionTime);
}

/** t1 after t2, where a zero time counts as after any other (upstream's `afterOrZero`). */
function afterOrZero(t1: number, t2: number): boolean {
  if (t1 === 0 || t2 === 0) return t1 === 0;
  return t1 > t2;
}

/** floor(log2(now - t in ns)), -1 for t not in the past (upstream's `logarithmicRankDiff`, one side). */
function logRank(t: number, nowMs: number): number {
  const ns = (nowMs - t) * 1e6;
  return ns > 0 ? Math.trunc(Math.log2(ns)) : -1;
}

/**
 * Upstream's `ActivePods.Less`: true when `a` should be deleted before `b`.
 * Unassigned < assigned; Pending < Unknown < Running; not ready < ready;
 * ready for less time < more; more restarts < fewer; newer < older.
 */
export function activePodsLess(a: Pod, b: Pod): boolean {
  const na = a.spec?.nodeName ?? "";
  const nb = b.spec?.nodeName ?? "";
  if (na !== nb && (na === "" || nb === "")) return na === "";
  if (phaseOrdinal(a) !== phaseOrdinal(b)) return phaseOrdinal(a) < phaseOrdinal(b);
  const ra = isPodReady(a);
  const rb = isPodReady(b);
  if (ra !== rb) return !ra;
  if (ra && rb) {
    const ta = podReadyTime(a);
    const tb = podReadyTime(b);
    if (ta !== tb) return afterOrZero(ta, tb);
  }
  if (maxContainerRestarts(a) !== maxContainerRestarts(b)) return maxContainerRestarts(a) > maxContainerRestarts(b);
  const ca = parseTime(a.metadata?.creationTimestamp);
  const cb = parseTime(b.metadata?.creationTimestamp);
  if (ca !== cb) return afterOrZero(ca, cb);
  return false;
}

/** Feature gates of the ranked ordering (both on by default in v1.30). */
export interface RankingFeatures {
  /** Order by the pod-deletion-cost annotation (PodDeletionCost, beta, on). */
  readonly podDeletionCost?: boolean;
  /** Compare ready and creation times on a log2 scale, ties by UID (LogarithmicScaleDown, beta, on). */
  readonly logarithmicScaleDown?: boolean;
}

/** A pod with its rank: the number of related active pods on its node. */
export interface RankedPod {
  readonly pod: Pod;
  readonly rank: number;
}

/**
 * Upstream's `ActivePodsWithRanks.Less` at time `nowMs` (0: compare times
 * without log scaling): unassigned < assigned; Pending < Unknown < Running;
 * not ready < ready; lower deletion cost < higher; higher rank (more
 * co-located pods) < lower; ready for less time < more; more restarts <
 * fewer; newer < older.
 */
export function activePodsWithRanksLess(a: RankedPod, b: RankedPod, nowMs: number, features: RankingFeatures = {}): boolean {
  const pa = a.pod;
  const pb = b.pod;
  const na = pa.spec?.nodeName ?? "";
  const nb = pb.spec?.nodeName ?? "";
  // 1. Unassigned < assigned
  if (na !== nb && (na === "" || nb === "")) return na === "";
  // 2. PodPending < PodUnknown < PodRunning
  if (phaseOrdinal(pa) !== phaseOrdinal(pb)) return phaseOrdinal(pa) < phaseOrdinal(pb);
  // 3. Not ready < ready
  const ra = isPodReady(pa);
  const rb = isPodReady(pb);
  if (ra !== rb) return !ra;
  // 4. Lower pod-deletion-cost < higher pod-deletion cost
  if (features.podDeletionCost ?? true) {
    const ca = getDeletionCostFromPodAnnotations(pa.metadata?.annotations);
    const cb = getDeletionCostFromPodAnnotations(pb.metadata?.annotations);
    if (ca !== cb) return ca < cb;
  }
  // 5. Doubled up < not doubled up
  if (a.rank !== b.rank) return a.rank > b.rank;
  const logScale = features.logarithmicScaleDown ?? true;
  // 6. Been ready for empty time < less time < more time
  if (ra && rb) {
    const ta = podReadyTime(pa);
    const tb = podReadyTime(pb);
    if (ta !== tb) {
      if (!logScale || nowMs === 0 || ta === 0 || tb === 0) return afterOrZero(ta, tb);
      const diff = logRank(ta, nowMs) - logRank(tb, nowMs);
      if (diff === 0) return (pa.metadata?.uid ?? "") < (pb.metadata?.uid ?? "");
      return diff < 0;
    }
  }
  // 7. Pods with containers with higher restart counts < lower restart counts
  if (maxContainerRestarts(pa) !== maxContainerRestarts(pb)) return maxContainerRestarts(pa) > maxContainerRestarts(pb);
  // 8. Empty creation time pods < newer pods < older pods
  const ca = parseTime(pa.metadata?.creationTimestamp);
  const cb = parseTime(pb.metadata?.creationTimestamp);
  if (ca !== cb) {
    if (!logScale || nowMs === 0 || ca === 0 || cb === 0) return afterOrZero(ca, cb);
    const diff = logRank(ca, nowMs) - logRank(cb, nowMs);
    if (diff === 0) return (pa.metadata?.uid ?? "") < (pb.metadata?.uid ?? "");
    return diff < 0;
  }
  return false;
}

/** Sorts `pods` in place by {@link activePodsLess}. */
export function sortActivePods(pods: Pod[]): Pod[] {
  return pods.sort((a, b) => (activePodsLess(a, b) ? -1 : activePodsLess(b, a) ? 1 : 0));
}

/** Sorts `ranked` in place by {@link activePodsWithRanksLess}. */
export function sortActivePodsWithRanks(ranked: RankedPod[], nowMs: number, features: RankingFeatures = {}): RankedPod[] {
  return ranked.sort((a, b) => (activePodsWithRanksLess(a, b, nowMs, features) ? -1 : activePodsWithRanksLess(b, a, nowMs, features) ? 1 : 0));
}
