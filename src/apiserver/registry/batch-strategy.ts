/**
 * The batch/v1 strategies, as upstream's pkg/registry/batch/{job,cronjob}
 * with pkg/apis/batch/v1/defaults.go and pkg/apis/batch/validation:
 *
 * - Jobs are defaulted (completions and parallelism 1 only when both are
 *   unset, backoffLimit 6, or MaxInt32 with backoffLimitPerIndex,
 *   completionMode, suspend, podReplacementPolicy, manualSelector false,
 *   metadata.labels from the template's); unless `manualSelector`, the
 *   server generates the selector on create: the template gets
 *   `controller-uid`, `job-name` and their `batch.kubernetes.io/` twins,
 *   the selector matches `batch.kubernetes.io/controller-uid`.
 * - Job specs are validated (restartPolicy OnFailure or Never, counts not
 *   negative, Indexed-only fields, the pod failure policy, the selector
 *   matching the template) and the fields upstream freezes stay frozen.
 * - CronJobs are defaulted and validated (schedule, timeZone,
 *   concurrencyPolicy, name short enough for its Jobs' names).
 */
import { isDeepStrictEqual } from "node:util";
import { parseStandard, isKnownTimeZone, unknownTimeZoneMessage } from "../../controllers/cronjob/schedule.js";
import { forbidden, type GoValue, goNumber, goString, invalidValue, notSupported, required } from "../../machinery/field-errors.js";
import { selectorFromObject } from "../../machinery/labels.js";
import { type FieldError, invalid } from "../../machinery/status-error.js";
import type { KObject, Strategy } from "./types.js";

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);
const isSet = (v: unknown) => v !== undefined && v !== null;

/** What the batch strategies borrow from the generic ones. */
export interface BatchStrategyHelpers {
  /** Upstream's SetDefaults_PodSpec. */
  defaultPodSpec(spec: Obj): void;
  /** Field errors of a pod spec's containers, under `path`. */
  validateContainers(spec: Obj | undefined, path: string): FieldError[];
}

const LEGACY_JOB_NAME_LABEL = "job-name";
const JOB_NAME_LABEL = "batch.kubernetes.io/job-name";
const LEGACY_CONTROLLER_UID_LABEL = "controller-uid";
const CONTROLLER_UID_LABEL = "batch.kubernetes.io/controller-uid";
const MAX_INT32 = 2 ** 31 - 1;
/** Upstream's maxParallelismForIndexedJob and maxCompletionsForIndexedJob (without maxFailedIndexes). */
const MAX_INDEXED = 100_000;

function templateOf(spec: Obj | undefined): Obj | undefined {
  return isObj(spec?.template) ? spec.template : undefined;
}

function podSpecOf(spec: Obj | undefined): Obj | undefined {
  const tpl = templateOf(spec);
  return isObj(tpl?.spec) ? tpl.spec : undefined;
}

