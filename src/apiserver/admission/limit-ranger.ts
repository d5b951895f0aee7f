/**
 * LimitRanger, as upstream's plugin/pkg/admission/limitranger: on pod
 * creation, containers without requests or limits get the `defaultRequest`
 * and `default` of the namespace's LimitRanges (noted in the
 * `kubernetes.io/limit-ranger` annotation), then every container, the pod as
 * a whole and persistent volume claims are checked against `min`, `max` and
 * `maxLimitRequestRatio`, with upstream's messages in a 403:
 * `pods "p" is forbidden: maximum cpu usage per Container is 1, but limit is 2`.
 *
 * LimitRanges are defaulted as upstream's SetDefaults_LimitRangeItem does at
 * decode (Container items: default from max, defaultRequest from default,
 * then from min), here on create and update since skiff has no LimitRange
 * strategy, and again when read, so older objects behave the same.
 */
import { type Clock, systemClock } from "../../machinery/clock.js";
import type { KList, KObject } from "../registry/types.js";
import type { AdmissionAttributes, AdmissionPlugin } from "./admission.js";
import { admissionForbidden } from "./priority.js";
import { cmp, format, type Qty, ratio } from "./resource-quota-quantity.js";
import { LiveLookup } from "./resource-quota-live-lookup.js";
import { podResources, resourceList } from "./resource-quota-usage.js";

export const LIMIT_RANGER_ANNOTATION = "kubernetes.io/limit-ranger";

/** What the plugin reads LimitRanges through (the registry's ObjectStore). */
export interface LimitRangeReader {
  list(ns: string | undefined): Promise<KList>;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);
const obj = (v: unknown): Obj => (isObj(v) ? v : {});
const arr = (v: unknown): Obj[] => (Array.isArray(v) ? v.filter(isObj) : []);

/** Upstream's SetDefaults_LimitRangeItem, in place. */
export function defaultLimitRangeItem(item: Obj): void {
  if (item.type !== "Container") return;
  const def = (item.default = { ...obj(item.default) }) as Obj;
  const defReq = (item.defaultRequest = { ...obj(item.defaultRequest) }) as Obj;
  for (const [k, v] of Object.entries(obj(item.max))) if (!(k in def)) def[k] = v;
  for (const [k, v] of Object.entries(def)) if (!(k in defReq)) defReq[k] = v;
  for (const [k, v] of Object.entries(obj(item.min))) if (!(k in defReq)) defReq[k] = v;
}

function itemsOf(lr: KObject): Obj[] {
  return arr(obj(lr.spec).limits).map((i) => {
    const copy = structuredClone(i);
    defaultLimitRangeItem(copy);
    return copy;
  });
}

/** Adds defaults to one container; returns the resources it set, for the annotation. */
function mergeContainer(c: Obj, defRequests: Obj, defLimits: Obj): { requests: string[]; limits: string[] } {
  const res = (c.resources = obj(c.resources)) as Obj;
  const limits = (res.limits = { ...obj(res.limits) }) as Obj;
  const requests = (res.requests = { ...obj(res.requests) }) as Obj;
  const set = { requests: [] as string[], limits: [] as string[] };
  // Upstream's API defaulting (SetDefaults_Pod) already made each user limit its request before admission.
  for (const [k, v] of Object.entries(limits)) if (!(k in requests)) requests[k] = v;
  for (const [k, v] of Object.entries(defLimits)) {
    if (!(k in limits)) {
      limits[k] = v;
      set.limits.push(k);
    }
  }
  for (const [k, v] of Object.entries(defRequests)) {
    if (!(k in requests)) {
      requests[k] = v;
      set.requests.push(k);
    }
  }
  if (Object.keys(limits).length === 0) delete res.limits;
  if (Object.keys(requests).length === 0) delete res.requests;
  return set;
}

