/**
 * The remaining handlers of upstream's AddHandlers that skiff serves:
 * namespaces, configmaps, secrets, serviceaccounts, leases, priorityclasses,
 * poddisruptionbudgets, horizontalpodautoscalers, resourcequotas,
 * rolebindings, clusterrolebindings, webhook configurations and runtimeclasses.
 */
import type {
  MutatingWebhookConfiguration,
  ValidatingWebhookConfiguration,
} from "kubernetes-types/admissionregistration/v1.js";
import type { HorizontalPodAutoscaler as HPAv1 } from "kubernetes-types/autoscaling/v1.js";
import type { HorizontalPodAutoscaler, MetricSpec, MetricStatus } from "kubernetes-types/autoscaling/v2.js";
import type { Lease } from "kubernetes-types/coordination/v1.js";
import type { ConfigMap, Namespace, ResourceQuota, Secret, ServiceAccount } from "kubernetes-types/core/v1.js";
import type { RuntimeClass } from "kubernetes-types/node/v1.js";
import type { PodDisruptionBudget } from "kubernetes-types/policy/v1.js";
import type { ClusterRoleBinding, RoleBinding, Subject } from "kubernetes-types/rbac/v1.js";
import type { PriorityClass } from "kubernetes-types/scheduling/v1.js";
import { AGE, col, NAME } from "./columns.js";
import { DOC } from "./descriptions.js";
import { compareStrings, intOrString, since } from "./format.js";
import { quantityPtrString, quantityString } from "./quantity.js";
import type { PrintContext, PrintedRow, Printer, TableColumnDefinition } from "./types.js";

/** A handler whose row is Name, one or more value cells, then Age. */
function simple<T>(columns: TableColumnDefinition[], values: (o: T) => unknown[]): Printer {
  return {
    columns: [NAME, ...columns, AGE],
    print(obj: object, ctx: PrintContext): PrintedRow {
      const o = obj as T & { metadata?: { name?: string; creationTimestamp?: string } };
      return { cells: [o.metadata?.name ?? "", ...values(o), since(o.metadata?.creationTimestamp, ctx.now)] };
    },
  };
}

export const namespacePrinter = simple<Namespace>([col("Status", "string", "The status of the namespace")], (ns) => [
  // The API server sets phase Active on create.
  ns.status?.phase ?? "Active",
]);

export const configMapPrinter = simple<ConfigMap>([col("Data", "string", DOC.cmData)], (cm) => [
  Object.keys(cm.data ?? {}).length + Object.keys(cm.binaryData ?? {}).length,
]);

export const secretPrinter = simple<Secret>(
  [col("Type", "string", DOC.secretType), col("Data", "string", DOC.secretData)],
  // stringData is merged into data on write; type defaults to Opaque.
  (s) => [s.type ?? "Opaque", new Set([...Object.keys(s.data ?? {}), ...Object.keys(s.stringData ?? {})]).size],
);

export const serviceAccountPrinter = simple<ServiceAccount>([col("Secrets", "string", DOC.saSecrets)], (sa) => [
  (sa.secrets ?? []).length,
]);

export const leasePrinter = simple<Lease>([col("Holder", "string", DOC.leaseHolder)], (l) => [l.spec?.holderIdentity ?? ""]);

/** v1.30 has no PreemptionPolicy column yet. */
export const priorityClassPrinter = simple<PriorityClass>(
  [col("Value", "integer", DOC.pcValue), col("Global-Default", "boolean", DOC.pcGlobalDefault)],
  (pc) => [pc.value ?? 0, pc.globalDefault ?? false],
);

export const podDisruptionBudgetPrinter = simple<PodDisruptionBudget>(
  [
    col("Min Available", "string", "The minimum number of pods that must be available."),
    col("Max Unavailable", "string", "The maximum number of pods that may be unavailable."),
    col("Allowed Disruptions", "integer", "Calculated number of pods that may be disrupted at this time."),
  ],
  (pdb) => [
    pdb.spec?.minAvailable !== undefined && pdb.spec.minAvailable !== null ? intOrString(pdb.spec.minAvailable) : "N/A",
    pdb.spec?.maxUnavailable !== undefined && pdb.spec.maxUnavailable !== null ? intOrString(pdb.spec.maxUnavailable) : "N/A",
    pdb.status?.disruptionsAllowed ?? 0,
  ],
);

export const mutatingWebhookPrinter = simple<MutatingWebhookConfiguration>(
  [col("Webhooks", "integer", "Webhooks indicates the number of webhooks registered in this configuration")],
  (w) => [(w.webhooks ?? []).length],
);

