/**
 * The downward API's field and resource selectors, as upstream's
 * pkg/fieldpath (ExtractFieldPathAsString, FormatMap), pkg/api/v1/pod
 * (ConvertDownwardAPIFieldLabel) and pkg/api/v1/resource
 * (ExtractContainerResourceValue, MergeContainerResourceLimits): shared by
 * env (`valueFrom`) and downwardAPI/projected volumes. Errors are values
 * carrying upstream's messages.
 */
import type { Container, ObjectFieldSelector, Pod, ResourceFieldSelector } from "kubernetes-types/core/v1.js";
import { parseQuantity } from "../../apiserver/printers/quantity.js";

/** A computed value, or upstream's error message. */
export type Extracted = { readonly ok: true; readonly value: string } | { readonly ok: false; readonly message: string };

const ok = (value: string): Extracted => ({ ok: true, value });
const err = (message: string): Extracted => ({ ok: false, message });

// ---- field paths ----

/** upstream SplitMaybeSubscriptedPath: `metadata.labels['k']` → ["metadata.labels", "k"]. */
export function splitMaybeSubscriptedPath(fieldPath: string): [string, string] | undefined {
  if (!fieldPath.endsWith("']")) return undefined;
  const s = fieldPath.slice(0, -2);
  const i = s.indexOf("['");
  if (i <= 0) return undefined;
  return [s.slice(0, i), s.slice(i + 2)];
}

const QNAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const QNAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const QNAME_MSG = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1123_SUBDOMAIN_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const DNS1123_SUBDOMAIN_MSG =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";

/** upstream validation.RegexError. */
function regexError(msg: string, fmt: string, ...examples: string[]): string {
  if (examples.length === 0) return `${msg} (regex used for validation is '${fmt}')`;
  return `${msg} (e.g. ${examples.map((e) => `'${e}', `).join(" or ")}regex used for validation is '${fmt}')`;
}

/** upstream validation.IsQualifiedName: its error strings, none when valid. */
export function isQualifiedName(value: string): string[] {
  const errs: string[] = [];
  const parts = value.split("/");
  let name: string;
  if (parts.length === 1) name = parts[0]!;
  else if (parts.length === 2) {
    const prefix = parts[0]!;
    name = parts[1]!;
    if (prefix.length === 0) errs.push("prefix part must be non-empty");
    else {
      if (prefix.length > 253) errs.push("prefix part must be no more than 253 characters");
      if (!DNS1123_SUBDOMAIN.test(prefix)) errs.push(`prefix part ${regexError(DNS1123_SUBDOMAIN_MSG, DNS1123_SUBDOMAIN_FMT, "example.com")}`);
    }
  } else {
    return [
      `a qualified name ${regexError(QNAME_MSG, QNAME_FMT, "MyName", "my.name", "123-abc")} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`,
    ];
  }
  if (name.length === 0) errs.push("name part must be non-empty");
  else if (name.length > 63) errs.push("name part must be no more than 63 characters");
  if (!QNAME.test(name)) errs.push(`name part ${regexError(QNAME_MSG, QNAME_FMT, "MyName", "my.name", "123-abc")}`);
  return errs;
}

/** Go's strconv.Quote for the characters label and annotation values hold. */
function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"') out += '\\"';
    else if (ch === "\\") out += "\\\\";
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, "0")}`;
    else out += ch;
  }
  return `${out}"`;
}

/** upstream fieldpath.FormatMap: `k="v"` lines, keys sorted. */
export function formatMap(m: Readonly<Record<string, string>> | undefined): string {
  const keys = Object.keys(m ?? {}).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return keys.map((k) => `${k}=${goQuote(m![k]!)}`).join("\n");
}

/** upstream fieldpath.ExtractFieldPathAsString: metadata fields of the pod. */
export function extractFieldPathAsString(pod: Pod, fieldPath: string): Extracted {
  const m = pod.metadata ?? {};
  const sub = splitMaybeSubscriptedPath(fieldPath);
  if (sub) {
    const [path, subscript] = sub;
    if (path === "metadata.annotations") {
      const errs = isQualifiedName(subscript.toLowerCase());
      if (errs.length > 0) return err(`invalid key subscript in ${fieldPath}: ${errs.join(";")}`);
      return ok(m.annotations?.[subscript] ?? "");
    }
    if (path === "metadata.labels") {
      const errs = isQualifiedName(subscript);
      if (errs.length > 0) return err(`invalid key subscript in ${fieldPath}: ${errs.join(";")}`);
      return ok(m.labels?.[subscript] ?? "");
    }
    return err(`fieldPath "${fieldPath}" does not support subscript`);
  }
  switch (fieldPath) {
    case "metadata.annotations":
      return ok(formatMap(m.annotations));
    case "metadata.labels":
      return ok(formatMap(m.labels));
    case "metadata.name":
      return ok(m.name ?? "");
    case "metadata.namespace":
      return ok(m.namespace ?? "");
    case "metadata.uid":
      return ok(m.uid ?? "");
  }
  return err(`unsupported fieldPath: ${fieldPath}`);
}

