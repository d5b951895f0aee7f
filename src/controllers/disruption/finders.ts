/**
 * The scale of a pod's controller (pkg/controller/disruption finders):
 * a percentage budget counts against the sum of the desired replicas of
 * the controllers of its pods. ReplicationControllers, Deployments (via
 * their ReplicaSets), bare ReplicaSets and StatefulSets come from the
 * informers; any other kind is asked through its `scale` subresource, as
 * upstream's scale client does for custom resources.
 */
import type { Deployment, ReplicaSet, StatefulSet } from "kubernetes-types/apps/v1.js";
import type { ReplicationController } from "kubernetes-types/core/v1.js";
import type { APIResourceList, OwnerReference } from "kubernetes-types/meta/v1.js";
import type { SharedInformer } from "../../client/informer.js";
import { discoverPreferredResources, ResourceMapper } from "../../client/discovery.js";
import { ResourceClient } from "../../client/resource-client.js";
import type { RestClient } from "../../client/rest-client.js";
import { isNotFound } from "../../machinery/status-error.js";
import { getControllerOf } from "../common/controller-ref.js";

/** A controller's UID and desired replicas. */
export interface ControllerAndScale {
  readonly uid: string;
  readonly scale: number;
}

/** Finds the controller `ref` names, or undefined when this finder does not handle it (or it is gone). */
export type PodControllerFinder = (ref: OwnerReference, namespace: string) => Promise<ControllerAndScale | undefined>;

/** schema.ParseGroupVersion: the group of an apiVersion (`v1` → "", `apps/v1` → "apps"). */
export function groupOf(apiVersion: string): string {
  const parts = apiVersion.split("/");
  if (parts.length === 1) return "";
  if (parts.length === 2) return parts[0]!;
  throw new Error(`unexpected GroupVersion string: ${apiVersion}`);
}

/** verifyGroupKind: `ref` is of `kind` in one of `groups`. */
function verifyGroupKind(ref: OwnerReference, kind: string, groups: readonly string[]): boolean {
  const group = groupOf(ref.apiVersion);
  return ref.kind === kind && groups.includes(group);
}

/** The informers the built-in finders read. */
export interface FinderListers {
  readonly replicationControllers: SharedInformer<ReplicationController>;
  readonly replicaSets: SharedInformer<ReplicaSet>;
  readonly deployments: SharedInformer<Deployment>;
  readonly statefulSets: SharedInformer<StatefulSet>;
}

/** Upstream's finders in upstream's order: RC, Deployment, ReplicaSet, StatefulSet, then `scale` (when `rest` is given). */
export function podControllerFinders(l: FinderListers, rest?: RestClient): PodControllerFinder[] {
  const rc: PodControllerFinder = async (ref, ns) => {
    if (!verifyGroupKind(ref, "ReplicationController", [""])) return undefined;
    const o = l.replicationControllers.get(`${ns}/${ref.name}`);
    if (!o || o.metadata?.uid !== ref.uid) return undefined;
    return { uid: ref.uid, scale: o.spec?.replicas ?? 1 };
  };
  const deployment: PodControllerFinder = async (ref, ns) => {
    if (!verifyGroupKind(ref, "ReplicaSet", ["apps", "extensions"])) return undefined;
    const rs = l.replicaSets.get(`${ns}/${ref.name}`);
    if (!rs || rs.metadata?.uid !== ref.uid) return undefined;
    const dref = getControllerOf(rs);
    if (!dref || !verifyGroupKind(dref, "Deployment", ["apps", "extensions"])) return undefined;
    const d = l.deployments.get(`${ns}/${dref.name}`);
    if (!d || d.metadata?.uid !== dref.uid) return undefined;
    return { uid: dref.uid, scale: d.spec?.replicas ?? 1 };
  };
  const replicaSet: PodControllerFinder = async (ref, ns) => {
    if (!verifyGroupKind(ref, "ReplicaSet", ["apps", "extensions"])) return undefined;
    const rs = l.replicaSets.get(`${ns}/${ref.name}`);
    if (!rs || rs.metadata?.uid !== ref.uid) return undefined;
    // A Deployment's ReplicaSet counts through the Deployment.
    if (getControllerOf(rs)?.kind === "Deployment") return undefined;
    return { uid: ref.uid, scale: rs.spec?.replicas ?? 1 };
  };
  const statefulSet: PodControllerFinder = async (ref, ns) => {
    if (!verifyGroupKind(ref, "StatefulSet", ["apps"])) return undefined;
    const ss = l.statefulSets.get(`${ns}/${ref.name}`);
    if (!ss || ss.metadata?.uid !== ref.uid) return undefined;
    return { uid: ref.uid, scale: ss.spec?.replicas ?? 1 };
  };
  const finders = [rc, deployment, replicaSet, statefulSet];
  if (rest) finders.push(scaleFinder(rest));
  return finders;
}

interface Scale {
  metadata?: { uid?: string };
  spec?: { replicas?: number };
}

/** getScaleController: any kind with a `scale` subresource, through discovery. */
export function scaleFinder(rest: RestClient): PodControllerFinder {
  let mapper: ResourceMapper | undefined;
  const lookup = async (ref: OwnerReference) => {
    let r = mapper?.lookup(ref.apiVersion, ref.kind);
    if (!r) {
      // A kind not seen yet (a CRD made since): discover again once.
      mapper = new ResourceMapper(await discoverPreferredResources(rest));
      r = mapper.lookup(ref.apiVersion, ref.kind);
    }
    return r;
  };
  return async (ref, ns) => {
    const group = groupOf(ref.apiVersion);
    const r = await lookup(ref);
    if (!r) throw new Error(`no matches for kind ${JSON.stringify(ref.kind)} in version ${JSON.stringify(ref.apiVersion)}`);
    const gr = group ? `${r.resource}.${group}` : r.resource;
    const client = new ResourceClient(rest, r, r.namespaced ? ns : undefined);
    let scale: Scale;
    try {
      scale = await client.getSubresource<Scale>(ref.name, "scale");
    } catch (err) {
      if (!isNotFound(err)) throw err;
      // Not found: the object is gone, or its kind has no scale subresource. Tell which.
      const path = group ? `/apis/${group}/${r.version}` : `/api/${r.version}`;
      const list = await rest.request<APIResourceList>("GET", path);
      if (!(list.resources ?? []).some((x) => x.name === `${r.resource}/scale`)) throw new Error(`${gr} does not implement the scale subresource`);
      return undefined;
    }
    if (scale.metadata?.uid !== ref.uid) return undefined;
    return { uid: ref.uid, scale: scale.spec?.replicas ?? 0 };
  };
}
