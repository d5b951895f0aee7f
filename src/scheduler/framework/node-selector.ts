/**
 * Node selectors and node affinity matching
 * (k8s.io/component-helpers/scheduling/corev1/nodeaffinity): nodeSelector
 * maps, NodeSelector terms (ORed; each term's expressions and fields ANDed)
 * with In/NotIn/Exists/DoesNotExist/Gt/Lt on labels and In/NotIn on
 * `metadata.name`, and weighted preferred terms.
 *
 * A term that does not parse never matches, as upstream's LazyErrorNodeSelector;
 * its errors are kept for callers that report them.
 */
import type { Node, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, Pod, PreferredSchedulingTerm } from "kubernetes-types/core/v1.js";

const INT64 = /^[+-]?\d+$/;
const KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

type Matcher = (labels: Readonly<Record<string, string>>) => boolean;

function parseInt64(s: string): bigint | undefined {
  if (!INT64.test(s)) return undefined;
  const v = BigInt(s);
  if (v > 9223372036854775807n || v < -9223372036854775808n) return undefined;
  return v;
}

/** One label requirement; an error message when it is invalid (labels.NewRequirement). */
function labelRequirement(r: NodeSelectorRequirement, path: string): Matcher | string {
  const key = r.key;
  const values = r.values ?? [];
  if (!KEY.test(key)) return `${path}.key: Invalid value: ${JSON.stringify(key)}: name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`;
  switch (r.operator) {
    case "In":
    case "NotIn": {
      if (values.length === 0) return `${path}.values: Required value: for 'in', 'notin' operators, values set can't be empty`;
      const set = new Set(values);
      const inOp = r.operator === "In";
      return (labels) => {
        const has = Object.hasOwn(labels, key);
        return inOp ? has && set.has(labels[key]!) : !has || !set.has(labels[key]!);
      };
    }
    case "Exists":
    case "DoesNotExist": {
      if (values.length !== 0) return `${path}.values: Forbidden: values set must be empty for exists and does not exist`;
      const exists = r.operator === "Exists";
      return (labels) => Object.hasOwn(labels, key) === exists;
    }
    case "Gt":
    case "Lt": {
      if (values.length !== 1) return `${path}.values: Required value: for 'Gt', 'Lt' operators, exactly one value is required`;
      const bound = parseInt64(values[0]!);
      if (bound === undefined) return `${path}.values[0]: Invalid value: ${JSON.stringify(values[0])}: for 'Gt', 'Lt' operators, the value must be an integer`;
      const gt = r.operator === "Gt";
      return (labels) => {
        if (!Object.hasOwn(labels, key)) return false;
        const v = parseInt64(labels[key]!);
        if (v === undefined) return false;
        return gt ? v > bound : v < bound;
      };
    }
    default:
      return `${path}.operator: Unsupported value: ${JSON.stringify(r.operator)}: supported values: "DoesNotExist", "Exists", "Gt", "In", "Lt", "NotIn"`;
  }
}

/** One field requirement: only metadata.name-style fields with In/NotIn and exactly one value. */
function fieldRequirement(r: NodeSelectorRequirement, path: string): ((fields: Readonly<Record<string, string>>) => boolean) | string {
  const values = r.values ?? [];
  if (r.operator !== "In" && r.operator !== "NotIn") return `${path}.operator: Unsupported value: ${JSON.stringify(r.operator)}: supported values: "In", "NotIn"`;
  if (values.length !== 1) return `${path}.values: Invalid value: ${JSON.stringify(values)}: must have one element`;
  const want = values[0]!;
  const key = r.key;
  return r.operator === "In" ? (f) => (f[key] ?? "") === want : (f) => (f[key] ?? "") !== want;
}

interface ParsedTerm {
  labels: Matcher[];
  fields: ((fields: Readonly<Record<string, string>>) => boolean)[];
  errors: string[];
}

function isEmptyTerm(t: NodeSelectorTerm | undefined): boolean {
  return !t || ((t.matchExpressions?.length ?? 0) === 0 && (t.matchFields?.length ?? 0) === 0);
}

