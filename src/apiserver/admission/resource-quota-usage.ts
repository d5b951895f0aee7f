/**
 * What an object costs against a ResourceQuota, as upstream's quota
 * evaluators (pkg/quota/v1/evaluator/core and the generic object-count
 * evaluator): usage per resource name, which quota resource names an
 * evaluator answers for, the pod scopes (Terminating, NotTerminating,
 * BestEffort, NotBestEffort, PriorityClass, CrossNamespacePodAffinity), and
 * the pod constraints ("must specify limits.cpu for: app"). Shared by the
 * ResourceQuota admission plugin and the resource-quota controller.
 */
import { add, format, qty, type Qty, ZERO } from "./resource-quota-quantity.js";

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);
const obj = (v: unknown): Obj => (isObj(v) ? v : {});
const arr = (v: unknown): Obj[] => (Array.isArray(v) ? v.filter(isObj) : []);

export type Usage = Map<string, Qty>;

const ONE: Qty = { mantissa: 1n, exp10: 0, format: "DecimalSI" };
const count = (n: number): Qty => ({ mantissa: BigInt(n), exp10: 0, format: "DecimalSI" });

/** The quota resource name counting objects of a resource: `count/<plural>[.<group>]`. */
export function objectCountName(group: string, plural: string): string {
  return group ? `count/${plural}.${group}` : `count/${plural}`;
}

/** Core resources with a legacy count name besides count/* (upstream's legacy object-count evaluators). */
const LEGACY_COUNT: Record<string, string> = {
  configmaps: "configmaps",
  secrets: "secrets",
  replicationcontrollers: "replicationcontrollers",
  resourcequotas: "resourcequotas",
};

const POD_COMPUTE = new Set([
  "cpu",
  "memory",
  "ephemeral-storage",
  "requests.cpu",
  "requests.memory",
  "requests.ephemeral-storage",
  "limits.cpu",
  "limits.memory",
  "limits.ephemeral-storage",
]);
/** Resources each container must name when a matching quota limits them (upstream's validationSet). */
const CONSTRAINED = new Set(["cpu", "memory", "requests.cpu", "requests.memory", "limits.cpu", "limits.memory"]);
/** Names without a domain that are native (not extended) resources. */
const NATIVE = new Set(["cpu", "memory", "ephemeral-storage", "storage", "pods"]);

/** Upstream's IsExtendedResourceName: a domain-qualified name outside kubernetes.io, not `requests.`-prefixed. */
function isExtendedResource(name: string): boolean {
  if (NATIVE.has(name) || name.startsWith("requests.") || !name.includes("/")) return false;
  const domain = name.slice(0, name.indexOf("/"));
  return !(domain === "kubernetes.io" || domain.endsWith(".kubernetes.io"));
}

/** Which evaluator handles a resource: pods, services and claims have their own; everything else is counted. */
export function evaluatorFor(group: string, plural: string): "pods" | "services" | "persistentvolumeclaims" | "generic" {
  if (group === "" && (plural === "pods" || plural === "services" || plural === "persistentvolumeclaims")) return plural;
  return "generic";
}

/** Whether the evaluator of (group, plural) tracks quota resource `name` (MatchingResources). */
export function tracks(group: string, plural: string, name: string): boolean {
  if (name === objectCountName(group, plural)) return true;
  switch (evaluatorFor(group, plural)) {
    case "pods":
      return (
        name === "pods" ||
        POD_COMPUTE.has(name) ||
        name.startsWith("hugepages-") ||
        name.startsWith("requests.hugepages-") ||
        (name.startsWith("requests.") && isExtendedResource(name.slice("requests.".length)))
      );
    case "services":
      return name === "services" || name === "services.loadbalancers" || name === "services.nodeports";
    case "persistentvolumeclaims":
      return name === "persistentvolumeclaims" || name === "requests.storage" || /\.storageclass\.storage\.k8s\.io\/(requests\.storage|persistentvolumeclaims)$/.test(name);
    default:
      return group === "" && LEGACY_COUNT[plural] === name;
  }
}