export const validatingWebhookPrinter = simple<ValidatingWebhookConfiguration>(
  [col("Webhooks", "integer", "Webhooks indicates the number of webhooks registered in this configuration")],
  (w) => [(w.webhooks ?? []).length],
);

/** Upstream describes Handler with ObjectMeta's (missing) "handler" doc: the empty string. */
export const runtimeClassPrinter = simple<RuntimeClass>([col("Handler", "string", "")], (rc) => [rc.handler ?? ""]);

/** rbac.SubjectsStrings: users, groups and "namespace/name" service accounts. */
function subjectsStrings(subjects: readonly Subject[] | null | undefined): [string, string, string] {
  const users: string[] = [];
  const groups: string[] = [];
  const sas: string[] = [];
  for (const s of subjects ?? []) {
    if (s.kind === "ServiceAccount") sas.push(`${s.namespace ?? ""}/${s.name}`);
    else if (s.kind === "User") users.push(s.name);
    else if (s.kind === "Group") groups.push(s.name);
  }
  return [users.join(", "), groups.join(", "), sas.join(", ")];
}

function bindingPrinter(roleRefDoc: string, what: string): Printer {
  return {
    columns: [
      NAME,
      col("Role", "string", roleRefDoc),
      AGE,
      col("Users", "string", `Users in the ${what}`, true),
      col("Groups", "string", `Groups in the ${what}`, true),
      col("ServiceAccounts", "string", `ServiceAccounts in the ${what}`, true),
    ],
    print(obj: object, ctx: PrintContext): PrintedRow {
      const b = obj as RoleBinding | ClusterRoleBinding;
      const role = `${b.roleRef?.kind ?? ""}/${b.roleRef?.name ?? ""}`;
      return { cells: [b.metadata?.name ?? "", role, since(b.metadata?.creationTimestamp, ctx.now), ...subjectsStrings(b.subjects)] };
    },
  };
}

export const roleBindingPrinter = bindingPrinter(DOC.rbRoleRef, "roleBinding");
export const clusterRoleBindingPrinter = bindingPrinter(DOC.crbRoleRef, "clusterRoleBinding");

/**
 * printResourceQuota as of v1.30: columns Name, Age, Request, Limit (the
 * reordering to Name, Request, Limit, Age came in v1.33). Every hard resource,
 * sorted, as "name: used/hard"; names starting "limits." go to LIMIT.
 */
export const resourceQuotaPrinter: Printer = {
  columns: [
    NAME,
    AGE,
    col("Request", "string", "Request represents a minimum amount of cpu/memory that a container may consume."),
    col(
      "Limit",
      "string",
      "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node.",
    ),
  ],
  print(obj: object, ctx: PrintContext): PrintedRow {
    const q = obj as ResourceQuota;
    const hard = q.status?.hard ?? {};
    const used = q.status?.used ?? {};
    const request: string[] = [];
    const limit: string[] = [];
    for (const name of Object.keys(hard).sort(compareStrings)) {
      const pieces = name.split(".");
      const target = pieces.length > 1 && pieces[0] === "limits" ? limit : request;
      target.push(`${name}: ${quantityString(used[name])}/${quantityString(hard[name])}`);
    }
    return { cells: [q.metadata?.name ?? "", since(q.metadata?.creationTimestamp, ctx.now), request.join(", "), limit.join(", ")] };
  },
};

/**
 * An autoscaling/v1 object in the internal (v2) shape: targetCPUUtilizationPercentage
 * becomes a cpu Utilization metric, currentCPUUtilizationPercentage its status.
 */
function hpaFromV1(h: HPAv1): HorizontalPodAutoscaler {
  const metrics: MetricSpec[] = [];
  if (h.spec?.targetCPUUtilizationPercentage !== undefined && h.spec.targetCPUUtilizationPercentage !== null) {
    metrics.push({
      type: "Resource",
      resource: { name: "cpu", target: { type: "Utilization", averageUtilization: h.spec.targetCPUUtilizationPercentage } },
    });
  }
  const current: MetricStatus[] = [];
  if (h.status?.currentCPUUtilizationPercentage !== undefined && h.status.currentCPUUtilizationPercentage !== null) {
    current.push({ type: "Resource", resource: { name: "cpu", current: { averageUtilization: h.status.currentCPUUtilizationPercentage } } });
  }
  return {
    metadata: h.metadata ?? {},
    spec: {
      scaleTargetRef: h.spec?.scaleTargetRef ?? { kind: "", name: "" },
      maxReplicas: h.spec?.maxReplicas ?? 0,
      ...(h.spec?.minReplicas !== undefined ? { minReplicas: h.spec.minReplicas } : {}),
      metrics,
    },
    status: { currentReplicas: h.status?.currentReplicas ?? 0, desiredReplicas: h.status?.desiredReplicas ?? 0, currentMetrics: current },
  };
}