/** Upstream's mergePodResourceRequirements: defaults into every container, and the annotation text. */
export function mergePodDefaults(pod: KObject, defRequests: Obj, defLimits: Obj): void {
  const spec = obj(pod.spec);
  const notes: string[] = [];
  const note = (kind: string, name: string, set: { requests: string[]; limits: string[] }) => {
    if (set.requests.length > 0) notes.push(`${set.requests.sort().join(", ")} request for ${kind} ${name}`);
    if (set.limits.length > 0) notes.push(`${set.limits.sort().join(", ")} limit for ${kind} ${name}`);
  };
  for (const c of arr(spec.containers)) note("container", String(c.name ?? ""), mergeContainer(c, defRequests, defLimits));
  for (const c of arr(spec.initContainers)) note("init container", String(c.name ?? ""), mergeContainer(c, defRequests, defLimits));
  if (notes.length === 0) return;
  pod.metadata ??= {};
  pod.metadata.annotations = { ...(pod.metadata.annotations ?? {}), [LIMIT_RANGER_ANNOTATION]: `LimitRanger plugin set: ${notes.join("; ")}` };
}

const str = (q: Qty) => format(q);

function minConstraint(type: string, r: string, enforced: Qty, req: Map<string, Qty>, lim: Map<string, Qty>): string | undefined {
  const rq = req.get(r);
  const lq = lim.get(r);
  if (!rq) return `minimum ${r} usage per ${type} is ${str(enforced)}.  No request is specified`;
  if (cmp(rq, enforced) < 0) return `minimum ${r} usage per ${type} is ${str(enforced)}, but request is ${str(rq)}`;
  if (lq && cmp(lq, enforced) < 0) return `minimum ${r} usage per ${type} is ${str(enforced)}, but limit is ${str(lq)}`;
  return undefined;
}

function maxConstraint(type: string, r: string, enforced: Qty, req: Map<string, Qty>, lim: Map<string, Qty>): string | undefined {
  const rq = req.get(r);
  const lq = lim.get(r);
  if (!lq) return `maximum ${r} usage per ${type} is ${str(enforced)}.  No limit is specified`;
  if (cmp(lq, enforced) > 0) return `maximum ${r} usage per ${type} is ${str(enforced)}, but limit is ${str(lq)}`;
  if (rq && cmp(rq, enforced) > 0) return `maximum ${r} usage per ${type} is ${str(enforced)}, but request is ${str(rq)}`;
  return undefined;
}

function maxRequestConstraint(type: string, r: string, enforced: Qty, req: Map<string, Qty>): string | undefined {
  const rq = req.get(r);
  if (!rq) return `maximum ${r} usage per ${type} is ${str(enforced)}.  No request is specified`;
  if (cmp(rq, enforced) > 0) return `maximum ${r} usage per ${type} is ${str(enforced)}, but request is ${str(rq)}`;
  return undefined;
}

function ratioConstraint(type: string, r: string, enforced: Qty, req: Map<string, Qty>, lim: Map<string, Qty>): string | undefined {
  const rq = req.get(r);
  const lq = lim.get(r);
  if (!rq || rq.mantissa === 0n) return `${r} max limit to request ratio per ${type} is ${str(enforced)}, but no request is specified or request is 0`;
  if (!lq || lq.mantissa === 0n) return `${r} max limit to request ratio per ${type} is ${str(enforced)}, but no limit is specified or limit is 0`;
  const observed = ratio(lq, rq);
  const max = ratio(enforced, { mantissa: 1n, exp10: 0, format: "DecimalSI" });
  // Go's %f: six decimals.
  if (observed > max) return `${r} max limit to request ratio per ${type} is ${str(enforced)}, but provided ratio is ${observed.toFixed(6)}`;
  return undefined;
}

/** Every min/max/ratio check of one item against one set of requests and limits, in resource-name order. */
function checkItem(item: Obj, type: string, req: Map<string, Qty>, lim: Map<string, Qty>, errs: string[]): void {
  const sorted = (v: unknown) => [...resourceList(v)].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [k, v] of sorted(item.min)) {
    const e = minConstraint(type, k, v, req, lim);
    if (e) errs.push(e);
  }
  for (const [k, v] of sorted(item.max)) {
    const e = maxConstraint(type, k, v, req, lim);
    if (e) errs.push(e);
  }
  for (const [k, v] of sorted(item.maxLimitRequestRatio)) {
    const e = ratioConstraint(type, k, v, req, lim);
    if (e) errs.push(e);
  }
}

