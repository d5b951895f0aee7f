/**
 * helper.DefaultSelector (plugins/helper/spread.go): the selector a pod's
 * Services, ReplicationController, ReplicaSet or StatefulSet would use to
 * find its siblings — what default spreading constraints spread.
 */
import type { Pod, Service } from "kubernetes-types/core/v1.js";
import { EVERYTHING, type LabelSelector, type Requirement } from "../../../machinery/labels.js";
import { labelSelectorAsSelector, NOTHING } from "../../framework/pod-info.js";
import type { ClusterListers } from "../../framework/types.js";

/** labels.SelectorFromSet: one equality requirement per label (an empty set selects everything). */
export function selectorFromSet(set: Readonly<Record<string, string>>): LabelSelector {
  const requirements: Requirement[] = Object.keys(set)
    .sort()
    .map((key) => ({ key, op: "=" as const, values: [set[key]!] }));
  return withRequirements(EVERYTHING, requirements);
}

/** Selector.Add: a selector matching `base` and the extra requirements. */
export function withRequirements(base: LabelSelector, extra: readonly Requirement[]): LabelSelector {
  if (extra.length === 0) return base;
  const requirements = [...base.requirements, ...extra];
  const matchOne = (r: Requirement, labels: Readonly<Record<string, string>>): boolean => {
    const has = Object.hasOwn(labels, r.key);
    const v = labels[r.key];
    switch (r.op) {
      case "=":
        return has && v === r.values[0];
      case "!=":
        return !has || v !== r.values[0];
      case "in":
        return has && r.values.includes(v!);
      case "notin":
        return !has || !r.values.includes(v!);
      case "exists":
        return has;
      case "!":
        return !has;
    }
  };
  return {
    requirements,
    empty: false,
    matches(labels) {
      if (!base.matches(labels)) return false;
      const l = labels ?? {};
      for (const r of extra) if (!matchOne(r, l)) return false;
      return true;
    },
  };
}

/** GetPodServices: the pod's namespace's Services whose (non-nil) selector matches it. */
export function podServices(listers: ClusterListers, pod: Pod): Service[] {
  const out: Service[] = [];
  const labels = pod.metadata?.labels ?? {};
  for (const svc of listers.services.list(pod.metadata?.namespace ?? "")) {
    const sel = svc.spec?.selector;
    // Services with nil selectors match nothing, not everything.
    if (!sel) continue;
    let ok = true;
    for (const k of Object.keys(sel)) {
      if (labels[k] !== sel[k] || !Object.hasOwn(labels, k)) {
        ok = false;
        break;
      }
    }
    if (ok) out.push(svc);
  }
  return out;
}

/** DefaultSelector: merged Service selectors, plus the controller's (RC, RS or StatefulSet) selector. */
export function defaultSelector(pod: Pod, listers: ClusterListers): LabelSelector {
  const labelSet: Record<string, string> = {};
  // Services, RCs, RSs and StatefulSets matching the same pod cannot conflict: merging is safe.
  for (const svc of podServices(listers, pod)) Object.assign(labelSet, svc.spec?.selector);
  let selector = selectorFromSet(labelSet);
  const owner = pod.metadata?.ownerReferences?.find((r) => r.controller === true);
  if (!owner) return selector;
  const ns = pod.metadata?.namespace ?? "";
  const gvk = `${owner.apiVersion}/${owner.kind}`;
  if (gvk === "v1/ReplicationController") {
    const rc = listers.replicationControllers.get(ns, owner.name);
    if (rc) selector = selectorFromSet({ ...labelSet, ...rc.spec?.selector });
  } else if (gvk === "apps/v1/ReplicaSet" || gvk === "apps/v1/StatefulSet") {
    const obj = gvk === "apps/v1/ReplicaSet" ? listers.replicaSets.get(ns, owner.name) : listers.statefulSets.get(ns, owner.name);
    if (obj) {
      try {
        const other = labelSelectorAsSelector(obj.spec?.selector);
        // A nil selector (Nothing) has no requirements to add.
        if (other !== NOTHING) selector = withRequirements(selector, other.requirements);
      } catch {
        // An invalid selector adds nothing, as upstream ignores the conversion error.
      }
    }
  }
  return selector;
}
