/**
 * Workload controllers: deployments, replicasets, statefulsets, daemonsets,
 * controllerrevisions and replicationcontrollers (upstream printDeployment,
 * printReplicaSet, printStatefulSet, printDaemonSet, printControllerRevision,
 * printReplicationController).
 */
import type { ControllerRevision, DaemonSet, Deployment, ReplicaSet, StatefulSet } from "kubernetes-types/apps/v1.js";
import type { ReplicationController } from "kubernetes-types/core/v1.js";
import { AGE, CONTAINERS, col, IMAGES, NAME } from "./columns.js";
import { DOC } from "./descriptions.js";
import { containerCells, formatLabelSelector, formatLabels, labelSelectorString, since } from "./format.js";
import type { PrintContext, PrintedRow, Printer } from "./types.js";

/** spec.replicas as the API server stores it: defaulted to 1 when unset. */
function replicas(r: number | null | undefined): number {
  return r ?? 1;
}

export const deploymentPrinter: Printer = {
  columns: [
    NAME,
    col("Ready", "string", "Number of the pod with ready state"),
    col("Up-to-date", "string", DOC.extDeployUpdated),
    col("Available", "string", DOC.extDeployAvailable),
    AGE,
    CONTAINERS,
    IMAGES,
    col("Selector", "string", DOC.extDeploySelector, true),
  ],
  print(obj: object, ctx: PrintContext): PrintedRow {
    const d = obj as Deployment;
    const [names, images] = containerCells(d.spec?.template?.spec?.containers);
    // printDeployment shows "<invalid>" (not "<error>") for a selector that does not convert.
    const selector = labelSelectorString(d.spec?.selector) ?? "<invalid>";
    return {
      cells: [
        d.metadata?.name ?? "",
        `${d.status?.readyReplicas ?? 0}/${replicas(d.spec?.replicas)}`,
        d.status?.updatedReplicas ?? 0,
        d.status?.availableReplicas ?? 0,
        since(d.metadata?.creationTimestamp, ctx.now),
        names,
        images,
        selector,
      ],
    };
  },
};

export const replicaSetPrinter: Printer = {
  columns: [
    NAME,
    col("Desired", "integer", DOC.extRsSpecReplicas),
    col("Current", "integer", DOC.extRsStatusReplicas),
    col("Ready", "integer", DOC.extRsStatusReady),
    AGE,
    CONTAINERS,
    IMAGES,
    col("Selector", "string", DOC.extRsSpecSelector, true),
  ],
  print(obj: object, ctx: PrintContext): PrintedRow {
    const rs = obj as ReplicaSet;
    const [names, images] = containerCells(rs.spec?.template?.spec?.containers);
    return {
      cells: [
        rs.metadata?.name ?? "",
        replicas(rs.spec?.replicas),
        rs.status?.replicas ?? 0,
        rs.status?.readyReplicas ?? 0,
        since(rs.metadata?.creationTimestamp, ctx.now),
        names,
        images,
        formatLabelSelector(rs.spec?.selector),
      ],
    };
  },
};

export const statefulSetPrinter: Printer = {
  columns: [NAME, col("Ready", "string", "Number of the pod with ready state"), AGE, CONTAINERS, IMAGES],
  print(obj: object, ctx: PrintContext): PrintedRow {
    const s = obj as StatefulSet;
    const [names, images] = containerCells(s.spec?.template?.spec?.containers);
    return {
      cells: [
        s.metadata?.name ?? "",
        `${s.status?.readyReplicas ?? 0}/${replicas(s.spec?.replicas)}`,
        since(s.metadata?.creationTimestamp, ctx.now),
        names,
        images,
      ],
    };
  },
};

export const daemonSetPrinter: Printer = {
  columns: [
    NAME,
    col("Desired", "integer", DOC.extDsDesired),
    col("Current", "integer", DOC.extDsCurrent),
    col("Ready", "integer", DOC.extDsReady),
    col("Up-to-date", "integer", DOC.extDsUpdated),
    col("Available", "integer", DOC.extDsAvailable),
    col("Node Selector", "string", DOC.nodeSelector),
    AGE,
    CONTAINERS,
    IMAGES,
    col("Selector", "string", DOC.extDsSelector, true),
  ],
  print(obj: object, ctx: PrintContext): PrintedRow {
    const ds = obj as DaemonSet;
    const st = ds.status;
    const [names, images] = containerCells(ds.spec?.template?.spec?.containers);
    return {
      cells: [
        ds.metadata?.name ?? "",
        st?.desiredNumberScheduled ?? 0,
        st?.currentNumberScheduled ?? 0,
        st?.numberReady ?? 0,
        st?.updatedNumberScheduled ?? 0,
        st?.numberAvailable ?? 0,
        formatLabels(ds.spec?.template?.spec?.nodeSelector),
        since(ds.metadata?.creationTimestamp, ctx.now),
        names,
        images,
        formatLabelSelector(ds.spec?.selector),
      ],
    };
  },
};

/** schema.ParseGroupVersion(...).Group: "" for "v1", "apps" for "apps/v1". */
function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf("/");
  return slash < 0 ? "" : apiVersion.slice(0, slash);
}

export const controllerRevisionPrinter: Printer = {
  columns: [NAME, col("Controller", "string", "Controller of the object"), col("Revision", "string", DOC.crRevision), AGE],
  print(obj: object, ctx: PrintContext): PrintedRow {
    const cr = obj as ControllerRevision;
    let controller = "<none>";
    const ref = (cr.metadata?.ownerReferences ?? []).find((r) => r.controller === true);
    if (ref) {
      // formatResourceName(GroupKind, name, withKind): "kind.group/name" lower-cased, or just the name.
      const group = groupOf(ref.apiVersion ?? "");
      const kind = ref.kind ?? "";
      if (group === "" && kind === "") controller = ref.name;
      else controller = `${(group === "" ? kind : `${kind}.${group}`).toLowerCase()}/${ref.name}`;
    }
    return { cells: [cr.metadata?.name ?? "", controller, cr.revision ?? 0, since(cr.metadata?.creationTimestamp, ctx.now)] };
  },
};

export const replicationControllerPrinter: Printer = {
  columns: [
    NAME,
    col("Desired", "integer", DOC.rcSpecReplicas),
    col("Current", "integer", DOC.rcStatusReplicas),
    col("Ready", "integer", DOC.rcStatusReady),
    AGE,
    CONTAINERS,
    IMAGES,
    col("Selector", "string", DOC.rcSpecSelector, true),
  ],
  print(obj: object, ctx: PrintContext): PrintedRow {
    const rc = obj as ReplicationController;
    const [names, images] = containerCells(rc.spec?.template?.spec?.containers);
    return {
      cells: [
        rc.metadata?.name ?? "",
        replicas(rc.spec?.replicas),
        rc.status?.replicas ?? 0,
        rc.status?.readyReplicas ?? 0,
        since(rc.metadata?.creationTimestamp, ctx.now),
        names,
        images,
        formatLabels(rc.spec?.selector),
      ],
    };
  },
};
