/**
 * Field selectors as upstream serves them: `metadata.name` and
 * `metadata.namespace` everywhere, plus the per-resource fields each upstream
 * registry exposes (pods' `spec.nodeName`, `status.phase`, events'
 * `involvedObject.*`, …). Anything else is refused with upstream's message.
 */
import { badRequest } from "../machinery/status-error.js";

export interface FieldRequirement {
  readonly field: string;
  readonly op: "=" | "!=";
  readonly value: string;
}

export interface FieldSelector {
  readonly requirements: readonly FieldRequirement[];
  matches(obj: Record<string, unknown>): boolean;
}

type Getter = (o: Obj) => string | undefined;
type Obj = Record<string, unknown>;

function at(o: unknown, path: string): unknown {
  let cur = o;
  for (const p of path.split(".")) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Obj)[p];
  }
  return cur;
}

const str =
  (path: string): Getter =>
  (o) => {
    const v = at(o, path);
    return v === undefined || v === null ? "" : String(v);
  };

const COMMON: Record<string, Getter> = { "metadata.name": str("metadata.name"), "metadata.namespace": str("metadata.namespace") };

const eventFields: Record<string, Getter> = Object.fromEntries(
  ["kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath"].map((f) => [`involvedObject.${f}`, str(`involvedObject.${f}`)]),
);

/** Extra selectable fields per resource ("group/plural", core group as "/plural"). */
const BY_RESOURCE: Record<string, Record<string, Getter>> = {
  "/pods": {
    "spec.nodeName": str("spec.nodeName"),
    "spec.restartPolicy": str("spec.restartPolicy"),
    "spec.schedulerName": str("spec.schedulerName"),
    "spec.serviceAccountName": str("spec.serviceAccountName"),
    "spec.hostNetwork": (o) => String(at(o, "spec.hostNetwork") === true),
    "status.phase": str("status.phase"),
    "status.podIP": str("status.podIP"),
    "status.nominatedNodeName": str("status.nominatedNodeName"),
  },
  "/events": {
    ...eventFields,
    reason: str("reason"),
    reportingComponent: str("reportingComponent"),
    source: (o) => String(at(o, "source.component") ?? at(o, "reportingComponent") ?? ""),
    type: str("type"),
  },
  "events.k8s.io/events": {
    ...Object.fromEntries(
      ["kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath"].map((f) => [`regarding.${f}`, str(`regarding.${f}`)]),
    ),
    reason: str("reason"),
    reportingController: str("reportingController"),
    type: str("type"),
  },
  "/secrets": { type: str("type") },
  "/namespaces": { "status.phase": str("status.phase") },
  "/nodes": { "spec.unschedulable": (o) => String(at(o, "spec.unschedulable") === true) },
  "/replicationcontrollers": { "status.replicas": str("status.replicas") },
  "apps/replicasets": { "status.replicas": str("status.replicas") },
  "batch/jobs": { "status.successful": str("status.successful") },
};

/** Parses `fieldSelector` for `group/plural`; throws a 400 Status on bad input. */
export function parseFieldSelector(text: string | undefined, group: string, plural: string): FieldSelector | undefined {
  const s = (text ?? "").trim();
  if (s === "") return undefined;
  const fields = { ...COMMON, ...(BY_RESOURCE[`${group}/${plural}`] ?? {}) };
  const reqs: FieldRequirement[] = [];
  for (const term of s.split(",")) {
    const m = /^\s*([^=!\s]+)\s*(==|=|!=)\s*(.*?)\s*$/.exec(term);
    if (!m) throw badRequest(`invalid field selector: ${JSON.stringify(term)}: expected one of =, ==, !=`);
    const field = m[1]!;
    if (!fields[field]) throw badRequest(`field label not supported: ${field}`);
    reqs.push({ field, op: m[2] === "!=" ? "!=" : "=", value: m[3]! });
  }
  return {
    requirements: reqs,
    matches(obj) {
      for (const r of reqs) {
        const v = fields[r.field]!(obj) ?? "";
        if (r.op === "=" ? v !== r.value : v === r.value) return false;
      }
      return true;
    },
  };
}
