/**
 * Per-resource strategies: upstream's defaulting (pkg/apis/GROUP/v1/defaults.go)
 * and the switches that differ between kinds. Validation beyond metadata
 * grows here kind by kind.
 */
import { isDeepStrictEqual } from "node:util";
import type { ResourceType } from "../../api/resources.js";
import { duplicate, goString } from "../../machinery/field-errors.js";
import type { FieldError } from "../../machinery/status-error.js";
import { defaultPriorityClassFields, validatePriorityClass, validatePriorityClassUpdate } from "../admission/priority.js";
import { cronJobStrategy, jobStrategy } from "./batch-strategy.js";
import { horizontalPodAutoscalerStrategy } from "./hpa-strategy.js";
import type { KObject, Strategy } from "./types.js";

type Obj = Record<string, unknown>;

/** The annotation apps/v1 DaemonSets carry their template generation in. */
const DEPRECATED_TEMPLATE_GENERATION = "deprecated.daemonset.template.generation";

const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);

/** imagePullPolicy default: Always for `:latest` or no tag, else IfNotPresent (by digest too). */
export function defaultPullPolicy(image: string | undefined): string {
  if (!image) return "IfNotPresent";
  if (image.includes("@")) return "IfNotPresent";
  const lastSlash = image.lastIndexOf("/");
  const colon = image.indexOf(":", lastSlash + 1);
  const tag = colon >= 0 ? image.slice(colon + 1) : "";
  return tag === "" || tag === "latest" ? "Always" : "IfNotPresent";
}

function defaultContainer(c: Obj): void {
  c.imagePullPolicy ??= defaultPullPolicy(c.image as string | undefined);
  c.terminationMessagePath ??= "/dev/termination-log";
  c.terminationMessagePolicy ??= "File";
  c.resources ??= {};
  for (const p of (c.ports as Obj[] | undefined) ?? []) p.protocol ??= "TCP";
  for (const probe of ["livenessProbe", "readinessProbe", "startupProbe"]) {
    const pr = c[probe];
    if (!isObj(pr)) continue;
    pr.timeoutSeconds ??= 1;
    pr.periodSeconds ??= 10;
    pr.successThreshold ??= 1;
    pr.failureThreshold ??= 3;
    if (isObj(pr.httpGet)) pr.httpGet.scheme ??= "HTTP";
  }
}

/** Upstream's SetDefaults_PodSpec and friends. */
export function defaultPodSpec(spec: Obj): void {
  spec.restartPolicy ??= "Always";
  spec.dnsPolicy ??= "ClusterFirst";
  spec.terminationGracePeriodSeconds ??= 30;
  spec.schedulerName ??= "default-scheduler";
  spec.securityContext ??= {};
  spec.enableServiceLinks ??= true;
  for (const key of ["containers", "initContainers"]) for (const c of (spec[key] as Obj[] | undefined) ?? []) defaultContainer(c);
  for (const v of (spec.volumes as Obj[] | undefined) ?? []) {
    for (const kind of ["secret", "configMap", "projected", "downwardAPI"]) {
      if (isObj(v[kind])) (v[kind] as Obj).defaultMode ??= 420;
    }
    if (isObj(v.hostPath)) (v.hostPath as Obj).type ??= "";
  }
}

function podTemplateOf(o: KObject): Obj | undefined {
  const spec = o.spec;
  if (!isObj(spec)) return undefined;
  const tpl = spec.template;
  if (isObj(tpl) && isObj(tpl.spec)) return tpl.spec;
  return undefined;
}

function requireContainers(spec: Obj | undefined, path: string): FieldError[] {
  const errs: FieldError[] = [];
  const containers = spec?.containers;
  if (!Array.isArray(containers) || containers.length === 0) {
    errs.push({ type: "FieldValueRequired", field: `${path}.containers`, detail: "Required value" });
    return errs;
  }
  const seen = new Set<string>();
  containers.forEach((c: Obj, i: number) => {
    const f = `${path}.containers[${i}]`;
    if (!c?.name) errs.push({ type: "FieldValueRequired", field: `${f}.name`, detail: "Required value" });
    else if (seen.has(c.name as string)) errs.push(duplicate(`${f}.name`, goString(c.name as string)));
    else seen.add(c.name as string);
    if (!c?.image) errs.push({ type: "FieldValueRequired", field: `${f}.image`, detail: "Required value" });
  });
  return errs;
}