/** Upstream's PodValidateLimitFunc: the problems of a pod against one LimitRange. */
export function validatePod(items: readonly Obj[], pod: KObject): string[] {
  const errs: string[] = [];
  const spec = obj(pod.spec);
  for (const item of items) {
    if (item.type === "Container") {
      for (const c of [...arr(spec.containers), ...arr(spec.initContainers)]) {
        const res = obj(c.resources);
        checkItem(item, "Container", resourceList({ ...obj(res.limits), ...obj(res.requests) }), resourceList(res.limits), errs);
      }
    }
    if (item.type === "Pod") checkItem(item, "Pod", podResources(pod as Obj, "requests"), podResources(pod as Obj, "limits"), errs);
  }
  return errs;
}

/** Upstream's PersistentVolumeClaimValidateLimitFunc. */
export function validateClaim(items: readonly Obj[], pvc: KObject): string[] {
  const errs: string[] = [];
  const requests = resourceList(obj(obj(pvc.spec).resources).requests);
  for (const item of items) {
    if (item.type !== "PersistentVolumeClaim") continue;
    for (const [k, v] of resourceList(item.min)) {
      const e = minConstraint("PersistentVolumeClaim", k, v, requests, new Map());
      if (e) errs.push(e);
    }
    for (const [k, v] of resourceList(item.max)) {
      const e = maxRequestConstraint("PersistentVolumeClaim", k, v, requests);
      if (e) errs.push(e);
    }
  }
  return errs;
}

/** apimachinery's NewAggregate wording: one error as itself, several as `[a, b]`. */
function aggregate(errs: readonly string[]): string {
  return errs.length === 1 ? errs[0]! : `[${errs.join(", ")}]`;
}

const isPods = (a: AdmissionAttributes) => a.resource.group === "" && a.resource.plural === "pods";
const isClaims = (a: AdmissionAttributes) => a.resource.group === "" && a.resource.plural === "persistentvolumeclaims";
const isLimitRanges = (a: AdmissionAttributes) => a.resource.group === "" && a.resource.plural === "limitranges";

/** Pods only on create (containers cannot change later), claims on create and update, as upstream's SupportsAttributes. */
function supports(a: AdmissionAttributes): boolean {
  if (a.subresource !== "" || !a.object) return false;
  if (isPods(a)) return a.operation === "CREATE";
  return isClaims(a) && (a.operation === "CREATE" || a.operation === "UPDATE");
}

export interface LimitRangerOptions {
  /** The LimitRanges' cache (a lister). */
  readonly limitRanges: LimitRangeReader;
  /** The store behind it, read when the cache shows a namespace without any (see {@link LiveLookup}). */
  readonly live: LimitRangeReader;
  readonly clock?: Clock;
}

export function limitRanger(opts: LimitRangerOptions): AdmissionPlugin {
  const lookup = new LiveLookup(opts.limitRanges, opts.live, opts.clock ?? systemClock);
  const rangesOf = (ns: string) => lookup.list(ns);
  return {
    name: "LimitRanger",
    async admit(a) {
      if (isLimitRanges(a) && (a.operation === "CREATE" || a.operation === "UPDATE") && a.object) {
        for (const item of arr(obj(a.object.spec).limits)) defaultLimitRangeItem(item);
        return;
      }
      if (!supports(a) || !isPods(a)) return;
      for (const lr of await rangesOf(a.namespace)) {
        const defRequests: Obj = {};
        const defLimits: Obj = {};
        for (const item of itemsOf(lr)) {
          if (item.type !== "Container") continue;
          Object.assign(defRequests, obj(item.defaultRequest));
          Object.assign(defLimits, obj(item.default));
        }
        mergePodDefaults(a.object!, defRequests, defLimits);
      }
    },
    async validate(a) {
      if (!supports(a)) return;
      for (const lr of await rangesOf(a.namespace)) {
        const items = itemsOf(lr);
        const errs = isPods(a) ? validatePod(items, a.object!) : validateClaim(items, a.object!);
        if (errs.length > 0) throw admissionForbidden(a, aggregate(errs));
      }
    },
  };
}