/** Go's `%#v` of a map[string]string: keys sorted. */
function goMap(m: unknown): GoValue {
  if (!isObj(m)) return { go: "map[string]string(nil)" };
  const keys = Object.keys(m).sort();
  return { go: `map[string]string{${keys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(String(m[k]))}`).join(", ")}}` };
}

// ---- Job defaults ----

/** Upstream's SetDefaults_Job (the JobSpec part); `meta` gets the template's labels when it has none. */
function defaultJob(o: KObject): void {
  const spec = (o.spec ??= {}) as Obj;
  if (!isSet(spec.completions) && !isSet(spec.parallelism)) {
    spec.completions = 1;
    spec.parallelism = 1;
  }
  spec.parallelism ??= 1;
  spec.backoffLimit ??= isSet(spec.backoffLimitPerIndex) ? MAX_INT32 : 6;
  // Go shares the map: generated selector labels added to the template later show on the Job too.
  const tplMeta = templateOf(spec)?.metadata;
  const tplLabels = isObj(tplMeta) ? tplMeta.labels : undefined;
  const meta = o.metadata!;
  if (isObj(tplLabels) && Object.keys(meta.labels ?? {}).length === 0) meta.labels = tplLabels as Record<string, string>;
  spec.completionMode ??= "NonIndexed";
  spec.suspend ??= false;
  const pfp = spec.podFailurePolicy;
  if (isObj(pfp) && Array.isArray(pfp.rules)) {
    for (const rule of pfp.rules as Obj[]) {
      for (const pattern of Array.isArray(rule?.onPodConditions) ? (rule.onPodConditions as Obj[]) : []) if (isObj(pattern) && !pattern.status) pattern.status = "True";
    }
  }
  spec.podReplacementPolicy ??= isSet(spec.podFailurePolicy) ? "Failed" : "TerminatingOrFailed";
  spec.manualSelector ??= false;
}

/**
 * Upstream's `generateSelector`: the identifying labels on the template
 * (kept if the user set them: validation then decides) and a selector on
 * the controller uid.
 */
function generateSelector(o: KObject): void {
  const spec = o.spec as Obj;
  const tpl = (spec.template ??= {}) as Obj;
  const meta = (tpl.metadata ??= {}) as Obj;
  const labels = (meta.labels ??= {}) as Record<string, string>;
  const name = o.metadata?.name ?? "";
  const uid = o.metadata?.uid ?? "";
  for (const key of [LEGACY_JOB_NAME_LABEL, JOB_NAME_LABEL]) if (!(key in labels)) labels[key] = name;
  for (const key of [LEGACY_CONTROLLER_UID_LABEL, CONTROLLER_UID_LABEL]) if (!(key in labels)) labels[key] = uid;
  const selector = (spec.selector ??= {}) as Obj;
  const matchLabels = (selector.matchLabels ??= {}) as Record<string, string>;
  if (!(CONTROLLER_UID_LABEL in matchLabels)) matchLabels[CONTROLLER_UID_LABEL] = uid;
}

// ---- Job validation ----

function nonNegative(errs: FieldError[], spec: Obj, key: string, path: string): void {
  const v = spec[key];
  if (isSet(v) && typeof v === "number" && v < 0) errs.push(invalidValue(`${path}.${key}`, goNumber(v), "must be greater than or equal to 0"));
}

const ACTIONS = ["Count", "FailIndex", "FailJob", "Ignore"];

function validatePodFailurePolicy(spec: Obj, path: string): FieldError[] {
  const errs: FieldError[] = [];
  const rules = isObj(spec.podFailurePolicy) && Array.isArray(spec.podFailurePolicy.rules) ? (spec.podFailurePolicy.rules as Obj[]) : [];
  if (rules.length > 20) errs.push({ type: "FieldValueTooMany", field: `${path}.rules`, detail: `Too many: ${rules.length}: must have at most 20 items` });
  rules.forEach((rule, i) => {
    const rp = `${path}.rules[${i}]`;
    const action = String(rule?.action ?? "");
    if (!ACTIONS.includes(action)) errs.push(notSupported(`${rp}.action`, goString(action), ACTIONS));
    else if (action === "FailIndex" && !isSet(spec.backoffLimitPerIndex)) errs.push(invalidValue(`${rp}.action`, goString(action), "requires the backoffLimitPerIndex to be set"));
    const exit = rule?.onExitCodes;
    const conds = rule?.onPodConditions;
    if (isSet(exit) === isSet(conds)) {
      errs.push({ type: "FieldValueInvalid", field: rp, detail: "Invalid value: specifying one of OnExitCodes and OnPodConditions is required" });
      return;
    }
    if (isObj(exit)) {
      const op = String(exit.operator ?? "");
      if (op !== "In" && op !== "NotIn") errs.push(notSupported(`${rp}.onExitCodes.operator`, goString(op), ["In", "NotIn"]));
      const values = Array.isArray(exit.values) ? (exit.values as number[]) : [];
      if (values.length === 0) errs.push(required(`${rp}.onExitCodes.values`, "at least one value is required"));
      values.forEach((v, j) => {
        if (op === "In" && v === 0) errs.push(invalidValue(`${rp}.onExitCodes.values[${j}]`, goNumber(v), "must not be 0 for the In operator"));
        if (j > 0 && values[j - 1]! >= v) errs.push(invalidValue(`${rp}.onExitCodes.values[${j}]`, goNumber(v), "must be ordered"));
      });
    } else if (Array.isArray(conds)) {
      (conds as Obj[]).forEach((c, j) => {
        if (!c?.type) errs.push(required(`${rp}.onPodConditions[${j}].type`));
        const status = String(c?.status ?? "");
        if (!["True", "False", "Unknown"].includes(status)) errs.push(notSupported(`${rp}.onPodConditions[${j}].status`, goString(status), ["False", "True", "Unknown"]));
      });
    }
  });
  return errs;
}

/** Upstream's `validateJobSpec` (everything but the selector). */
function validateJobSpec(spec: Obj | undefined, path: string, h: BatchStrategyHelpers): FieldError[] {
  const errs: FieldError[] = [];
  if (!spec) return [required(path)];
  for (const key of ["parallelism", "completions", "activeDeadlineSeconds", "backoffLimit", "ttlSecondsAfterFinished", "backoffLimitPerIndex", "maxFailedIndexes"]) {
    nonNegative(errs, spec, key, path);
  }
  const indexed = spec.completionMode === "Indexed";
  if (isSet(spec.backoffLimitPerIndex) && !indexed) errs.push(forbidden(`${path}.backoffLimitPerIndex`, "requires indexed completion mode"));
  if (isSet(spec.maxFailedIndexes)) {
    if (!isSet(spec.backoffLimitPerIndex)) errs.push(required(`${path}.backoffLimitPerIndex`, "when maxFailedIndexes is specified"));
    if (isSet(spec.completions) && (spec.maxFailedIndexes as number) > (spec.completions as number)) {
      errs.push(invalidValue(`${path}.maxFailedIndexes`, goNumber(spec.maxFailedIndexes as number), "must be less than or equal to completions"));
    }
  }
  if (isSet(spec.completionMode)) {
    const mode = String(spec.completionMode);
    if (mode !== "NonIndexed" && mode !== "Indexed") errs.push(notSupported(`${path}.completionMode`, goString(mode), ["NonIndexed", "Indexed"]));
    if (indexed) {
      if (!isSet(spec.completions)) errs.push(required(`${path}.completions`, "when completion mode is Indexed"));
      if (isSet(spec.parallelism) && (spec.parallelism as number) > MAX_INDEXED) {
        errs.push(invalidValue(`${path}.parallelism`, goNumber(spec.parallelism as number), `must be less than or equal to ${MAX_INDEXED} when completion mode is Indexed`));
      }
      if (isSet(spec.completions) && !isSet(spec.maxFailedIndexes) && (spec.completions as number) > MAX_INDEXED) {
        errs.push(invalidValue(`${path}.completions`, goNumber(spec.completions as number), `must be less than or equal to ${MAX_INDEXED} when completion mode is Indexed`));
      }
    }
  }
  if (isSet(spec.successPolicy)) {
    if (!indexed) errs.push(invalidValue(`${path}.completionMode`, goString(String(spec.completionMode ?? "NonIndexed")), "requires indexed completion mode"));
    const rules = isObj(spec.successPolicy) && Array.isArray(spec.successPolicy.rules) ? (spec.successPolicy.rules as Obj[]) : [];
    if (rules.length === 0) errs.push(required(`${path}.successPolicy.rules`, "at least one rules must be specified when the successPolicy is specified"));
    rules.forEach((r, i) => {
      if (!isSet(r?.succeededIndexes) && !isSet(r?.succeededCount)) {
        errs.push(required(`${path}.successPolicy.rules[${i}]`, "at least one of succeededCount or succeededIndexes must be specified"));
      }
    });
  }
  if (isSet(spec.podFailurePolicy)) errs.push(...validatePodFailurePolicy(spec, `${path}.podFailurePolicy`));
  if (isSet(spec.podReplacementPolicy)) {
    const prp = String(spec.podReplacementPolicy);
    if (isSet(spec.podFailurePolicy)) {
      if (prp !== "Failed") errs.push(notSupported(`${path}.podReplacementPolicy`, goString(prp), ["Failed"]));
    } else if (prp !== "Failed" && prp !== "TerminatingOrFailed") {
      errs.push(notSupported(`${path}.podReplacementPolicy`, goString(prp), ["Failed", "TerminatingOrFailed"]));
    }
  }
  const podSpec = podSpecOf(spec);
  errs.push(...h.validateContainers(podSpec, `${path}.template.spec`));
  // Pod defaulting turns an unset restartPolicy into Always: both mean the user did not choose one.
  const rp = String(podSpec?.restartPolicy ?? "");
  const rpPath = `${path}.template.spec.restartPolicy`;
  if (rp === "Always" || rp === "") errs.push(required(rpPath, 'valid values: "OnFailure", "Never"'));
  else if (rp !== "OnFailure" && rp !== "Never") errs.push(notSupported(rpPath, goString(rp), ["OnFailure", "Never"]));
  else if (isSet(spec.podFailurePolicy) && rp !== "Never") errs.push(invalidValue(rpPath, goString(rp), 'only "Never" is supported when podFailurePolicy is specified'));
  return errs;
}

/** Upstream's ValidateJobSpec: the spec, a selector, and the selector matching the template. */
function validateJobSelector(spec: Obj, path: string): FieldError[] {
  const errs: FieldError[] = [];
  if (!isSet(spec.selector)) return [required(`${path}.selector`)];
  let sel: ReturnType<typeof selectorFromObject>;
  try {
    sel = selectorFromObject(spec.selector as Obj);
  } catch (err) {
    return [invalidValue(`${path}.selector`, { go: JSON.stringify(spec.selector) }, (err as Error).message)];
  }
  const tplLabels = (templateOf(spec)?.metadata as Obj | undefined)?.labels as Record<string, string> | undefined;
  if (!sel?.matches(tplLabels ?? {})) errs.push(invalidValue(`${path}.template.metadata.labels`, goMap(tplLabels), "`selector` does not match template `labels`"));
  return errs;
}

/** Upstream's ValidateGeneratedSelector: the generated labels hold the Job's uid and name. */
function validateGeneratedSelector(o: KObject): FieldError[] {
  const spec = o.spec as Obj;
  if (spec.manualSelector === true) return [];
  const tplMeta = templateOf(spec)?.metadata as Obj | undefined;
  const labels = tplMeta?.labels as Record<string, string> | undefined;
  if (!labels) return [required("spec.template.metadata.labels")];
  const errs: FieldError[] = [];
  const uid = o.metadata?.uid ?? "";
  if (!uid) errs.push(required("metadata.uid"));
  const want: [string, string][] = [
    [LEGACY_CONTROLLER_UID_LABEL, uid],
    [LEGACY_JOB_NAME_LABEL, o.metadata?.name ?? ""],
    [CONTROLLER_UID_LABEL, uid],
    [JOB_NAME_LABEL, o.metadata?.name ?? ""],
  ];
  for (const [key, value] of want) {
    const path = `spec.template.metadata.labels[${key}]`;
    if (!(key in labels)) errs.push(required(path));
    else if (labels[key] !== value) errs.push(invalidValue(path, goString(labels[key]!), `must be '${value}'`));
  }
  if (!isDeepStrictEqual(spec.selector, { matchLabels: { [CONTROLLER_UID_LABEL]: uid } })) {
    errs.push(invalidValue("spec.selector", { go: JSON.stringify(spec.selector) }, "`selector` not auto-generated"));
  }
  return errs;
}

function immutable(errs: FieldError[], spec: Obj, old: Obj, key: string, path: string): void {
  if (!isDeepStrictEqual(spec[key] ?? null, old[key] ?? null)) errs.push({ type: "FieldValueInvalid", field: `${path}.${key}`, detail: "field is immutable", value: spec[key] ?? null });
}

/** Upstream's ValidateJobSpecUpdate. */
function validateJobSpecUpdate(spec: Obj, old: Obj, oldStatus: Obj | undefined): FieldError[] {
  const errs: FieldError[] = [];
  const path = "spec";
  for (const key of ["selector", "completionMode", "podFailurePolicy", "backoffLimitPerIndex", "managedBy", "successPolicy"]) immutable(errs, spec, old, key, path);
  const indexed = spec.completionMode === "Indexed";
  if (!indexed) immutable(errs, spec, old, "completions", path);
  else if (isSet(spec.completions) && isSet(old.completions) && spec.completions !== old.completions && spec.completions !== spec.parallelism) {
    errs.push(invalidValue(`${path}.completions`, goNumber(spec.completions as number), "can only be modified in tandem with spec.parallelism"));
  }
  // A Job that was suspended and never started may still move: its scheduling directives, labels and annotations.
  let oldTemplate = templateOf(old);
  const newTemplate = templateOf(spec);
  if (old.suspend === true && !oldStatus?.startTime && oldTemplate && newTemplate) {
    oldTemplate = structuredClone(oldTemplate);
    const om = (oldTemplate.metadata ??= {}) as Obj;
    const nm = (newTemplate.metadata ?? {}) as Obj;
    om.labels = nm.labels;
    om.annotations = nm.annotations;
    const os = (oldTemplate.spec ??= {}) as Obj;
    const ns = (newTemplate.spec ?? {}) as Obj;
    for (const k of ["affinity", "nodeSelector", "tolerations", "schedulingGates"]) os[k] = ns[k];
  }
  if (!isDeepStrictEqual(JSON.parse(JSON.stringify(newTemplate ?? null)), JSON.parse(JSON.stringify(oldTemplate ?? null)))) {
    errs.push({ type: "FieldValueInvalid", field: `${path}.template`, detail: "field is immutable", value: newTemplate ?? null });
  }
  return errs;
}

/** The batch/v1 `jobs` strategy. */
export function jobStrategy(h: BatchStrategyHelpers): Strategy {
  return {
    tracksGeneration: true,
    prepareForCreate(o) {
      delete o.status;
    },
    defaults(o) {
      const podSpec = podSpecOf(o.spec as Obj | undefined);
      if (podSpec) h.defaultPodSpec(podSpec);
      defaultJob(o);
    },
    validateCreate(o) {
      const spec = o.spec as Obj | undefined;
      const errs = validateJobSpec(spec, "spec", h);
      // A generated selector is checked once made (it needs the uid): see beforeCreate.
      if (spec && spec.manualSelector === true) errs.push(...validateJobSelector(spec, "spec"));
      return errs;
    },
    async beforeCreate(o) {
      const spec = o.spec as Obj;
      if (spec.manualSelector !== true) {
        generateSelector(o);
        const errs = [...validateJobSelector(spec, "spec"), ...validateGeneratedSelector(o)];
        if (errs.length > 0) throw invalid("Job", "batch", o.metadata?.name ?? "", errs);
      }
      return undefined;
    },
    validateUpdate(o, old) {
      const spec = (o.spec ?? {}) as Obj;
      return [...validateJobSpec(spec, "spec", h), ...validateJobSelector(spec, "spec"), ...validateJobSpecUpdate(spec, (old.spec ?? {}) as Obj, old.status as Obj | undefined)];
    },
  };
}

// ---- CronJobs ----

/** The longest CronJob name: its Jobs add `-<11 digits>` and must fit 63 characters. */
const MAX_CRONJOB_NAME = 52;

function validateCronJobSpec(o: KObject, old: KObject | undefined, h: BatchStrategyHelpers): FieldError[] {
  const errs: FieldError[] = [];
  const spec = o.spec as Obj | undefined;
  if (!spec) return [required("spec")];
  const schedule = spec.schedule;
  if (!schedule) {
    errs.push(required("spec.schedule"));
  } else {
    const s = String(schedule);
    const zone = isSet(spec.timeZone) ? String(spec.timeZone) : undefined;
    try {
      parseStandard(s, zone !== undefined && isKnownTimeZone(zone) ? zone : "UTC");
    } catch (err) {
      errs.push(invalidValue("spec.schedule", goString(s), (err as Error).message));
    }
    // Old objects may keep a TZ they already had; new ones must use timeZone.
    const allowTZ = String((old?.spec as Obj | undefined)?.schedule ?? "").includes("TZ");
    if (allowTZ && s.includes("TZ") && zone !== undefined) errs.push(invalidValue("spec.schedule", goString(s), "cannot use both timeZone field and TZ or CRON_TZ in schedule"));
    else if (!allowTZ && s.includes("TZ")) errs.push(invalidValue("spec.schedule", goString(s), "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"));
  }
  if (isSet(spec.timeZone)) {
    const zone = String(spec.timeZone);
    if (zone === "") errs.push(invalidValue("spec.timeZone", goString(zone), "timeZone must be nil or non-empty string"));
    else if (zone.toLowerCase() === "local") errs.push(invalidValue("spec.timeZone", goString(zone), "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones"));
    else if (!isKnownTimeZone(zone)) errs.push(invalidValue("spec.timeZone", goString(zone), unknownTimeZoneMessage(zone)));
  }
  nonNegative(errs, spec, "startingDeadlineSeconds", "spec");
  nonNegative(errs, spec, "successfulJobsHistoryLimit", "spec");
  nonNegative(errs, spec, "failedJobsHistoryLimit", "spec");
  const policy = String(spec.concurrencyPolicy ?? "");
  if (!["Allow", "Forbid", "Replace"].includes(policy)) {
    errs.push(policy === "" ? required("spec.concurrencyPolicy") : notSupported("spec.concurrencyPolicy", goString(policy), ["Allow", "Forbid", "Replace"]));
  }
  const jobSpec = isObj(spec.jobTemplate) && isObj(spec.jobTemplate.spec) ? spec.jobTemplate.spec : undefined;
  errs.push(...validateJobSpec(jobSpec, "spec.jobTemplate.spec", h));
  return errs;
}

/** The batch/v1 `cronjobs` strategy. */
export function cronJobStrategy(h: BatchStrategyHelpers): Strategy {
  return {
    tracksGeneration: true,
    prepareForCreate(o) {
      delete o.status;
    },
    defaults(o) {
      const spec = (o.spec ??= {}) as Obj;
      spec.concurrencyPolicy ||= "Allow";
      spec.suspend ??= false;
      spec.successfulJobsHistoryLimit ??= 3;
      spec.failedJobsHistoryLimit ??= 1;
      const podSpec = podSpecOf(isObj(spec.jobTemplate) && isObj(spec.jobTemplate.spec) ? spec.jobTemplate.spec : undefined);
      if (podSpec) h.defaultPodSpec(podSpec);
    },
    validateCreate(o) {
      const errs = validateCronJobSpec(o, undefined, h);
      const name = o.metadata?.name ?? "";
      if (name.length > MAX_CRONJOB_NAME) errs.push(invalidValue("metadata.name", goString(name), `must be no more than ${MAX_CRONJOB_NAME} characters`));
      return errs;
    },
    validateUpdate(o, old) {
      return validateCronJobSpec(o, old, h);
    },
  };
}