const workload = (defaults: (o: KObject) => void, selectorRequired = true): Strategy => ({
  tracksGeneration: true,
  prepareForCreate(o) {
    delete o.status;
  },
  defaults(o) {
    const tpl = podTemplateOf(o);
    if (tpl) defaultPodSpec(tpl);
    defaults(o);
  },
  validateCreate(o) {
    const errs = requireContainers(podTemplateOf(o), "spec.template.spec");
    const spec = o.spec as Obj | undefined;
    if (selectorRequired && !isObj(spec?.selector)) errs.push({ type: "FieldValueRequired", field: "spec.selector", detail: "Required value" });
    return errs;
  },
  validateUpdate(o, old) {
    const errs = requireContainers(podTemplateOf(o), "spec.template.spec");
    const sel = (o.spec as Obj | undefined)?.selector;
    const oldSel = (old.spec as Obj | undefined)?.selector;
    if (selectorRequired && JSON.stringify(sel) !== JSON.stringify(oldSel)) {
      errs.push({ type: "FieldValueInvalid", field: "spec.selector", detail: "field is immutable", value: sel });
    }
    return errs;
  },
});

const STRATEGIES: Record<string, Strategy> = {
  "/namespaces": {
    defaults(o) {
      o.metadata!.labels = { ...(o.metadata!.labels ?? {}), "kubernetes.io/metadata.name": o.metadata!.name! };
      const spec = (o.spec ??= {}) as Obj;
      spec.finalizers ??= ["kubernetes"];
      const status = (o.status ??= {}) as Obj;
      status.phase ??= "Active";
    },
    blocksDeletion(o) {
      return (((o.spec as Obj | undefined)?.finalizers as unknown[] | undefined) ?? []).length > 0;
    },
    prepareForDeletion(o) {
      o.status = { ...((o.status as Obj | undefined) ?? {}), phase: "Terminating" };
    },
  },
  "/pods": {
    returnDeletedObject: true,
    prepareForCreate(o) {
      o.status = { phase: "Pending", qosClass: qosClass(o.spec as Obj | undefined) };
    },
    defaults(o) {
      const spec = (o.spec ??= {}) as Obj;
      defaultPodSpec(spec);
      spec.priority ??= 0;
    },
    validateCreate(o) {
      return requireContainers(o.spec as Obj | undefined, "spec");
    },
    gracePeriod(o, requested) {
      const spec = o.spec as Obj | undefined;
      // Unscheduled pods have no kubelet to stop them, and finished ones nothing left to stop: they go at once, as upstream.
      if (!spec?.nodeName) return 0;
      const phase = (o.status as Obj | undefined)?.phase;
      if (phase === "Succeeded" || phase === "Failed") return 0;
      return requested ?? (spec.terminationGracePeriodSeconds as number | undefined) ?? 30;
    },
  },
  "/services": {
    returnDeletedObject: true,
    defaults(o) {
      const spec = (o.spec ??= {}) as Obj;
      spec.type ??= "ClusterIP";
      spec.sessionAffinity ??= "None";
      if (spec.type !== "ExternalName") {
        spec.internalTrafficPolicy ??= "Cluster";
        spec.ipFamilyPolicy ??= "SingleStack";
        spec.ipFamilies ??= ["IPv4"];
      }
      for (const p of (spec.ports as Obj[] | undefined) ?? []) {
        p.protocol ??= "TCP";
        p.targetPort ??= p.port;
      }
    },
  },
  "/secrets": {
    defaults(o) {
      o.type ??= "Opaque";
      mergeStringData(o);
    },
    validateCreate: validateData,
    validateUpdate: (o) => validateData(o),
  },
  "/configmaps": { validateCreate: validateData, validateUpdate: (o) => validateData(o) },
  "scheduling.k8s.io/priorityclasses": {
    defaults: (o) => defaultPriorityClassFields(o),
    validateCreate: (o) => validatePriorityClass(o),
    validateUpdate: (o, old) => validatePriorityClassUpdate(o, old),
  },
  "autoscaling/horizontalpodautoscalers": horizontalPodAutoscalerStrategy,
  "/endpoints": { allowCreateOnUpdate: true },
  "/events": { allowCreateOnUpdate: true, ttlSeconds: 3600 },
  "events.k8s.io/events": { allowCreateOnUpdate: true, ttlSeconds: 3600 },
  "/limitranges": { allowCreateOnUpdate: true },
  "coordination.k8s.io/leases": { allowCreateOnUpdate: true },
  "discovery.k8s.io/endpointslices": { allowCreateOnUpdate: true },
  "apps/deployments": workload((o) => {
    const spec = o.spec as Obj;
    spec.replicas ??= 1;
    spec.revisionHistoryLimit ??= 10;
    spec.progressDeadlineSeconds ??= 600;
    const strategy = (spec.strategy ??= {}) as Obj;
    strategy.type ??= "RollingUpdate";
    if (strategy.type === "RollingUpdate") {
      const ru = (strategy.rollingUpdate ??= {}) as Obj;
      ru.maxUnavailable ??= "25%";
      ru.maxSurge ??= "25%";
    }
  }),
  "apps/replicasets": workload((o) => {
    (o.spec as Obj).replicas ??= 1;
  }),
  "/replicationcontrollers": workload((o) => {
    (o.spec as Obj).replicas ??= 1;
  }, false),
  "apps/statefulsets": {
    // Upstream's SetDefaults_StatefulSet: rollingUpdate is made only when the type was defaulted; partition only
    // defaults inside an existing rollingUpdate (maxUnavailable stays unset: its feature gate is off by default).
    ...workload((o) => {
      const spec = o.spec as Obj;
      spec.podManagementPolicy ||= "OrderedReady";
      const us = (spec.updateStrategy ??= {}) as Obj;
      if (!us.type) {
        us.type = "RollingUpdate";
        us.rollingUpdate ??= {};
      }
      if (us.type === "RollingUpdate" && isObj(us.rollingUpdate)) us.rollingUpdate.partition ??= 0;
      const retention = (spec.persistentVolumeClaimRetentionPolicy ??= {}) as Obj;
      retention.whenDeleted ||= "Retain";
      retention.whenScaled ||= "Retain";
      spec.replicas ??= 1;
      spec.revisionHistoryLimit ??= 10;
    }),
    validateUpdate(o, old) {
      const errs = requireContainers(podTemplateOf(o), "spec.template.spec");
      // Upstream's ValidateStatefulSetUpdate: only these spec fields may change.
      const rest = (spec: unknown) => {
        const { replicas: _r, ordinals: _o, template: _t, updateStrategy: _u, minReadySeconds: _m, revisionHistoryLimit: _h, persistentVolumeClaimRetentionPolicy: _p, ...others } =
          (spec ?? {}) as Obj;
        return others;
      };
      if (!isDeepStrictEqual(rest(o.spec), rest(old.spec))) {
        errs.push({
          type: "FieldValueForbidden",
          field: "spec",
          detail:
            "Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
        });
      }
      return errs;
    },
  },
  "apps/daemonsets": {
    ...workload((o) => {
      const spec = o.spec as Obj;
      spec.revisionHistoryLimit ??= 10;
      const us = (spec.updateStrategy ??= {}) as Obj;
      us.type ??= "RollingUpdate";
      if (us.type === "RollingUpdate") {
        const ru = (us.rollingUpdate ??= {}) as Obj;
        ru.maxUnavailable ??= 1;
        ru.maxSurge ??= 0;
      }
    }),
    // spec.templateGeneration of the internal API, served in apps/v1 as the
    // deprecated.daemonset.template.generation annotation: 1 (or more, if given) on create, then owned by the
    // server, raised by one with every template change (upstream's daemonSetStrategy and v1 conversion).
    prepareForCreate(o) {
      delete o.status;
      const meta = o.metadata!;
      const given = Number(meta.annotations?.[DEPRECATED_TEMPLATE_GENERATION]);
      meta.annotations = { ...meta.annotations, [DEPRECATED_TEMPLATE_GENERATION]: String(Number.isSafeInteger(given) && given >= 1 ? given : 1) };
    },
    async beforeUpdate(o, old) {
      const previous = Number(old.metadata?.annotations?.[DEPRECATED_TEMPLATE_GENERATION]);
      const base = Number.isSafeInteger(previous) ? previous : 0;
      const changed = !isDeepStrictEqual((o.spec as Obj | undefined)?.template, (old.spec as Obj | undefined)?.template);
      o.metadata!.annotations = { ...o.metadata!.annotations, [DEPRECATED_TEMPLATE_GENERATION]: String(changed ? base + 1 : base) };
      return undefined;
    },
  },
  "batch/jobs": jobStrategy({ defaultPodSpec, validateContainers: requireContainers }),
  "batch/cronjobs": cronJobStrategy({ defaultPodSpec, validateContainers: requireContainers }),
};