/** The v2 default when no metric is given: 80% average cpu utilization. */
const DEFAULT_METRICS: MetricSpec[] = [{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 80 } } }];

/** formatHPAMetrics: "current/target" per metric, at most two, then "+ N more...". */
export function formatHPAMetrics(specs: readonly MetricSpec[], statuses: readonly MetricStatus[]): string {
  if (specs.length === 0) return "<none>";
  let list: string[] = [];
  const max = 2;
  let count = 0;
  specs.forEach((spec, i) => {
    const st = statuses[i];
    switch (spec.type) {
      case "External": {
        const target = spec.external?.target;
        if (target?.averageValue !== undefined) {
          const current = st?.external?.current?.averageValue !== undefined ? quantityString(st.external.current.averageValue) : "<unknown>";
          list.push(`${current}/${quantityString(target.averageValue)} (avg)`);
        } else {
          const current = st?.external ? quantityPtrString(st.external.current?.value) : "<unknown>";
          list.push(`${current}/${quantityPtrString(target?.value)}`);
        }
        break;
      }
      case "Pods": {
        const current = st?.pods ? quantityPtrString(st.pods.current?.averageValue) : "<unknown>";
        list.push(`${current}/${quantityPtrString(spec.pods?.target?.averageValue)}`);
        break;
      }
      case "Object": {
        const target = spec.object?.target;
        if (target?.averageValue !== undefined) {
          const current = st?.object?.current?.averageValue !== undefined ? quantityString(st.object.current.averageValue) : "<unknown>";
          list.push(`${current}/${quantityString(target.averageValue)} (avg)`);
        } else {
          const current = st?.object ? quantityPtrString(st.object.current?.value) : "<unknown>";
          list.push(`${current}/${quantityPtrString(target?.value)}`);
        }
        break;
      }
      case "Resource":
      case "ContainerResource": {
        const source = spec.type === "Resource" ? spec.resource : spec.containerResource;
        const status = spec.type === "Resource" ? st?.resource : st?.containerResource;
        const name = source?.name ?? "";
        const target = source?.target;
        if (target?.averageValue !== undefined) {
          const current = status ? quantityPtrString(status.current?.averageValue) : "<unknown>";
          list.push(`${name}: ${current}/${quantityString(target.averageValue)}`);
        } else {
          const util = status?.current?.averageUtilization;
          const current = util !== undefined && util !== null ? `${util}%` : "<unknown>";
          const t = target?.averageUtilization;
          list.push(`${name}: ${current}/${t !== undefined && t !== null ? `${t}%` : "<auto>"}`);
        }
        break;
      }
      default:
        list.push("<unknown type>");
    }
    count++;
  });
  let more = false;
  if (count > max) {
    list = list.slice(0, max);
    more = true;
  }
  const ret = list.join(", ");
  return more ? `${ret} + ${count - max} more...` : ret;
}

export const horizontalPodAutoscalerPrinter: Printer = {
  columns: [
    NAME,
    col("Reference", "string", DOC.hpaScaleTargetRef),
    col("Targets", "string", DOC.hpaMetrics),
    col("MinPods", "string", DOC.hpaMinReplicas),
    col("MaxPods", "string", DOC.hpaMaxReplicas),
    col("Replicas", "string", DOC.hpaCurrentReplicas),
    AGE,
  ],
  print(obj: object, ctx: PrintContext): PrintedRow {
    const raw = obj as { apiVersion?: string; spec?: { targetCPUUtilizationPercentage?: number; metrics?: unknown } };
    const isV1 = raw.apiVersion === "autoscaling/v1" || (raw.apiVersion === undefined && raw.spec?.targetCPUUtilizationPercentage !== undefined);
    const h = isV1 ? hpaFromV1(obj as HPAv1) : (obj as HorizontalPodAutoscaler);
    const specs = h.spec?.metrics && h.spec.metrics.length > 0 ? h.spec.metrics : DEFAULT_METRICS;
    // minReplicas defaults to 1.
    const minPods = String(h.spec?.minReplicas ?? 1);
    return {
      cells: [
        h.metadata?.name ?? "",
        `${h.spec?.scaleTargetRef?.kind ?? ""}/${h.spec?.scaleTargetRef?.name ?? ""}`,
        formatHPAMetrics(specs, h.status?.currentMetrics ?? []),
        minPods,
        h.spec?.maxReplicas ?? 0,
        h.status?.currentReplicas ?? 0,
        since(h.metadata?.creationTimestamp, ctx.now),
      ],
    };
  },
};
