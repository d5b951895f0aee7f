/**
 * Reconciles the bootstrap policy at server start, as upstream's
 * `rbac/bootstrap-roles` post-start hook: missing objects are created;
 * existing ones annotated `rbac.authorization.kubernetes.io/autoupdate:
 * "true"` (or unannotated) gain missing rules, subjects, aggregation
 * selectors, labels and annotations; nothing is ever removed; objects
 * annotated `"false"` are left alone.
 */
import type { AggregationRule, ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, Subject } from "kubernetes-types/rbac/v1.js";
import type { Logger } from "../../../machinery/log.js";
import { isAlreadyExists, isNotFound } from "../../../machinery/status-error.js";
import type { ObjectStore } from "../../registry/object-store.js";
import type { KObject } from "../../registry/types.js";
import { AUTOUPDATE_ANNOTATION, type BootstrapPolicy } from "./bootstrap-policy.js";
import { covers } from "./rules.js";

export interface ReconcileTargets {
  readonly clusterRoles: ObjectStore;
  readonly clusterRoleBindings: ObjectStore;
  readonly roles: ObjectStore;
  readonly roleBindings: ObjectStore;
}

type Any = ClusterRole | Role | ClusterRoleBinding | RoleBinding;

/** The existing object with what `expected` adds, or undefined when nothing is missing. */
export function reconciled(existing: Any, expected: Any): Any | undefined {
  const out = structuredClone(existing) as Any & { rules?: PolicyRule[]; subjects?: Subject[]; aggregationRule?: AggregationRule };
  let changed = false;
  const meta = (out.metadata ??= {});
  for (const [field, want] of [
    ["labels", expected.metadata?.labels],
    ["annotations", expected.metadata?.annotations],
  ] as const) {
    for (const [k, v] of Object.entries(want ?? {})) {
      const have = (meta[field] ??= {});
      if (!(k in have)) {
        have[k] = v;
        changed = true;
      }
    }
  }
  const exp = expected as Any & { rules?: PolicyRule[]; subjects?: Subject[]; aggregationRule?: AggregationRule; roleRef?: unknown };
  if (exp.aggregationRule) {
    const have = (out.aggregationRule ??= {}).clusterRoleSelectors ?? [];
    for (const sel of exp.aggregationRule.clusterRoleSelectors ?? []) {
      if (!have.some((h) => JSON.stringify(h) === JSON.stringify(sel))) {
        have.push(sel);
        changed = true;
      }
    }
    out.aggregationRule.clusterRoleSelectors = have;
  } else if (exp.rules) {
    // Aggregated roles' rules belong to the aggregation controller; others gain what they miss.
    const { missing } = covers(out.rules ?? [], exp.rules);
    if (missing.length > 0) {
      const add = exp.rules.filter((r) => !covers(out.rules ?? [], [r]).covered);
      out.rules = [...(out.rules ?? []), ...add];
      changed = true;
    }
  }
  if (exp.subjects) {
    const have = (out.subjects ??= []);
    for (const s of exp.subjects) {
      if (!have.some((h) => h.kind === s.kind && h.name === s.name && (h.namespace ?? "") === (s.namespace ?? ""))) {
        have.push(s);
        changed = true;
      }
    }
  }
  return changed ? out : undefined;
}

async function ensure(store: ObjectStore, expected: Any, log: Logger): Promise<void> {
  const ns = expected.metadata?.namespace;
  const name = expected.metadata!.name!;
  for (let attempt = 0; attempt < 5; attempt++) {
    let existing: KObject;
    try {
      existing = await store.get(ns, name);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      try {
        await store.create(ns, expected as KObject);
        log.debug("created bootstrap RBAC object", { kind: expected.kind, name: ns ? `${ns}/${name}` : name });
        return;
      } catch (e) {
        if (isAlreadyExists(e)) continue;
        throw e;
      }
    }
    if (existing.metadata?.annotations?.[AUTOUPDATE_ANNOTATION] === "false") return;
    const ref = (existing as unknown as RoleBinding).roleRef;
    const wantRef = (expected as RoleBinding).roleRef;
    if (ref && wantRef && (ref.kind !== wantRef.kind || ref.name !== wantRef.name)) {
      // roleRef is immutable: upstream recreates the binding.
      await store.delete(ns, name);
      continue;
    }
    const next = reconciled(existing as Any, expected);
    if (!next) return;
    try {
      await store.update(ns, name, next as KObject);
      log.info("reconciled bootstrap RBAC object", { kind: expected.kind, name: ns ? `${ns}/${name}` : name });
      return;
    } catch (err) {
      if ((err as { reason?: string }).reason === "Conflict") continue;
      throw err;
    }
  }
}

/** Creates or tops up every object of `policy`. */
export async function reconcileBootstrapPolicy(targets: ReconcileTargets, policy: BootstrapPolicy, log: Logger): Promise<void> {
  for (const r of policy.clusterRoles) await ensure(targets.clusterRoles, r, log);
  for (const b of policy.clusterRoleBindings) await ensure(targets.clusterRoleBindings, b, log);
  for (const r of policy.roles) await ensure(targets.roles, r, log);
  for (const b of policy.roleBindings) await ensure(targets.roleBindings, b, log);
}