function parseTerm(t: NodeSelectorTerm, path: string): ParsedTerm {
  const out: ParsedTerm = { labels: [], fields: [], errors: [] };
  (t.matchExpressions ?? []).forEach((r, i) => {
    const m = labelRequirement(r, `${path}.matchExpressions[${i}]`);
    if (typeof m === "string") out.errors.push(m);
    else out.labels.push(m);
  });
  (t.matchFields ?? []).forEach((r, i) => {
    const m = fieldRequirement(r, `${path}.matchFields[${i}]`);
    if (typeof m === "string") out.errors.push(m);
    else out.fields.push(m);
  });
  return out;
}

function termMatches(t: ParsedTerm, labels: Readonly<Record<string, string>>, fields: Readonly<Record<string, string>>): boolean {
  if (t.errors.length > 0) return false;
  for (const m of t.labels) if (!m(labels)) return false;
  for (const m of t.fields) if (!m(fields)) return false;
  return true;
}

function nodeFields(node: Node): Record<string, string> {
  return { "metadata.name": node.metadata?.name ?? "" };
}

/** A parsed NodeSelector (ORed terms). */
export class ParsedNodeSelector {
  private readonly terms: ParsedTerm[] = [];
  /** Parse errors of the terms (such terms never match). */
  readonly errors: string[] = [];

  constructor(ns: NodeSelector, path = "nodeSelectorTerms") {
    (ns.nodeSelectorTerms ?? []).forEach((t, i) => {
      // A nil or empty term selects no objects.
      if (isEmptyTerm(t)) return;
      const parsed = parseTerm(t, `${path}[${i}]`);
      this.errors.push(...parsed.errors);
      this.terms.push(parsed);
    });
  }

  match(node: Node): boolean {
    const labels = node.metadata?.labels ?? {};
    const fields = nodeFields(node);
    for (const t of this.terms) if (termMatches(t, labels, fields)) return true;
    return false;
  }
}

/** nodeaffinity.RequiredNodeAffinity: the pod's nodeSelector AND its required node affinity. */
export class RequiredNodeAffinity {
  private readonly nodeSelector: Readonly<Record<string, string>> | undefined;
  private readonly affinity: ParsedNodeSelector | undefined;

  constructor(pod: Pod) {
    const sel = pod.spec?.nodeSelector;
    this.nodeSelector = sel && Object.keys(sel).length > 0 ? sel : undefined;
    const required = pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
    this.affinity = required ? new ParsedNodeSelector(required) : undefined;
  }

  /** Match: parse errors count as no match (upstream ignores them for compatibility). */
  match(node: Node): boolean {
    if (this.nodeSelector) {
      const labels = node.metadata?.labels ?? {};
      for (const k of Object.keys(this.nodeSelector)) if (labels[k] !== this.nodeSelector[k]) return false;
    }
    return this.affinity ? this.affinity.match(node) : true;
  }
}

/** nodeaffinity.PreferredSchedulingTerms: the sum of the weights of the matching terms. */
export class PreferredSchedulingTerms {
  private readonly terms: { term: ParsedTerm; weight: number }[] = [];

  private constructor() {}

  /** NewPreferredSchedulingTerms: the parsed terms, or the parse errors. */
  static parse(terms: readonly PreferredSchedulingTerm[], path = "preferredDuringSchedulingIgnoredDuringExecution"): PreferredSchedulingTerms | string[] {
    const out = new PreferredSchedulingTerms();
    const errors: string[] = [];
    terms.forEach((t, i) => {
      if (t.weight === 0 || isEmptyTerm(t.preference)) return;
      const parsed = parseTerm(t.preference, `${path}[${i}].preference`);
      if (parsed.errors.length > 0) errors.push(...parsed.errors);
      else out.terms.push({ term: parsed, weight: t.weight });
    });
    return errors.length > 0 ? errors : out;
  }

  score(node: Node): number {
    const labels = node.metadata?.labels ?? {};
    const fields = nodeFields(node);
    let score = 0;
    for (const t of this.terms) if (termMatches(t.term, labels, fields)) score += t.weight;
    return score;
  }
}
