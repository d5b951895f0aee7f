/**
 * DaemonSet helpers, as upstream's pkg/controller/daemon/util: the
 * tolerations every daemon pod gets, the pod template with its hash and
 * generation labels, the node affinity that pins a pod to its node, and
 * the rolling-update budgets.
 */
import type { DaemonSet } from "kubernetes-types/apps/v1.js";
import type { Affinity, Pod, PodSpec, PodTemplateSpec, Toleration } from "kubernetes-types/core/v1.js";
import { deepEqual } from "../common/equality.js";
import { scaledValueFromIntOrPercent } from "../deployment/fenceposts.js";
import { DAEMON_SET_TEMPLATE_GENERATION_KEY, DEFAULT_DAEMON_SET_UNIQUE_LABEL_KEY, DEPRECATED_TEMPLATE_GENERATION, ROLLING_UPDATE_STRATEGY } from "./kinds.js";

/** Node taints (k8s.io/api/core/v1 well_known_taints.go). */
export const TAINT_NODE_NOT_READY = "node.kubernetes.io/not-ready";
export const TAINT_NODE_UNREACHABLE = "node.kubernetes.io/unreachable";
export const TAINT_NODE_UNSCHEDULABLE = "node.kubernetes.io/unschedulable";
export const TAINT_NODE_MEMORY_PRESSURE = "node.kubernetes.io/memory-pressure";
export const TAINT_NODE_DISK_PRESSURE = "node.kubernetes.io/disk-pressure";
export const TAINT_NODE_NETWORK_UNAVAILABLE = "node.kubernetes.io/network-unavailable";
export const TAINT_NODE_PID_PRESSURE = "node.kubernetes.io/pid-pressure";

/**
 * The template generation of the DaemonSet, from the
 * `deprecated.daemonset.template.generation` annotation
 * (`GetTemplateGeneration`): undefined without it; throws when it is not a
 * number.
 */
export function getTemplateGeneration(ds: DaemonSet): number | undefined {
  const annotation = ds.metadata?.annotations?.[DEPRECATED_TEMPLATE_GENERATION];
  if (annotation === undefined) return undefined;
  if (!/^[+-]?\d+$/.test(annotation)) throw new Error(`strconv.ParseInt: parsing ${JSON.stringify(annotation)}: invalid syntax`);
  return Number(annotation);
}

/** The template generation, or undefined when missing or unparsable (callers fall back on the hash). */
export function templateGenerationOrUndefined(ds: DaemonSet): number | undefined {
  try {
    return getTemplateGeneration(ds);
  } catch {
    return undefined;
  }
}

/** Same key, effect, operator and value (`Toleration.MatchToleration`); tolerations are unique by these. */
function matchToleration(a: Toleration, b: Toleration): boolean {
  return (a.key ?? "") === (b.key ?? "") && (a.effect ?? "") === (b.effect ?? "") && (a.operator ?? "") === (b.operator ?? "") && (a.value ?? "") === (b.value ?? "");
}

/** Adds `toleration`, replacing one that matches it (`AddOrUpdateTolerationInPodSpec`); false when it was there already. */
export function addOrUpdateTolerationInPodSpec(spec: PodSpec, toleration: Toleration): boolean {
  const next: Toleration[] = [];
  let updated = false;
  for (const t of spec.tolerations ?? []) {
    if (matchToleration(toleration, t)) {
      if (deepEqual(toleration, t)) return false;
      next.push({ ...toleration });
      updated = true;
      continue;
    }
    next.push(t);
  }
  if (!updated) next.push({ ...toleration });
  spec.tolerations = next;
  return true;
}

/**
 * The tolerations every daemon pod gets (`AddOrUpdateDaemonPodTolerations`):
 * not-ready and unreachable NoExecute without a time limit, so node
 * problems never evict it; disk, memory and PID pressure and
 * unschedulable NoSchedule; network-unavailable NoSchedule for
 * hostNetwork pods.
 */
export function addOrUpdateDaemonPodTolerations(spec: PodSpec): void {
  addOrUpdateTolerationInPodSpec(spec, { key: TAINT_NODE_NOT_READY, operator: "Exists", effect: "NoExecute" });
  addOrUpdateTolerationInPodSpec(spec, { key: TAINT_NODE_UNREACHABLE, operator: "Exists", effect: "NoExecute" });
  addOrUpdateTolerationInPodSpec(spec, { key: TAINT_NODE_DISK_PRESSURE, operator: "Exists", effect: "NoSchedule" });
  addOrUpdateTolerationInPodSpec(spec, { key: TAINT_NODE_MEMORY_PRESSURE, operator: "Exists", effect: "NoSchedule" });
  addOrUpdateTolerationInPodSpec(spec, { key: TAINT_NODE_PID_PRESSURE, operator: "Exists", effect: "NoSchedule" });
  addOrUpdateTolerationInPodSpec(spec, { key: TAINT_NODE_UNSCHEDULABLE, operator: "Exists", effect: "NoSchedule" });
  if (spec.hostNetwork) addOrUpdateTolerationInPodSpec(spec, { key: TAINT_NODE_NETWORK_UNAVAILABLE, operator: "Exists", effect: "NoSchedule" });
}

