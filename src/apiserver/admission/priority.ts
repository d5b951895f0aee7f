/**
 * Priority, as upstream's plugin/pkg/admission/priority: a new pod's
 * `spec.priorityClassName` is resolved to the class's value (`spec.priority`)
 * and preemption policy; a pod naming no class gets the globalDefault class,
 * else priority 0. PriorityClasses are validated on create and update (the
 * registry's ValidatePriorityClass rules, which skiff has no strategy for
 * yet, plus upstream's one-globalDefault rule).
 *
 * Since Kubernetes 1.17 the system classes are no longer limited to
 * kube-system here (a ResourceQuota `limitedResources` entry does that, if
 * an operator wants it), so any namespace may name them, as upstream.
 */
import { type FieldError, forbidden, invalid, isNotFound, type StatusError } from "../../machinery/status-error.js";
import type { ObjectStore } from "../registry/object-store.js";
import type { KObject } from "../registry/types.js";
import { forbidden as forbiddenField, goStringPtr, notSupported, required } from "../../machinery/field-errors.js";
import type { AdmissionAttributes, AdmissionPlugin } from "./admission.js";

/** Priority of pods naming no class when no class is globalDefault. */
export const DEFAULT_PRIORITY_WHEN_NO_DEFAULT_CLASS_EXISTS = 0;
/** Values above this are reserved for the system classes. */
export const HIGHEST_USER_DEFINABLE_PRIORITY = 1_000_000_000;
/** Start of the system-critical range. */
export const SYSTEM_CRITICAL_PRIORITY = 2 * HIGHEST_USER_DEFINABLE_PRIORITY;
export const SYSTEM_PRIORITY_CLASS_PREFIX = "system-";
export const SYSTEM_CLUSTER_CRITICAL = "system-cluster-critical";
export const SYSTEM_NODE_CRITICAL = "system-node-critical";
export const PREEMPT_LOWER_PRIORITY = "PreemptLowerPriority";
export const PREEMPT_NEVER = "Never";

/** The classes every cluster has, as upstream's pkg/apis/scheduling/v1 SystemPriorityClasses. */
export const SYSTEM_PRIORITY_CLASSES: readonly { readonly name: string; readonly value: number; readonly globalDefault: boolean; readonly description: string }[] = [
  {
    name: SYSTEM_NODE_CRITICAL,
    value: SYSTEM_CRITICAL_PRIORITY + 1000,
    globalDefault: false,
    description: "Used for system critical pods that must not be moved from their current node.",
  },
  {
    name: SYSTEM_CLUSTER_CRITICAL,
    value: SYSTEM_CRITICAL_PRIORITY,
    globalDefault: false,
    description: "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary.",
  },
];

/** What the plugin reads PriorityClasses through: an ObjectStore, or a cache with the same two reads. */
export type PriorityClassReader = { get: ObjectStore["get"]; list(ns?: string): ReturnType<ObjectStore["list"]> };

export interface PriorityOptions {
  readonly priorityClasses: PriorityClassReader;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);

const isPods = (a: AdmissionAttributes) => a.resource.group === "" && a.resource.plural === "pods";
const isPriorityClasses = (a: AdmissionAttributes) => a.resource.group === "scheduling.k8s.io" && a.resource.plural === "priorityclasses";

/** Upstream's admission.NewForbidden: `<resource> "<name>" is forbidden: <why>`. */
export function admissionForbidden(a: AdmissionAttributes, why: string): StatusError {
  const gr = a.resource.group ? `${a.resource.plural}.${a.resource.group}` : a.resource.plural;
  const name = a.name || a.object?.metadata?.name || "";
  return forbidden(`${gr} "${name}" is forbidden: ${why}`, { name, group: a.resource.group, kind: a.resource.plural });
}

const classValue = (pc: KObject): number => (typeof pc.value === "number" ? pc.value : 0);
/** A stored class lacking preemptionPolicy reads as upstream's defaulted one. */
const policyOf = (pc: KObject): string => (typeof pc.preemptionPolicy === "string" && pc.preemptionPolicy !== "" ? pc.preemptionPolicy : PREEMPT_LOWER_PRIORITY);

