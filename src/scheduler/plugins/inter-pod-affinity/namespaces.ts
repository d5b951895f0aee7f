/**
 * Namespace helpers of InterPodAffinity (plugin.go): the incoming pod's
 * namespace labels, and a term's namespaceSelector unrolled into its
 * namespace set.
 */
import { type AffinityTerm, NOTHING } from "../../framework/pod-info.js";
import type { ClusterListers } from "../../framework/types.js";

/** GetNamespaceLabelsSnapshot: the namespace's labels (a copy), or undefined when it is not in the lister. */
export function namespaceLabelsSnapshot(ns: string, listers: ClusterListers): Readonly<Record<string, string>> | undefined {
  const namespace = listers.namespaces.get(ns);
  // A missing namespace means an empty set of labels, as upstream assumes.
  return namespace ? { ...namespace.metadata?.labels } : undefined;
}

/**
 * mergeAffinityTermNamespacesIfNotEmpty: a copy of an incoming pod's term
 * whose namespaceSelector is unrolled into `namespaces` (then selecting
 * nothing), so matching existing pods needs no lookup of their namespace
 * labels. An empty selector (every namespace) is kept as it is.
 */
export function mergeAffinityTermNamespaces<T extends AffinityTerm>(term: T, listers: ClusterListers): T {
  // Nothing to unroll: an empty selector matches every namespace as is; a nil one matches none.
  if (term.namespaceSelector.empty || term.namespaceSelector === NOTHING) return term;
  const namespaces = new Set(term.namespaces);
  for (const n of listers.namespaces.list()) {
    if (term.namespaceSelector.matches(n.metadata?.labels)) namespaces.add(n.metadata?.name ?? "");
  }
  return { ...term, namespaces, namespaceSelector: NOTHING };
}