/**
 * A copy of `template` with the daemon tolerations and the
 * `pod-template-generation` and `controller-revision-hash` labels (`CreatePodTemplate`).
 */
export function createPodTemplate(template: PodTemplateSpec | undefined, generation: number | undefined, hash: string): PodTemplateSpec {
  const t = structuredClone(template ?? {});
  const spec = (t.spec ??= { containers: [] });
  addOrUpdateDaemonPodTolerations(spec);
  const meta = (t.metadata ??= {});
  const labels = { ...(meta.labels ?? {}) };
  if (generation !== undefined) labels[DAEMON_SET_TEMPLATE_GENERATION_KEY] = String(generation);
  if (hash) labels[DEFAULT_DAEMON_SET_UNIQUE_LABEL_KEY] = hash;
  meta.labels = labels;
  return t;
}

/** The surge allowed out of `numberToSchedule`; 0 unless RollingUpdate with maxSurge (`SurgeCount`). Throws on a bad percentage. */
export function surgeCount(ds: DaemonSet, numberToSchedule: number): number {
  const s = ds.spec?.updateStrategy;
  if (s?.type !== ROLLING_UPDATE_STRATEGY || !s.rollingUpdate) return 0;
  if (s.rollingUpdate.maxSurge === undefined || s.rollingUpdate.maxSurge === null) return 0;
  return scaledValueFromIntOrPercent(s.rollingUpdate.maxSurge, numberToSchedule, true);
}

/** The unavailability allowed out of `numberToSchedule`; 0 unless RollingUpdate (`UnavailableCount`). Throws on a bad or missing value. */
export function unavailableCount(ds: DaemonSet, numberToSchedule: number): number {
  const s = ds.spec?.updateStrategy;
  if (s?.type !== ROLLING_UPDATE_STRATEGY || !s.rollingUpdate) return 0;
  return scaledValueFromIntOrPercent(s.rollingUpdate.maxUnavailable, numberToSchedule, true);
}

/** Whether a node may run more than one daemon pod during an update (`AllowsSurge`). */
export function allowsSurge(ds: DaemonSet): boolean {
  try {
    return surgeCount(ds, 1) > 0;
  } catch {
    return false;
  }
}

/** Whether the pod's hash label (or, for old pods, its generation label) is the current one (`IsPodUpdated`). */
export function isPodUpdated(pod: Pod, hash: string, dsTemplateGeneration: number | undefined): boolean {
  const labels = pod.metadata?.labels ?? {};
  const templateMatches = dsTemplateGeneration !== undefined && labels[DAEMON_SET_TEMPLATE_GENERATION_KEY] === String(dsTemplateGeneration);
  const hashMatches = hash.length > 0 && labels[DEFAULT_DAEMON_SET_UNIQUE_LABEL_KEY] === hash;
  return hashMatches || templateMatches;
}

/**
 * `affinity` with its required node affinity replaced by one term
 * selecting `metadata.name` in [nodeName] (`ReplaceDaemonSetPodNodeNameNodeAffinity`):
 * the scheduler binds the pod to that node.
 */
export function replaceDaemonSetPodNodeNameNodeAffinity(affinity: Affinity | undefined, nodeName: string): Affinity {
  const terms = [{ matchFields: [{ key: "metadata.name", operator: "In", values: [nodeName] }] }];
  if (!affinity) return { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: terms } } };
  if (!affinity.nodeAffinity) return { ...affinity, nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: terms } } };
  const na = affinity.nodeAffinity;
  return { ...affinity, nodeAffinity: { ...na, requiredDuringSchedulingIgnoredDuringExecution: { ...na.requiredDuringSchedulingIgnoredDuringExecution, nodeSelectorTerms: terms } } };
}

/**
 * The node a daemon pod is for (`GetTargetNodeName`): spec.nodeName once
 * scheduled, else the single `metadata.name In` value of its required
 * node affinity. Throws, with upstream's messages, when there is none.
 */
export function getTargetNodeName(pod: Pod): string {
  if (pod.spec?.nodeName) return pod.spec.nodeName;
  const ns = pod.metadata?.namespace ?? "";
  const name = pod.metadata?.name ?? "";
  const required = pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
  if (!required) throw new Error(`no spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution for pod ${ns}/${name}`);
  const terms = required.nodeSelectorTerms ?? [];
  if (terms.length < 1) throw new Error(`no nodeSelectorTerms in requiredDuringSchedulingIgnoredDuringExecution of pod ${ns}/${name}`);
  for (const term of terms) {
    for (const exp of term.matchFields ?? []) {
      if (exp.key === "metadata.name" && exp.operator === "In") {
        if ((exp.values ?? []).length !== 1) throw new Error(`the matchFields value of 'metadata.name' is not unique for pod ${ns}/${name}`);
        return exp.values![0]!;
      }
    }
  }
  throw new Error(`no node name found for pod ${ns}/${name}`);
}
