/**
 * The two kinds this controller serves. Upstream runs the ReplicaSet code
 * for ReplicationControllers too, converting each RC to a ReplicaSet on the
 * way in and back on the way out (pkg/controller/replication), so the sync
 * logic sees ReplicaSets only; the RC's map selector becomes matchLabels.
 */
import type { ReplicaSet, ReplicaSetStatus } from "kubernetes-types/apps/v1.js";
import type { ReplicationController, ReplicationControllerStatus } from "kubernetes-types/core/v1.js";
import type { LabelSelector } from "kubernetes-types/meta/v1.js";
import type { KubeObject, ResourceDescriptor } from "../../client/resource-client.js";
import { REPLICA_SETS, REPLICATION_CONTROLLERS } from "../../client/resources.js";
import type { GroupVersionKind } from "../common/controller-ref.js";

/** How one served kind maps onto the ReplicaSet form the sync works on. */
export interface ReplicaSetKind<T extends KubeObject> {
  /** apiVersion and kind of ownerReferences and events (`apps/v1` ReplicaSet, `v1` ReplicationController). */
  readonly gvk: GroupVersionKind;
  readonly descriptor: ResourceDescriptor;
  /** The controller-manager name (`replicaset`, `replicationcontroller`), for logs. */
  readonly controllerName: string;
  /** The component events are reported as (upstream's EventSource component). */
  readonly eventComponent: string;
  /**
   * Whether ReplicaSets owned by the same controller are looked up when
   * ranking pods for deletion. Upstream's `controllerUID` index function
   * only accepts *apps.ReplicaSet, so for RCs it finds none.
   */
  readonly ranksByRelatedOwners: boolean;
  /** The ReplicaSet view of an object (sharing its metadata; never mutate it). */
  toReplicaSet(obj: T): ReplicaSet;
  /** The object a ReplicaSet view stands for (for writes). */
  fromReplicaSet(rs: ReplicaSet): T;
}

/** apps/v1 ReplicaSets: the identity mapping. */
export const REPLICA_SET_KIND: ReplicaSetKind<ReplicaSet> = {
  gvk: { apiVersion: "apps/v1", kind: "ReplicaSet" },
  descriptor: REPLICA_SETS,
  controllerName: "replicaset",
  eventComponent: "replicaset-controller",
  ranksByRelatedOwners: true,
  toReplicaSet: (rs) => rs,
  fromReplicaSet: (rs) => rs,
};

/** The RC's map selector as a LabelSelector; a missing one stays missing (it then selects nothing). */
function selectorFromMap(sel: Record<string, string> | undefined): LabelSelector {
  return (sel ? { matchLabels: { ...sel } } : undefined) as LabelSelector;
}

function statusToReplicaSet(s: ReplicationControllerStatus | undefined): ReplicaSetStatus | undefined {
  return s ? { ...s, ...(s.conditions ? { conditions: s.conditions.map((c) => ({ ...c })) } : {}) } : undefined;
}

function statusToRC(s: ReplicaSetStatus | undefined): ReplicationControllerStatus | undefined {
  return s ? { ...s, ...(s.conditions ? { conditions: s.conditions.map((c) => ({ ...c })) } : {}) } : undefined;
}

/** Upstream's `convertRCtoRS`. */
export function replicationControllerToReplicaSet(rc: ReplicationController): ReplicaSet {
  const spec = rc.spec ?? {};
  const rs: ReplicaSet = {
    apiVersion: "apps/v1",
    kind: "ReplicaSet",
    metadata: rc.metadata,
    spec: {
      replicas: spec.replicas,
      selector: selectorFromMap(spec.selector),
      ...(spec.minReadySeconds !== undefined ? { minReadySeconds: spec.minReadySeconds } : {}),
      ...(spec.template ? { template: spec.template } : {}),
    },
  };
  const status = statusToReplicaSet(rc.status);
  return status ? { ...rs, status } : rs;
}

/** Upstream's `convertRStoRC`: matchLabels back to the map selector. */
export function replicaSetToReplicationController(rs: ReplicaSet): ReplicationController {
  const spec = rs.spec;
  const rc: ReplicationController = {
    apiVersion: "v1",
    kind: "ReplicationController",
    metadata: rs.metadata,
    spec: {
      replicas: spec?.replicas,
      ...(spec?.selector?.matchLabels ? { selector: { ...spec.selector.matchLabels } } : {}),
      ...(spec?.minReadySeconds !== undefined ? { minReadySeconds: spec.minReadySeconds } : {}),
      ...(spec?.template ? { template: spec.template } : {}),
    },
  };
  const status = statusToRC(rs.status);
  return status ? { ...rc, status } : rc;
}

/** core/v1 ReplicationControllers, seen as ReplicaSets. */
export const REPLICATION_CONTROLLER_KIND: ReplicaSetKind<ReplicationController> = {
  gvk: { apiVersion: "v1", kind: "ReplicationController" },
  descriptor: REPLICATION_CONTROLLERS,
  controllerName: "replicationcontroller",
  eventComponent: "replication-controller",
  ranksByRelatedOwners: false,
  toReplicaSet: replicationControllerToReplicaSet,
  fromReplicaSet: replicaSetToReplicationController,
};