/** Whether the evaluator handles this operation (upstream's Handles): creates, and updates that can change usage. */
export function handlesOperation(group: string, plural: string, operation: string): boolean {
  if (operation === "CREATE") return true;
  const e = evaluatorFor(group, plural);
  return operation === "UPDATE" && (e === "services" || e === "persistentvolumeclaims");
}

function put(u: Usage, name: string, q: Qty): void {
  u.set(name, q);
}

/** Upstream's QuotaV1Pod: terminal pods, and pods past their deletion grace period, use no compute quota. */
export function podUsesCompute(pod: Obj, nowMs: number): boolean {
  const phase = obj(pod.status).phase;
  if (phase === "Succeeded" || phase === "Failed") return false;
  const m = obj(pod.metadata);
  if (typeof m.deletionTimestamp === "string" && typeof m.deletionGracePeriodSeconds === "number") {
    if (nowMs > Date.parse(m.deletionTimestamp) + m.deletionGracePeriodSeconds * 1000) return false;
  }
  return true;
}

function addList(into: Map<string, Qty>, list: unknown): void {
  for (const [k, v] of Object.entries(obj(list))) {
    const q = qty(v);
    if (q) into.set(k, add(into.get(k) ?? ZERO, q));
  }
}

function maxInto(into: Map<string, Qty>, list: Map<string, Qty>): void {
  for (const [k, q] of list) {
    const cur = into.get(k);
    if (!cur || cmpQ(q, cur) > 0) into.set(k, q);
  }
}