/**
 * A Secret's write-only `stringData`, merged into `data` (base64) and
 * dropped, as upstream's v1 conversion does before anything is stored: a
 * key in both takes the stringData value. Shapes that are not a map of
 * strings are left as they are, for validation to reject.
 */
function mergeStringData(o: KObject): void {
  const s = o.stringData;
  if (s === undefined || s === null) {
    delete o.stringData;
    return;
  }
  if (!isObj(s) || !Object.values(s).every((v) => typeof v === "string")) return;
  const data: Obj = isObj(o.data) ? { ...o.data } : {};
  for (const [k, v] of Object.entries(s)) data[k] = Buffer.from(v as string, "utf8").toString("base64");
  o.data = data;
  delete o.stringData;
}

function validateData(o: KObject): FieldError[] {
  const errs: FieldError[] = [];
  const keyRe = /^[-._a-zA-Z0-9]+$/;
  for (const field of ["data", "binaryData", "stringData"]) {
    const m = o[field];
    if (m === undefined || m === null) continue;
    if (!isObj(m)) {
      errs.push({ type: "FieldValueTypeInvalid", field, detail: "must be a map of strings", value: m });
      continue;
    }
    for (const k of Object.keys(m)) {
      if (!keyRe.test(k) || k.length > 253) {
        errs.push({
          type: "FieldValueInvalid",
          field: `${field}[${k}]`,
          detail: "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
          value: k,
        });
      }
    }
  }
  return errs;
}

/** Upstream's QoS class: Guaranteed, Burstable or BestEffort. */
export function qosClass(spec: Obj | undefined): string {
  const containers = [...((spec?.containers as Obj[]) ?? []), ...((spec?.initContainers as Obj[]) ?? [])];
  let anyRequest = false;
  let guaranteed = containers.length > 0;
  for (const c of containers) {
    const res = (c.resources ?? {}) as { requests?: Obj; limits?: Obj };
    const req = res.requests ?? {};
    const lim = res.limits ?? {};
    if (Object.keys(req).length || Object.keys(lim).length) anyRequest = true;
    for (const r of ["cpu", "memory"]) {
      const l = lim[r];
      const q = req[r] ?? l;
      if (l === undefined || q === undefined || String(q) !== String(l)) guaranteed = false;
    }
  }
  if (!anyRequest) return "BestEffort";
  return guaranteed ? "Guaranteed" : "Burstable";
}

/** The strategy of a resource (empty defaults when it has none). */
export function strategyFor(r: ResourceType): Strategy {
  return STRATEGIES[`${r.group}/${r.plural}`] ?? {};
}
