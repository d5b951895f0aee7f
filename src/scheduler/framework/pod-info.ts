/**
 * framework.PodInfo and QueuedPodInfo: a pod with what the scheduler derives
 * from it once (parsed pod-affinity terms, its resource requests), and the
 * queue's bookkeeping for a pending pod.
 */
import type { LabelSelector as LabelSelectorObject } from "kubernetes-types/meta/v1.js";
import type { Pod, PodAffinityTerm, WeightedPodAffinityTerm } from "kubernetes-types/core/v1.js";
import { EVERYTHING, type LabelSelector, selectorFromObject } from "../../machinery/labels.js";
import { calculatePodResource, type PodResource } from "./pod-resources.js";

/** A selector that matches nothing (metav1.LabelSelectorAsSelector of nil). */
export const NOTHING: LabelSelector = {
  requirements: [],
  empty: false,
  matches: () => false,
};

/** LabelSelectorAsSelector: nil selects nothing, an empty selector everything. Throws on a bad operator. */
export function labelSelectorAsSelector(sel: LabelSelectorObject | undefined | null): LabelSelector {
  if (!sel) return NOTHING;
  if (!sel.matchLabels && (!sel.matchExpressions || sel.matchExpressions.length === 0)) return EVERYTHING;
  return selectorFromObject(sel) ?? NOTHING;
}

/** framework.AffinityTerm: a processed PodAffinityTerm. */
export interface AffinityTerm {
  readonly namespaces: ReadonlySet<string>;
  readonly selector: LabelSelector;
  readonly topologyKey: string;
  readonly namespaceSelector: LabelSelector;
}

export interface WeightedAffinityTerm extends AffinityTerm {
  readonly weight: number;
}

/** AffinityTerm.Matches: the pod is in the term's namespaces (or selected namespaces) and its labels match. */
export function affinityTermMatches(term: AffinityTerm, pod: Pod, nsLabels: Readonly<Record<string, string>> | undefined): boolean {
  const ns = pod.metadata?.namespace ?? "";
  if (term.namespaces.has(ns) || term.namespaceSelector.matches(nsLabels)) {
    return term.selector.matches(pod.metadata?.labels);
  }
  return false;
}

function newAffinityTerm(pod: Pod, term: PodAffinityTerm): AffinityTerm {
  const selector = labelSelectorAsSelector(term.labelSelector);
  const namespaces = new Set<string>();
  if ((term.namespaces?.length ?? 0) === 0 && !term.namespaceSelector) namespaces.add(pod.metadata?.namespace ?? "");
  else for (const n of term.namespaces ?? []) namespaces.add(n);
  const namespaceSelector = labelSelectorAsSelector(term.namespaceSelector);
  return { namespaces, selector, topologyKey: term.topologyKey, namespaceSelector };
}

function affinityTerms(pod: Pod, terms: readonly PodAffinityTerm[] | undefined): AffinityTerm[] {
  return (terms ?? []).map((t) => newAffinityTerm(pod, t));
}

function weightedTerms(pod: Pod, terms: readonly WeightedPodAffinityTerm[] | undefined): WeightedAffinityTerm[] {
  return (terms ?? []).map((t) => ({ ...newAffinityTerm(pod, t.podAffinityTerm), weight: t.weight }));
}

/** The pod's key in the cache and node infos: its UID (GetPodKey). */
export function podKey(pod: Pod): string {
  return pod.metadata?.uid ?? "";
}

/** `namespace/name`, the queue's key for a pod. */
export function podNamespacedName(pod: Pod): string {
  return `${pod.metadata?.namespace ?? ""}/${pod.metadata?.name ?? ""}`;
}

/** corev1helpers.PodPriority: spec.priority, or 0. */
export function podPriority(pod: Pod): number {
  return pod.spec?.priority ?? 0;
}

/** framework.PodInfo. */
export class PodInfo {
  pod!: Pod;
  requiredAffinityTerms: AffinityTerm[] = [];
  requiredAntiAffinityTerms: AffinityTerm[] = [];
  preferredAffinityTerms: WeightedAffinityTerm[] = [];
  preferredAntiAffinityTerms: WeightedAffinityTerm[] = [];
  /** Why some affinity term did not parse (upstream ignores it for compatibility, so do we). */
  parseError: string | undefined;
  private cachedResource: PodResource | undefined;

  constructor(pod: Pod) {
    this.update(pod);
  }

  /** Update: a new object of the same pod keeps the parsed terms; another pod re-parses. */
  update(pod: Pod): void {
    const sameUID = this.pod !== undefined && podKey(this.pod) === podKey(pod) && podKey(pod) !== "";
    this.cachedResource = undefined;
    if (sameUID) {
      this.pod = pod;
      return;
    }
    this.pod = pod;
    const affinity = pod.spec?.affinity;
    const errors: string[] = [];
    const parse = <T>(what: string, f: () => T[]): T[] => {
      try {
        return f();
      } catch (e) {
        errors.push(`${what}: ${(e as Error).message}`);
        return [];
      }
    };
    this.requiredAffinityTerms = parse("requiredAffinityTerms", () => affinityTerms(pod, affinity?.podAffinity?.requiredDuringSchedulingIgnoredDuringExecution));
    this.requiredAntiAffinityTerms = parse("requiredAntiAffinityTerms", () => affinityTerms(pod, affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution));
    this.preferredAffinityTerms = parse("preferredAffinityTerms", () => weightedTerms(pod, affinity?.podAffinity?.preferredDuringSchedulingIgnoredDuringExecution));
    this.preferredAntiAffinityTerms = parse("preferredAntiAffinityTerms", () => weightedTerms(pod, affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution));
    this.parseError = errors.length > 0 ? errors.join(", ") : undefined;
  }

  /** The pod's requests (and non-zero cpu/memory), computed once per pod object. */
  get resource(): PodResource {
    if (!this.cachedResource) this.cachedResource = calculatePodResource(this.pod);
    return this.cachedResource;
  }
}

/** QueuedPodInfo: a PodInfo with the scheduling queue's bookkeeping. */
export class QueuedPodInfo {
  podInfo: PodInfo;
  /** When the pod was (re-)added to the queue, ms since the epoch. */
  timestamp: number;
  /** Scheduling attempts so far. */
  attempts = 0;
  /** When the pod first entered activeQ; set once. */
  initialAttemptTimestamp: number | undefined;
  /** Plugins that rejected the pod (Unschedulable/UnschedulableAndUnresolvable/Wait) in its last attempt, or gated it. */
  unschedulablePlugins: Set<string>;
  /** Plugins that returned Pending in the last attempt. */
  pendingPlugins = new Set<string>();
  /** Whether a PreEnqueue plugin keeps the pod out of activeQ. */
  gated = false;

  constructor(podInfo: PodInfo, timestamp: number, plugins: Iterable<string> = []) {
    this.podInfo = podInfo;
    this.timestamp = timestamp;
    this.unschedulablePlugins = new Set(plugins);
  }

  get pod(): Pod {
    return this.podInfo.pod;
  }
}