function cmpQ(a: Qty, b: Qty): number {
  const e = Math.min(a.exp10, b.exp10);
  const x = a.mantissa * 10n ** BigInt(a.exp10 - e);
  const y = b.mantissa * 10n ** BigInt(b.exp10 - e);
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * A container's requests as upstream stores them: API defaulting
 * (SetDefaults_Pod) copies each limit without a request into requests
 * before admission runs; skiff's pod strategy does not, so it is done here.
 */
function containerList(c: Obj, field: "requests" | "limits"): Obj {
  const res = obj(c.resources);
  return field === "limits" ? obj(res.limits) : { ...obj(res.limits), ...obj(res.requests) };
}

/**
 * Upstream's PodRequests / PodLimits: the sum over app containers and
 * sidecars, or the largest init container (plus the sidecars started before
 * it) if larger, plus the pod overhead.
 */
export function podResources(pod: Obj, field: "requests" | "limits"): Map<string, Qty> {
  const spec = obj(pod.spec);
  const sum = new Map<string, Qty>();
  for (const c of arr(spec.containers)) addList(sum, containerList(c, field));
  const sidecars = new Map<string, Qty>();
  const initMax = new Map<string, Qty>();
  for (const c of arr(spec.initContainers)) {
    const own = new Map<string, Qty>();
    addList(own, containerList(c, field));
    if (c.restartPolicy === "Always") {
      for (const [k, q] of own) sidecars.set(k, add(sidecars.get(k) ?? ZERO, q));
      maxInto(initMax, new Map(sidecars));
    } else {
      const eff = new Map(sidecars);
      for (const [k, q] of own) eff.set(k, add(eff.get(k) ?? ZERO, q));
      maxInto(initMax, eff);
    }
  }
  for (const [k, q] of sidecars) sum.set(k, add(sum.get(k) ?? ZERO, q));
  maxInto(sum, initMax);
  if (isObj(spec.overhead)) {
    // Overhead adds to every request, but only to limits the pod has (an absent limit stays unlimited).
    const overhead = field === "requests" ? spec.overhead : Object.fromEntries(Object.entries(spec.overhead).filter(([k]) => sum.has(k)));
    addList(sum, overhead);
  }
  return sum;
}

/** Upstream's podComputeUsageHelper: a container's or pod's requests and limits as quota resource names. */
function computeUsage(requests: Map<string, Qty>, limits: Map<string, Qty>): Usage {
  const u: Usage = new Map([["pods", ONE]]);
  for (const r of ["cpu", "memory", "ephemeral-storage"]) {
    const req = requests.get(r);
    if (req) {
      put(u, r, req);
      put(u, `requests.${r}`, req);
    }
    const lim = limits.get(r);
    if (lim) put(u, `limits.${r}`, lim);
  }
  for (const [r, q] of requests) {
    if (r.startsWith("hugepages-")) {
      put(u, r, q);
      put(u, `requests.${r}`, q);
    }
    if (isExtendedResource(r)) put(u, `requests.${r}`, q);
  }
  return u;
}

/** Usage of one object of (group, plural), as the matching evaluator computes it. */
export function usageOf(group: string, plural: string, o: Obj, nowMs: number): Usage {
  const u: Usage = new Map([[objectCountName(group, plural), ONE]]);
  const spec = obj(o.spec);
  switch (evaluatorFor(group, plural)) {
    case "pods": {
      // Object count always; compute only for pods that have not reached the end of life.
      if (!podUsesCompute(o, nowMs)) return u;
      for (const [k, q] of computeUsage(podResources(o, "requests"), podResources(o, "limits"))) u.set(k, q);
      return u;
    }
    case "services": {
      u.set("services", ONE);
      const ports = arr(spec.ports);
      if (spec.type === "NodePort") u.set("services.nodeports", count(ports.length));
      if (spec.type === "LoadBalancer") {
        u.set("services.loadbalancers", ONE);
        // Node ports are not allocated yet: count the intent, as upstream.
        const n = spec.allocateLoadBalancerNodePorts === false ? ports.filter((p) => typeof p.nodePort === "number" && p.nodePort !== 0).length : ports.length;
        u.set("services.nodeports", count(n));
      }
      return u;
    }
    case "persistentvolumeclaims": {
      u.set("persistentvolumeclaims", ONE);
      const sc = typeof spec.storageClassName === "string" ? spec.storageClassName : "";
      if (sc) u.set(`${sc}.storageclass.storage.k8s.io/persistentvolumeclaims`, ONE);
      const storage = qty(obj(obj(spec.resources).requests).storage);
      if (storage) {
        u.set("requests.storage", storage);
        if (sc) u.set(`${sc}.storageclass.storage.k8s.io/requests.storage`, storage);
      }
      return u;
    }
    default: {
      const legacy = group === "" ? LEGACY_COUNT[plural] : undefined;
      if (legacy) u.set(legacy, ONE);
      return u;
    }
  }
}

/** One scope requirement of a quota (spec.scopes become Exists requirements, as upstream). */
export interface ScopeRequirement {
  readonly scopeName: string;
  readonly operator: string;
  readonly values?: readonly string[];
}

/** Upstream's getScopeSelectorsFromQuota. */
export function scopeRequirements(quota: Obj): ScopeRequirement[] {
  const spec = obj(quota.spec);
  const out: ScopeRequirement[] = [];
  for (const s of Array.isArray(spec.scopes) ? spec.scopes : []) if (typeof s === "string") out.push({ scopeName: s, operator: "Exists" });
  for (const e of arr(obj(spec.scopeSelector).matchExpressions)) {
    out.push({
      scopeName: String(e.scopeName ?? ""),
      operator: String(e.operator ?? ""),
      values: Array.isArray(e.values) ? e.values.map(String) : [],
    });
  }
  return out;
}

/** Upstream's GetPodQOS: BestEffort when no container asks for or limits cpu or memory. */
export function isBestEffort(pod: Obj): boolean {
  const spec = obj(pod.spec);
  for (const c of [...arr(spec.initContainers), ...arr(spec.containers)]) {
    const r = obj(c.resources);
    for (const list of [r.requests, r.limits]) {
      for (const [k, v] of Object.entries(obj(list))) {
        if ((k === "cpu" || k === "memory") && (qty(v)?.mantissa ?? 0n) !== 0n) return false;
      }
    }
  }
  return true;
}

function usesCrossNamespaceAffinity(pod: Obj): boolean {
  const aff = obj(obj(pod.spec).affinity);
  for (const kind of ["podAffinity", "podAntiAffinity"]) {
    const a = obj(aff[kind]);
    const terms = [
      ...arr(a.requiredDuringSchedulingIgnoredDuringExecution),
      ...arr(a.preferredDuringSchedulingIgnoredDuringExecution).map((w) => obj(w.podAffinityTerm)),
    ];
    for (const t of terms) if (isObj(t.namespaceSelector) || (Array.isArray(t.namespaces) && t.namespaces.length > 0)) return true;
  }
  return false;
}

/** Upstream's podMatchesScopeFunc. */
export function podMatchesScope(req: ScopeRequirement, pod: Obj): boolean {
  const spec = obj(pod.spec);
  switch (req.scopeName) {
    case "Terminating":
      return typeof spec.activeDeadlineSeconds === "number" && spec.activeDeadlineSeconds >= 0;
    case "NotTerminating":
      return !(typeof spec.activeDeadlineSeconds === "number" && spec.activeDeadlineSeconds >= 0);
    case "BestEffort":
      return isBestEffort(pod);
    case "NotBestEffort":
      return !isBestEffort(pod);
    case "CrossNamespacePodAffinity":
      return usesCrossNamespaceAffinity(pod);
    case "PriorityClass": {
      const pc = typeof spec.priorityClassName === "string" ? spec.priorityClassName : "";
      if (req.operator === "Exists") return pc !== "";
      if (req.operator === "DoesNotExist") return pc === "";
      if (req.operator === "In") return (req.values ?? []).includes(pc);
      if (req.operator === "NotIn") return !(req.values ?? []).includes(pc);
      return false;
    }
    default:
      return false;
  }
}

/** A ResourceList as quantities (malformed entries left out). */
export function resourceList(v: unknown): Map<string, Qty> {
  const out = new Map<string, Qty>();
  for (const [k, x] of Object.entries(obj(v))) {
    const q = qty(x);
    if (q) out.set(k, q);
  }
  return out;
}

/** A quota's hard limits: spec.hard (what is asked) or status.hard (what the controller confirmed, which admission enforces as upstream). */
export function hardOf(quota: Obj, from: "spec" | "status"): Map<string, Qty> {
  return resourceList(obj(quota[from]).hard);
}

/** A quota's status.used. */
export function usedOf(quota: Obj): Map<string, Qty> {
  return resourceList(obj(quota.status).used);
}

/** Upstream's evaluator.Matches: the quota limits something this evaluator tracks, and every scope matches. */
export function quotaMatches(quota: Obj, hard: Iterable<string>, group: string, plural: string, o: Obj): boolean {
  let any = false;
  for (const name of hard) if (tracks(group, plural, name)) any = true;
  if (!any) return false;
  const scopes = scopeRequirements(quota);
  if (scopes.length === 0) return true;
  // Only pods have scopes; any scope excludes every other kind (MatchesNoScopeFunc).
  if (evaluatorFor(group, plural) !== "pods") return false;
  return scopes.every((s) => podMatchesScope(s, o));
}

/** Upstream's pod Constraints: every container names the cpu/memory resources a matching quota limits. */
export function podConstraintError(restricted: readonly string[], pod: Obj): string | undefined {
  const required = restricted.filter((r) => CONSTRAINED.has(r));
  if (required.length === 0) return undefined;
  const missing = new Map<string, Set<string>>();
  const spec = obj(pod.spec);
  for (const c of [...arr(spec.containers), ...arr(spec.initContainers)]) {
    const reqs = new Map<string, Qty>();
    const lims = new Map<string, Qty>();
    addList(reqs, containerList(c, "requests"));
    addList(lims, containerList(c, "limits"));
    const has = computeUsage(reqs, lims);
    for (const r of required) {
      if (has.has(r)) continue;
      if (!missing.has(r)) missing.set(r, new Set());
      missing.get(r)!.add(String(c.name ?? ""));
    }
  }
  if (missing.size === 0) return undefined;
  const parts = [...missing.keys()].sort().map((r) => `${r} for: ${[...missing.get(r)!].sort().join(",")}`);
  return `must specify ${parts.join("; ")}`;
}

/** Upstream's prettyPrint of a ResourceList: sorted `name=value` joined by commas. */
export function prettyPrint(u: Map<string, Qty>): string {
  return [...u.keys()]
    .sort()
    .map((k) => `${k}=${format(u.get(k)!)}`)
    .join(",");
}

/** A ResourceList object of a usage map (canonical quantity strings). */
export function toResourceList(u: Map<string, Qty>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of [...u.keys()].sort()) out[k] = format(u.get(k)!);
  return out;
}