const DOWNWARD_FIELDS = new Set([
  "metadata.annotations",
  "metadata.labels",
  "metadata.name",
  "metadata.namespace",
  "metadata.uid",
  "spec.nodeName",
  "spec.restartPolicy",
  "spec.serviceAccountName",
  "spec.schedulerName",
  "status.phase",
  "status.hostIP",
  "status.hostIPs",
  "status.podIP",
  "status.podIPs",
]);

/** upstream ConvertDownwardAPIFieldLabel: the internal path of a v1 field label. */
export function convertDownwardAPIFieldLabel(version: string, label: string): Extracted {
  if (version !== "v1") return err(`unsupported pod version: ${version}`);
  const sub = splitMaybeSubscriptedPath(label);
  if (sub) {
    if (sub[0] === "metadata.annotations" || sub[0] === "metadata.labels") return ok(label);
    return err(`field label does not support subscript: ${label}`);
  }
  if (DOWNWARD_FIELDS.has(label)) return ok(label);
  // Backwards compatibility with old v1 clients.
  if (label === "spec.host") return ok("spec.nodeName");
  return err(`field label not supported: ${label}`);
}

/** Where the pod runs, for the fields the kubelet fills in itself. */
export interface PodRuntimeFacts {
  /** The pod's IPs, primary first (the node's for host-network pods). */
  readonly podIPs: readonly string[];
  /** The node's IPs, primary first. */
  readonly hostIPs: readonly string[];
}

/** upstream kubelet podFieldSelectorRuntimeValue: an env `fieldRef`. */
export function podFieldSelectorRuntimeValue(fs: ObjectFieldSelector, pod: Pod, facts: PodRuntimeFacts): Extracted {
  const converted = convertDownwardAPIFieldLabel(fs.apiVersion || "v1", fs.fieldPath);
  if (!converted.ok) return converted;
  switch (converted.value) {
    case "spec.nodeName":
      return ok(pod.spec?.nodeName ?? "");
    case "spec.serviceAccountName":
      return ok(pod.spec?.serviceAccountName ?? "");
    case "status.hostIP":
      return facts.hostIPs.length > 0 ? ok(facts.hostIPs[0]!) : err("failed to get host IPs: node IP unknown");
    case "status.hostIPs":
      return facts.hostIPs.length > 0 ? ok(facts.hostIPs.join(",")) : err("failed to get host IPs: node IP unknown");
    case "status.podIP":
      return ok(facts.podIPs[0] ?? "");
    case "status.podIPs":
      return ok(facts.podIPs.join(","));
  }
  return extractFieldPathAsString(pod, converted.value);
}

// ---- resources ----

/** A resource list as pods carry it (quantities as strings, or numbers from JSON clients). */
export type ResourceList = Readonly<Record<string, string | number>>;

/** ceil(q × 10^scale) exactly; 0 for an absent quantity, undefined for an unparseable one. */
function scaledCeil(q: string | number | undefined, scale: number): bigint | undefined {
  if (q === undefined) return 0n;
  const p = parseQuantity(String(q));
  if (!p) return undefined;
  const e = p.exp10 + scale;
  if (e >= 0) return p.mantissa * 10n ** BigInt(e);
  const d = 10n ** BigInt(-e);
  const t = p.mantissa / d;
  return p.mantissa % d === 0n || p.mantissa < 0n ? t : t + 1n;
}

/** Quantity.Value(): whole units, rounded up (0 when absent, undefined when unparseable). */
export function quantityValue(q: string | number | undefined): bigint | undefined {
  return scaledCeil(q, 0);
}

/** Quantity.Value(): whole units, rounded up. */
function value(q: string | number | undefined): bigint | undefined {
  return scaledCeil(q, 0);
}

