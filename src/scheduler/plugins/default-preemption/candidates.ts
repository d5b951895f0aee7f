/**
 * Preemption candidates and choosing among them
 * (framework/preemption/preemption.go, v1.30).
 */
import type { Pod } from "kubernetes-types/core/v1.js";
import { podPriority } from "../../framework/pod-info.js";

/** extenderv1.Victims: the pods to evict on a node, highest priority first, and how many of them violate a PDB. */
export interface Victims {
  readonly pods: Pod[];
  readonly numPDBViolations: number;
}

/** A node on which the preemptor fits once its victims are gone. */
export interface Candidate {
  readonly name: string;
  readonly victims: Victims;
}

/** candidateList: up to `size` candidates, in the order found. */
export class CandidateList {
  readonly items: Candidate[] = [];
  constructor(private readonly size: number) {}

  add(c: Candidate): void {
    if (this.items.length < this.size) this.items.push(c);
  }

  get length(): number {
    return this.items.length;
  }
}

/** GetPodStartTime: status.startTime, or now for pods that have not started. */
export function podStartTime(pod: Pod, now: number): number {
  const t = pod.status?.startTime;
  if (!t) return now;
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? now : ms;
}

/** MoreImportantPod: higher priority first; on equal priority, the one that started earlier. */
export function moreImportantPod(a: Pod, b: Pod, now: number): boolean {
  const p1 = podPriority(a);
  const p2 = podPriority(b);
  if (p1 !== p2) return p1 > p2;
  return podStartTime(a, now) < podStartTime(b, now);
}

/** GetEarliestPodStartTime: the earliest start time among the highest-priority victims. */
export function earliestPodStartTime(victims: Victims, now: number): number | undefined {
  if (victims.pods.length === 0) return undefined;
  let earliest = podStartTime(victims.pods[0]!, now);
  let maxPriority = podPriority(victims.pods[0]!);
  for (const pod of victims.pods) {
    const p = podPriority(pod);
    if (p === maxPriority) {
      const t = podStartTime(pod, now);
      if (t < earliest) earliest = t;
    } else if (p > maxPriority) {
      maxPriority = p;
      earliest = podStartTime(pod, now);
    }
  }
  return earliest;
}

/** Go's math.MaxInt32 + 1: added to every priority so negative priorities sum sensibly. */
const priorityOffset = 2147483648;

/**
 * pickOneNodeForPreemption: by, in turn, the fewest PDB violations, the
 * lowest highest-priority victim, the smallest sum of priorities, the
 * fewest victims, the latest start time of the highest-priority victims;
 * then the first remaining node.
 */
export function pickOneNodeForPreemption(nodesToVictims: ReadonlyMap<string, Victims>, now: number): string {
  if (nodesToVictims.size === 0) return "";
  const v = (n: string) => nodesToVictims.get(n)!;
  const scoreFuncs: ((node: string) => number)[] = [
    (n) => -v(n).numPDBViolations,
    (n) => -podPriority(v(n).pods[0]!),
    (n) => {
      let sum = 0;
      for (const p of v(n).pods) sum += podPriority(p) + priorityOffset;
      return -sum;
    },
    (n) => -v(n).pods.length,
    (n) => earliestPodStartTime(v(n), now) ?? Number.NEGATIVE_INFINITY,
  ];
  let candidates = [...nodesToVictims.keys()];
  for (const f of scoreFuncs) {
    let selected: string[] = [];
    let max = Number.NEGATIVE_INFINITY;
    for (const node of candidates) {
      const s = f(node);
      if (s > max) {
        max = s;
        selected = [];
      }
      if (s === max) selected.push(node);
    }
    if (selected.length === 1) return selected[0]!;
    candidates = selected;
  }
  return candidates[0]!;
}
