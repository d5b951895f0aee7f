/**
 * ResourceQuota spec validation, as upstream's ValidateResourceQuotaSpec
 * (pkg/apis/core/validation): hard resource names and values, scopes and
 * scope selectors, and which scopes may limit which resources. skiff has no
 * ResourceQuota registry strategy, so the ResourceQuota admission plugin
 * runs this on create and update and answers 422 as the registry would.
 */
import type { FieldError } from "../../machinery/status-error.js";
import { goString, invalidValue, required } from "../../machinery/field-errors.js";
import { qty } from "./resource-quota-quantity.js";

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);

/** Upstream's standardQuotaResources. */
const STANDARD_QUOTA_RESOURCES = new Set([
  "cpu",
  "memory",
  "ephemeral-storage",
  "requests.cpu",
  "requests.memory",
  "requests.storage",
  "requests.ephemeral-storage",
  "limits.cpu",
  "limits.memory",
  "limits.ephemeral-storage",
  "pods",
  "services",
  "replicationcontrollers",
  "resourcequotas",
  "secrets",
  "persistentvolumeclaims",
  "configmaps",
  "services.nodeports",
  "services.loadbalancers",
]);
/** Upstream's integerResources: quantities that must be whole numbers. */
const INTEGER_RESOURCES = new Set(["pods", "services", "replicationcontrollers", "resourcequotas", "secrets", "configmaps", "persistentvolumeclaims", "services.nodeports", "services.loadbalancers"]);
/** The scopes, in upstream's order for "supported values". */
export const STANDARD_SCOPES = ["Terminating", "NotTerminating", "BestEffort", "NotBestEffort", "PriorityClass", "CrossNamespacePodAffinity"];
const POD_OBJECT_COUNT = new Set(["pods", "count/pods"]);
const POD_COMPUTE = new Set(["cpu", "requests.cpu", "limits.cpu", "memory", "requests.memory", "limits.memory"]);

/** Upstream's IsResourceQuotaScopeValidForResource. */
function scopeValidFor(scope: string, resource: string): boolean {
  switch (scope) {
    case "Terminating":
    case "NotTerminating":
    case "NotBestEffort":
    case "PriorityClass":
      return POD_OBJECT_COUNT.has(resource) || POD_COMPUTE.has(resource);
    case "BestEffort":
    case "CrossNamespacePodAffinity":
      return POD_OBJECT_COUNT.has(resource);
    default:
      return true;
  }
}

const isStandardQuotaResource = (n: string) => STANDARD_QUOTA_RESOURCES.has(n) || n.startsWith("hugepages-") || n.startsWith("requests.hugepages-");

/** Go's %#v of a []core.ResourceQuotaScope. */
const goScopes = (v: readonly string[]) => ({ go: `[]core.ResourceQuotaScope{${v.map((s) => JSON.stringify(s)).join(", ")}}` });

function validateHard(hard: unknown, errs: FieldError[]): void {
  if (hard === undefined || hard === null) return;
  if (!isObj(hard)) {
    errs.push(invalidValue("spec.hard", goString(String(hard)), "must be a map of resource names to quantities"));
    return;
  }
  for (const [name, v] of Object.entries(hard)) {
    const field = `spec.hard[${name}]`;
    // ValidateResourceQuotaResourceName: standard names, or qualified names with a domain.
    if (!name.includes("/") && !isStandardQuotaResource(name)) {
      errs.push(invalidValue(field, goString(name), "must be a standard resource for quota"));
      continue;
    }
    const q = qty(v);
    if (!q) {
      errs.push(invalidValue(field, goString(String(v)), "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"));
      continue;
    }
    if (q.mantissa < 0n) errs.push(invalidValue(field, goString(String(v)), "must be greater than or equal to 0"));
    const whole = q.exp10 >= 0 || q.mantissa % 10n ** BigInt(-q.exp10) === 0n;
    if ((INTEGER_RESOURCES.has(name) || name.startsWith("count/")) && !whole) errs.push(invalidValue(field, goString(String(v)), "must be an integer"));
  }
}