/**
 * The globalDefault class; if a race left several, the one with the lowest
 * value, as upstream's getDefaultPriorityClass.
 */
export async function getDefaultPriorityClass(reader: PriorityClassReader): Promise<KObject | undefined> {
  const list = await reader.list(undefined);
  let best: KObject | undefined;
  for (const pc of list.items) {
    if (pc.globalDefault !== true) continue;
    if (!best || classValue(best) > classValue(pc)) best = pc;
  }
  return best;
}

/** PriorityClass defaulting (SetDefaults_PriorityClass): preemptionPolicy PreemptLowerPriority. */
export function defaultPriorityClassFields(pc: KObject): void {
  if (pc.preemptionPolicy === undefined || pc.preemptionPolicy === null) pc.preemptionPolicy = PREEMPT_LOWER_PRIORITY;
}

function validatePreemptionPolicy(policy: unknown, field: string): FieldError[] {
  if (policy === PREEMPT_LOWER_PRIORITY || policy === PREEMPT_NEVER) return [];
  if (policy === "") return [required(field)];
  return [notSupported(field, goStringPtr(String(policy)), [PREEMPT_LOWER_PRIORITY, PREEMPT_NEVER])];
}

/** Upstream's ValidatePriorityClass, beyond ObjectMeta (which the registry checks). */
export function validatePriorityClass(pc: KObject): FieldError[] {
  const errs: FieldError[] = [];
  const name = pc.metadata?.name ?? "";
  const value = classValue(pc);
  if (name.startsWith(SYSTEM_PRIORITY_CLASS_PREFIX)) {
    const why = knownSystemPriorityClassError(name, value, pc.globalDefault === true);
    if (why) {
      errs.push(forbiddenField("metadata.name", `priority class names with '${SYSTEM_PRIORITY_CLASS_PREFIX}' prefix are reserved for system use only. error: ${why}`));
    }
  } else if (value > HIGHEST_USER_DEFINABLE_PRIORITY) {
    errs.push(forbiddenField("value", `maximum allowed value of a user defined priority is ${HIGHEST_USER_DEFINABLE_PRIORITY}`));
  }
  if (pc.preemptionPolicy !== undefined && pc.preemptionPolicy !== null) errs.push(...validatePreemptionPolicy(pc.preemptionPolicy, "preemptionPolicy"));
  return errs;
}

/** Upstream's ValidatePriorityClassUpdate: value and preemptionPolicy are immutable. */
export function validatePriorityClassUpdate(pc: KObject, old: KObject): FieldError[] {
  const errs: FieldError[] = [];
  if (classValue(pc) !== classValue(old)) errs.push(forbiddenField("value", "may not be changed in an update."));
  // Both as decoding would default them upstream.
  const np = pc.preemptionPolicy ?? PREEMPT_LOWER_PRIORITY;
  const op = old.preemptionPolicy ?? PREEMPT_LOWER_PRIORITY;
  if (np !== op) {
    errs.push({ type: "FieldValueInvalid", field: "preemptionPolicy", detail: `Invalid value: ${goStringPtr(String(np)).go}: field is immutable` });
  }
  return errs;
}

/** Upstream's IsKnownSystemPriorityClass: the reason a `system-` class is not one, or undefined. */
function knownSystemPriorityClassError(name: string, value: number, globalDefault: boolean): string | undefined {
  const spc = SYSTEM_PRIORITY_CLASSES.find((s) => s.name === name);
  if (!spc) return `${name} is not a known system priority class`;
  if (spc.value !== value) return `value of ${spc.name} PriorityClass must be ${spc.value}`;
  if (spc.globalDefault !== globalDefault) return `globalDefault of ${spc.name} PriorityClass must be ${spc.globalDefault}`;
  return undefined;
}

