/**
 * ClusterListers over shared informers: what plugins read (PVCs, PDBs,
 * namespaces, …), served from the scheduler's informer caches, never from
 * a request per pod. Kinds skiff does not serve (CSI objects) are empty.
 */
import type { SharedInformer } from "../client/informer.js";
import type { InformerFactory } from "../client/informer.js";
import type { KubeObject, ResourceDescriptor } from "../client/resource-client.js";
import { listersFromObjects } from "./framework/listers.js";
import type { ClusterListers, NamespacedLister, ObjectLister } from "./framework/types.js";

function clusterLister<T extends KubeObject>(inf: SharedInformer<T>): ObjectLister<T> {
  return { get: (name) => inf.get(name), list: () => inf.list() };
}

function namespacedLister<T extends KubeObject>(inf: SharedInformer<T>): NamespacedLister<T> {
  return {
    get: (ns, name) => inf.get(`${ns}/${name}`),
    list: (ns) => (ns === undefined ? inf.list() : inf.byNamespace(ns)),
  };
}

const d = (group: string, version: string, resource: string, namespaced: boolean): ResourceDescriptor => ({ group, version, resource, namespaced });

/** The informers the listers need (created on `factory`; the caller starts and syncs them). */
export function informerListers(factory: InformerFactory, pods: SharedInformer<KubeObject>, nodes: SharedInformer<KubeObject>): ClusterListers {
  const ns = <T extends KubeObject>(g: string, v: string, r: string) => namespacedLister(factory.informerFor<T>(d(g, v, r, true)));
  const cl = <T extends KubeObject>(g: string, v: string, r: string) => clusterLister(factory.informerFor<T>(d(g, v, r, false)));
  const empty = listersFromObjects();
  return {
    pods: namespacedLister(pods) as ClusterListers["pods"],
    nodes: clusterLister(nodes) as ClusterListers["nodes"],
    namespaces: cl("", "v1", "namespaces"),
    services: ns("", "v1", "services"),
    replicationControllers: ns("", "v1", "replicationcontrollers"),
    replicaSets: ns("apps", "v1", "replicasets"),
    statefulSets: ns("apps", "v1", "statefulsets"),
    persistentVolumeClaims: ns("", "v1", "persistentvolumeclaims"),
    persistentVolumes: cl("", "v1", "persistentvolumes"),
    storageClasses: cl("storage.k8s.io", "v1", "storageclasses"),
    csiNodes: empty.csiNodes,
    csiDrivers: empty.csiDrivers,
    csiStorageCapacities: empty.csiStorageCapacities,
    podDisruptionBudgets: ns("policy", "v1", "poddisruptionbudgets"),
    priorityClasses: cl("scheduling.k8s.io", "v1", "priorityclasses"),
  };
}