/** Quantity.MilliValue(): thousandths, rounded up. */
function milliValue(q: string | number | undefined): bigint | undefined {
  return scaledCeil(q, 3);
}

function isZero(q: string | number | undefined): boolean {
  if (q === undefined) return true;
  const p = parseQuantity(String(q));
  return !!p && p.mantissa === 0n;
}

/** upstream MergeContainerResourceLimits: cpu, memory and ephemeral-storage limits default to node allocatable. */
export function mergeContainerResourceLimits(container: Container, allocatable: ResourceList): Container {
  const limits: Record<string, string | number> = { ...((container.resources?.limits as ResourceList | undefined) ?? {}) };
  for (const r of ["cpu", "memory", "ephemeral-storage"]) {
    if ((limits[r] === undefined || isZero(limits[r])) && allocatable[r] !== undefined) limits[r] = allocatable[r]!;
  }
  return { ...container, resources: { ...(container.resources ?? {}), limits: limits as Record<string, string> } };
}

/** Go's int64(math.Ceil(float64(a) / float64(b))) as a decimal string. */
function ceilDiv(a: bigint, b: bigint): string {
  return String(Math.ceil(Number(a) / Number(b)));
}

/** upstream ExtractContainerResourceValue. */
export function extractContainerResourceValue(fs: ResourceFieldSelector, container: Container): Extracted {
  const divisorText = fs.divisor === undefined || isZero(fs.divisor) ? "1" : String(fs.divisor);
  const limits = (container.resources?.limits as ResourceList | undefined) ?? {};
  const requests = (container.resources?.requests as ResourceList | undefined) ?? {};
  const [kind, name = ""] = splitOnce(fs.resource, ".");
  const list = kind === "limits" ? limits : kind === "requests" ? requests : undefined;
  if (list && (name === "cpu" || name === "memory" || name === "ephemeral-storage" || name.startsWith("hugepages-"))) {
    const bad = (q: string | number) => err(`unable to parse quantity ${JSON.stringify(String(q))}`);
    if (name === "cpu") {
      const v = milliValue(list.cpu);
      const d = milliValue(divisorText);
      if (v === undefined) return bad(list.cpu!);
      if (d === undefined || d === 0n) return bad(divisorText);
      return ok(ceilDiv(v, d));
    }
    const v = value(list[name]);
    const d = value(divisorText);
    if (v === undefined) return bad(list[name]!);
    if (d === undefined || d === 0n) return bad(divisorText);
    return ok(ceilDiv(v, d));
  }
  return err(`unsupported container resource : ${fs.resource}`);
}

function splitOnce(s: string, sep: string): [string, string?] {
  const i = s.indexOf(sep);
  return i < 0 ? [s] : [s.slice(0, i), s.slice(i + sep.length)];
}

/** upstream findContainerInPod: regular containers, then init containers. */
function findContainerInPod(pod: Pod, name: string): Container | undefined {
  return pod.spec?.containers.find((c) => c.name === name) ?? pod.spec?.initContainers?.find((c) => c.name === name);
}

/**
 * An env `resourceFieldRef` of `container` (upstream containerResourceRuntimeValue
 * over defaultPodLimitsForDownwardAPI): limits left unset read as node allocatable.
 */
export function containerResourceRuntimeValue(fs: ResourceFieldSelector, pod: Pod, container: Container, allocatable: ResourceList): Extracted {
  if (!fs.containerName) return extractContainerResourceValue(fs, mergeContainerResourceLimits(container, allocatable));
  // upstream defaults the limits of the pod's regular containers only.
  const regular = pod.spec?.containers.find((c) => c.name === fs.containerName);
  if (regular) return extractContainerResourceValue(fs, mergeContainerResourceLimits(regular, allocatable));
  const found = findContainerInPod(pod, fs.containerName);
  if (!found) return err(`container ${fs.containerName} not found`);
  return extractContainerResourceValue(fs, found);
}

/** A downwardAPI volume's `resourceFieldRef` (upstream ExtractResourceValueByContainerNameAndNodeAllocatable). */
export function volumeResourceValue(fs: ResourceFieldSelector, pod: Pod, allocatable: ResourceList): Extracted {
  const found = findContainerInPod(pod, fs.containerName ?? "");
  if (!found) return err(`container ${fs.containerName ?? ""} not found`);
  return extractContainerResourceValue(fs, mergeContainerResourceLimits(found, allocatable));
}