export function priority(opts: PriorityOptions): AdmissionPlugin {
  const reader = opts.priorityClasses;

  async function resolve(a: AdmissionAttributes, className: string): Promise<{ name: string; value: number; policy: string }> {
    if (!className) {
      const dpc = await getDefaultPriorityClass(reader);
      if (dpc) return { name: dpc.metadata?.name ?? "", value: classValue(dpc), policy: policyOf(dpc) };
      return { name: "", value: DEFAULT_PRIORITY_WHEN_NO_DEFAULT_CLASS_EXISTS, policy: PREEMPT_LOWER_PRIORITY };
    }
    let pc: KObject;
    try {
      pc = await reader.get(undefined, className);
    } catch (err) {
      if (isNotFound(err)) throw admissionForbidden(a, `no PriorityClass with name ${className} was found`);
      throw err;
    }
    return { name: className, value: classValue(pc), policy: policyOf(pc) };
  }

  async function admitPod(a: AdmissionAttributes): Promise<void> {
    const pod = a.object;
    if (!pod) return;
    const spec = (isObj(pod.spec) ? pod.spec : (pod.spec = {})) as Obj;
    if (a.operation === "UPDATE") {
      // Priority was set at create; a PUT that omits it keeps it (validation forbids changing it).
      const old = (isObj(a.oldObject?.spec) ? a.oldObject.spec : {}) as Obj;
      if ((spec.priority === undefined || spec.priority === null) && typeof old.priority === "number") spec.priority = old.priority;
      if ((spec.preemptionPolicy === undefined || spec.preemptionPolicy === null) && typeof old.preemptionPolicy === "string") {
        spec.preemptionPolicy = old.preemptionPolicy;
      }
      return;
    }
    const className = typeof spec.priorityClassName === "string" ? spec.priorityClassName : "";
    const r = await resolve(a, className);
    if (r.name) spec.priorityClassName = r.name;
    if (spec.priority !== undefined && spec.priority !== null && spec.priority !== r.value) {
      throw admissionForbidden(
        a,
        `the integer value of priority (${String(spec.priority)}) must not be provided in pod spec; priority admission controller computed ${r.value} from the given PriorityClass name`,
      );
    }
    spec.priority = r.value;
    if (spec.preemptionPolicy !== undefined && spec.preemptionPolicy !== null && spec.preemptionPolicy !== r.policy) {
      throw admissionForbidden(
        a,
        `the string value of PreemptionPolicy (${String(spec.preemptionPolicy)}) must not be provided in pod spec; priority admission controller computed ${r.policy} from the given PriorityClass name`,
      );
    }
    spec.preemptionPolicy = r.policy;
  }

  async function validateClass(a: AdmissionAttributes): Promise<void> {
    const pc = a.object;
    if (!pc) return;
    const name = pc.metadata?.name ?? a.name;
    // Registry validation runs before validating admission upstream, so its 422 wins over the 403 below.
    const errs = a.operation === "UPDATE" && a.oldObject ? [...validatePriorityClass(pc), ...validatePriorityClassUpdate(pc, a.oldObject)] : validatePriorityClass(pc);
    if (errs.length > 0) throw invalid("PriorityClass", "scheduling.k8s.io", name, errs);
    if (pc.globalDefault !== true) return;
    const dpc = await getDefaultPriorityClass(reader);
    if (!dpc) return;
    const dname = dpc.metadata?.name ?? "";
    if (a.operation === "CREATE" || (a.operation === "UPDATE" && dname !== name)) {
      throw admissionForbidden(a, `PriorityClass ${dname} is already marked as default. Only one default can exist`);
    }
  }

  return {
    name: "Priority",
    async admit(a) {
      if (a.subresource !== "") return;
      if (isPods(a) && (a.operation === "CREATE" || a.operation === "UPDATE")) return admitPod(a);
      // Upstream defaults this at decode; skiff has no PriorityClass strategy, so it is done here.
      if (isPriorityClasses(a) && (a.operation === "CREATE" || a.operation === "UPDATE") && a.object) defaultPriorityClassFields(a.object);
    },
    async validate(a) {
      if (a.subresource !== "") return;
      if (isPriorityClasses(a) && (a.operation === "CREATE" || a.operation === "UPDATE")) return validateClass(a);
    },
  };
}
