/**
 * In-memory ClusterListers for tests and simulations. The real wiring
 * implements ClusterListers over its informer caches.
 */
import type { ClusterListers, NamespacedLister, ObjectLister } from "./types.js";

interface Named {
  metadata?: { name?: string; namespace?: string };
}

/** A cluster-scoped lister over a fixed list. */
export function objectLister<T extends Named>(items: readonly T[] = []): ObjectLister<T> {
  const byName = new Map(items.map((o) => [o.metadata?.name ?? "", o]));
  return { get: (name) => byName.get(name), list: () => [...byName.values()] };
}

/** A namespaced lister over a fixed list. */
export function namespacedLister<T extends Named>(items: readonly T[] = []): NamespacedLister<T> {
  const key = (ns: string, name: string) => `${ns}/${name}`;
  const byKey = new Map(items.map((o) => [key(o.metadata?.namespace ?? "", o.metadata?.name ?? ""), o]));
  return {
    get: (ns, name) => byKey.get(key(ns, name)),
    list: (ns) => [...byKey.values()].filter((o) => ns === undefined || (o.metadata?.namespace ?? "") === ns),
  };
}

type ListerItems = {
  [K in keyof ClusterListers]?: ClusterListers[K] extends NamespacedLister<infer T> ? readonly T[] : ClusterListers[K] extends ObjectLister<infer U> ? readonly U[] : never;
};

/** Listers holding the given objects (every other kind empty). */
export function listersFromObjects(items: ListerItems = {}): ClusterListers {
  return {
    pods: namespacedLister(items.pods),
    nodes: objectLister(items.nodes),
    namespaces: objectLister(items.namespaces),
    services: namespacedLister(items.services),
    replicationControllers: namespacedLister(items.replicationControllers),
    replicaSets: namespacedLister(items.replicaSets),
    statefulSets: namespacedLister(items.statefulSets),
    persistentVolumeClaims: namespacedLister(items.persistentVolumeClaims),
    persistentVolumes: objectLister(items.persistentVolumes),
    storageClasses: objectLister(items.storageClasses),
    csiNodes: objectLister(items.csiNodes),
    csiDrivers: objectLister(items.csiDrivers),
    csiStorageCapacities: namespacedLister(items.csiStorageCapacities),
    podDisruptionBudgets: namespacedLister(items.podDisruptionBudgets),
    priorityClasses: objectLister(items.priorityClasses),
  };
}
