/**
 * ObjectMeta validation with upstream's rules and messages
 * (apimachinery/pkg/api/validation and pkg/util/validation).
 */
import type { ObjectMeta } from "kubernetes-types/meta/v1.js";
import type { ResourceType } from "../../api/resources.js";
import type { FieldError } from "../../machinery/status-error.js";

const DNS1123_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_SUBDOMAIN = `${DNS1123_LABEL}(\\.${DNS1123_LABEL})*`;
const DNS1035_LABEL = "[a-z]([-a-z0-9]*[a-z0-9])?";
const QUALIFIED_NAME = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const LABEL_VALUE = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";

/** Anchored regexps, compiled once per pattern (validation runs on every write). */
const compiled = new Map<string, RegExp>();
const full = (re: string): RegExp => {
  let r = compiled.get(re);
  if (r === undefined) {
    r = new RegExp(`^${re}$`);
    compiled.set(re, r);
  }
  return r;
};

/** Messages for a value that does not match, as upstream words them. */
export function dns1123Label(v: string): string[] {
  const out: string[] = [];
  if (v.length > 63) out.push("must be no more than 63 characters");
  if (!full(DNS1123_LABEL).test(v)) {
    out.push(
      `a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '${DNS1123_LABEL}')`,
    );
  }
  return out;
}

export function dns1123Subdomain(v: string): string[] {
  const out: string[] = [];
  if (v.length > 253) out.push("must be no more than 253 characters");
  if (!full(DNS1123_SUBDOMAIN).test(v)) {
    out.push(
      `a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '${DNS1123_SUBDOMAIN}')`,
    );
  }
  return out;
}

export function dns1035Label(v: string): string[] {
  const out: string[] = [];
  if (v.length > 63) out.push("must be no more than 63 characters");
  if (!full(DNS1035_LABEL).test(v)) {
    out.push(
      `a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '${DNS1035_LABEL}')`,
    );
  }
  return out;
}

function pathSegmentName(v: string): string[] {
  if (v === "." || v === "..") return [`may not be '${v}'`];
  for (const bad of ["/", "%"]) if (v.includes(bad)) return [`may not contain '${bad}'`];
  return [];
}

/** Label keys and other qualified names (`prefix/name`). */
export function qualifiedName(v: string): string[] {
  const parts = v.split("/");
  let name = v;
  const out: string[] = [];
  if (parts.length === 2) {
    const [prefix, n] = parts as [string, string];
    name = n;
    if (prefix.length === 0) out.push("prefix part must be non-empty");
    else for (const m of dns1123Subdomain(prefix)) out.push(`prefix part ${m}`);
  } else if (parts.length > 2) {
    return [
      `a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '${QUALIFIED_NAME}') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`,
    ];
  }
  if (name.length === 0) out.push("name part must be non-empty");
  else if (name.length > 63) out.push("name part must be no more than 63 characters");
  if (name.length > 0 && !full(QUALIFIED_NAME).test(name)) {
    out.push(
      `name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '${QUALIFIED_NAME}')`,
    );
  }
  return out;
}

export function labelValue(v: string): string[] {
  const out: string[] = [];
  if (v.length > 63) out.push("must be no more than 63 characters");
  if (!full(LABEL_VALUE).test(v)) {
    out.push(
      `a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '${LABEL_VALUE}')`,
    );
  }
  return out;
}

/** How a resource's object names are checked. */
function nameValidator(r: ResourceType): (v: string) => string[] {
  if (r.plural === "namespaces") return dns1123Label;
  if (r.plural === "services") return dns1035Label;
  if (r.group === "rbac.authorization.k8s.io") return pathSegmentName;
  return dns1123Subdomain;
}

const TOTAL_ANNOTATION_BYTES = 256 * 1024;

/** Validates metadata of an object being written. */
export function validateObjectMeta(meta: ObjectMeta, r: ResourceType): FieldError[] {
  const errs: FieldError[] = [];
  const check = nameValidator(r);
  if (!meta.name) {
    errs.push({ type: "FieldValueRequired", field: "metadata.name", detail: "Required value: name or generateName is required" });
  } else {
    for (const m of check(meta.name)) errs.push({ type: "FieldValueInvalid", field: "metadata.name", detail: m, value: meta.name });
  }
  if (meta.generateName) {
    // The prefix must be valid once a suffix is appended; strip a trailing '-' as upstream.
    const base = meta.generateName.replace(/-$/, "");
    if (base) for (const m of check(base)) errs.push({ type: "FieldValueInvalid", field: "metadata.generateName", detail: m, value: meta.generateName });
  }
  if (r.namespaced && !meta.namespace) {
    errs.push({ type: "FieldValueRequired", field: "metadata.namespace", detail: "Required value" });
  }
  for (const [k, v] of Object.entries(meta.labels ?? {})) {
    for (const m of qualifiedName(k)) errs.push({ type: "FieldValueInvalid", field: "metadata.labels", detail: m, value: k });
    if (typeof v !== "string") errs.push({ type: "FieldValueTypeInvalid", field: `metadata.labels`, detail: "must be a string", value: v });
    else for (const m of labelValue(v)) errs.push({ type: "FieldValueInvalid", field: "metadata.labels", detail: m, value: v });
  }
  let annotationBytes = 0;
  for (const [k, v] of Object.entries(meta.annotations ?? {})) {
    for (const m of qualifiedName(k.toLowerCase())) errs.push({ type: "FieldValueInvalid", field: "metadata.annotations", detail: m, value: k });
    annotationBytes += k.length + String(v).length;
  }
  if (annotationBytes > TOTAL_ANNOTATION_BYTES) {
    errs.push({ type: "FieldValueTooLong", field: "metadata.annotations", detail: `Too long: must have at most ${TOTAL_ANNOTATION_BYTES} bytes` });
  }
  for (const [i, f] of (meta.finalizers ?? []).entries()) {
    for (const m of qualifiedName(f)) errs.push({ type: "FieldValueInvalid", field: `metadata.finalizers[${i}]`, detail: m, value: f });
  }
  for (const [i, o] of (meta.ownerReferences ?? []).entries()) {
    const f = `metadata.ownerReferences[${i}]`;
    if (!o.apiVersion) errs.push({ type: "FieldValueInvalid", field: `${f}.apiVersion`, detail: "version must not be empty", value: o.apiVersion ?? "" });
    if (!o.kind) errs.push({ type: "FieldValueInvalid", field: `${f}.kind`, detail: "kind must not be empty", value: o.kind ?? "" });
    if (!o.name) errs.push({ type: "FieldValueInvalid", field: `${f}.name`, detail: "name must not be empty", value: o.name ?? "" });
    if (!o.uid) errs.push({ type: "FieldValueInvalid", field: `${f}.uid`, detail: "uid must not be empty", value: o.uid ?? "" });
  }
  return errs;
}