/** Go's %#v of a *core.ScopeSelector, as field.Invalid prints it. */
function goSelector(exprs: readonly Obj[]): { go: string } {
  const req = exprs.map((x) => {
    const values = Array.isArray(x.values) ? `[]string{${x.values.map((v) => JSON.stringify(String(v))).join(", ")}}` : "[]string(nil)";
    return `core.ScopedResourceSelectorRequirement{ScopeName:${JSON.stringify(String(x.scopeName ?? ""))}, Operator:${JSON.stringify(String(x.operator ?? ""))}, Values:${values}}`;
  });
  return { go: `&core.ScopeSelector{MatchExpressions:[]core.ScopedResourceSelectorRequirement{${req.join(", ")}}}` };
}

/** Upstream's validateScopedResourceSelectorRequirement (its paths carry no index, as upstream's). */
function validateScopeSelector(sel: unknown, hard: readonly string[], errs: FieldError[]): void {
  if (sel === undefined || sel === null) return;
  const exprs = (isObj(sel) && Array.isArray(sel.matchExpressions) ? sel.matchExpressions : []).filter(isObj);
  const p = "spec.scopeSelector.matchExpressions";
  const seen: string[] = [];
  for (const x of exprs) {
    const scope = typeof x.scopeName === "string" ? x.scopeName : "";
    const op = typeof x.operator === "string" ? x.operator : "";
    const values = Array.isArray(x.values) ? x.values : [];
    if (!STANDARD_SCOPES.includes(scope)) errs.push(invalidValue(`${p}.scopeName`, goString(scope), "unsupported scope"));
    for (const r of hard) if (isStandardQuotaResource(r) && !scopeValidFor(scope, r)) errs.push(invalidValue(p, goSelector(exprs), "unsupported scope applied to resource"));
    if (["BestEffort", "NotBestEffort", "Terminating", "NotTerminating", "CrossNamespacePodAffinity"].includes(scope) && op !== "Exists") {
      errs.push(
        invalidValue(
          `${p}.operator`,
          goString(op),
          "must be 'Exist' when scope is any of ResourceQuotaScopeTerminating, ResourceQuotaScopeNotTerminating, ResourceQuotaScopeBestEffort, ResourceQuotaScopeNotBestEffort or ResourceQuotaScopeCrossNamespacePodAffinity",
        ),
      );
    }
    if (op === "In" || op === "NotIn") {
      if (values.length === 0) errs.push(required(`${p}.values`, "must be at least one value when `operator` is 'In' or 'NotIn' for scope selector"));
    } else if (op === "Exists" || op === "DoesNotExist") {
      if (values.length > 0) {
        errs.push(invalidValue(`${p}.values`, { go: `[]string{${values.map((v) => JSON.stringify(String(v))).join(", ")}}` }, "must be no value when `operator` is 'Exist' or 'DoesNotExist' for scope selector"));
      }
    } else {
      errs.push(invalidValue(`${p}.operator`, goString(op), "not a valid selector operator"));
    }
    seen.push(scope);
  }
  for (const pair of [["BestEffort", "NotBestEffort"], ["Terminating", "NotTerminating"]]) {
    if (pair.every((x) => seen.includes(x))) errs.push(invalidValue(p, goSelector(exprs), "conflicting scopes"));
  }
}

/** Upstream's validateResourceQuotaScopes and validateScopedResourceSelectorRequirement, with the hard resources they limit. */
export function validateResourceQuotaSpec(spec: unknown): FieldError[] {
  const errs: FieldError[] = [];
  const s = isObj(spec) ? spec : {};
  validateHard(s.hard, errs);
  const hard = isObj(s.hard) ? Object.keys(s.hard).sort() : [];
  const scopes = Array.isArray(s.scopes) ? s.scopes.map(String) : [];
  for (const scope of scopes) {
    if (!STANDARD_SCOPES.includes(scope)) errs.push(invalidValue("spec.scopes", goScopes(scopes), "unsupported scope"));
    for (const r of hard) if (isStandardQuotaResource(r) && !scopeValidFor(scope, r)) errs.push(invalidValue("spec.scopes", goScopes(scopes), "unsupported scope applied to resource"));
  }
  for (const pair of [["BestEffort", "NotBestEffort"], ["Terminating", "NotTerminating"]]) {
    if (pair.every((p) => scopes.includes(p))) errs.push(invalidValue("spec.scopes", goScopes(scopes), "conflicting scopes"));
  }
  validateScopeSelector(s.scopeSelector, hard, errs);
  // field.ErrorList.ToAggregate drops repeated errors.
  const seen = new Set<string>();
  return errs.filter((e) => {
    const k = `${e.field}\u0000${e.detail}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
