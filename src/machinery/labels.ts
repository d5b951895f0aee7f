/**
 * Label selectors (k8s.io/apimachinery/pkg/labels): parse the string form
 * (`app=web,tier!=db,env in (a,b),!canary`) and match label maps. Parsing
 * errors are returned as messages, for a 400 upstream-style.
 */

export type Operator = "=" | "!=" | "in" | "notin" | "exists" | "!";

export interface Requirement {
  readonly key: string;
  readonly op: Operator;
  readonly values: readonly string[];
}

/** A parsed selector; the empty selector matches everything. */
export interface LabelSelector {
  readonly requirements: readonly Requirement[];
  matches(labels: Readonly<Record<string, string>> | undefined): boolean;
  /** True for a selector with no requirements. */
  readonly empty: boolean;
}

function build(requirements: Requirement[]): LabelSelector {
  return {
    requirements,
    empty: requirements.length === 0,
    matches(labels) {
      const l = labels ?? {};
      for (const r of requirements) {
        const has = Object.hasOwn(l, r.key);
        const v = l[r.key];
        switch (r.op) {
          case "=":
            if (!has || v !== r.values[0]) return false;
            break;
          case "!=":
            if (has && v === r.values[0]) return false;
            break;
          case "in":
            if (!has || !r.values.includes(v!)) return false;
            break;
          case "notin":
            if (has && r.values.includes(v!)) return false;
            break;
          case "exists":
            if (!has) return false;
            break;
          case "!":
            if (has) return false;
            break;
        }
      }
      return true;
    },
  };
}

export const EVERYTHING: LabelSelector = build([]);

const KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** Thrown for a selector that does not parse; the message is upstream-like. */
export class SelectorParseError extends Error {
  override name = "SelectorParseError";
}

/** Splits on commas that are not inside parentheses. */
function splitTerms(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = "";
  for (const c of s) {
    if (c === "(") depth++;
    if (c === ")") depth--;
    if (c === "," && depth === 0) {
      out.push(cur);
      cur = "";
    } else cur += c;
  }
  out.push(cur);
  return out;
}

function checkKey(key: string): void {
  if (!KEY.test(key) || key.length > 317) {
    throw new SelectorParseError(`unable to parse requirement: invalid label key "${key}": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`);
  }
}

function checkValue(v: string): void {
  if (!VALUE.test(v) || v.length > 63) {
    throw new SelectorParseError(`unable to parse requirement: invalid label value: "${v}": at key: must be no more than 63 characters and consist of alphanumeric characters, '-', '_' or '.'`);
  }
}

/** Parses a label selector string; throws SelectorParseError. */
export function parseLabelSelector(text: string | undefined): LabelSelector {
  const s = (text ?? "").trim();
  if (s === "") return EVERYTHING;
  const reqs: Requirement[] = [];
  for (const raw of splitTerms(s)) {
    const term = raw.trim();
    if (term === "") throw new SelectorParseError(`found '', expected: identifier`);
    let m: RegExpExecArray | null;
    if ((m = /^!\s*([^\s!=(),]+)$/.exec(term))) {
      checkKey(m[1]!);
      reqs.push({ key: m[1]!, op: "!", values: [] });
    } else if ((m = /^([^\s!=(),]+)\s+(in|notin)\s*\(([^()]*)\)$/.exec(term))) {
      checkKey(m[1]!);
      const values = m[3]!
        .split(",")
        .map((v) => v.trim())
        .filter((v, _i, a) => !(v === "" && a.length === 1));
      for (const v of values) checkValue(v);
      reqs.push({ key: m[1]!, op: m[2] as "in" | "notin", values });
    } else if ((m = /^([^\s!=(),]+)\s*(==|=|!=)\s*([^\s!=(),]*)$/.exec(term))) {
      checkKey(m[1]!);
      checkValue(m[3]!);
      reqs.push({ key: m[1]!, op: m[2] === "!=" ? "!=" : "=", values: [m[3]!] });
    } else if ((m = /^([^\s!=(),]+)$/.exec(term))) {
      checkKey(m[1]!);
      reqs.push({ key: m[1]!, op: "exists", values: [] });
    } else {
      throw new SelectorParseError(`unable to parse requirement: found '${term}', expected: in, notin, =, ==, !=, gt, lt`);
    }
  }
  return build(reqs);
}

/** The metav1.LabelSelector object form, as workloads carry it. */
export interface LabelSelectorObject {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

/** Converts a metav1.LabelSelector to a matcher (nil selects nothing, empty selects everything). */
export function selectorFromObject(sel: LabelSelectorObject | undefined | null): LabelSelector | undefined {
  if (!sel) return undefined;
  const reqs: Requirement[] = [];
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) reqs.push({ key: k, op: "=", values: [v] });
  for (const e of sel.matchExpressions ?? []) {
    const op = e.operator.toLowerCase();
    if (op === "in" || op === "notin") reqs.push({ key: e.key, op, values: e.values ?? [] });
    else if (op === "exists") reqs.push({ key: e.key, op: "exists", values: [] });
    else if (op === "doesnotexist") reqs.push({ key: e.key, op: "!", values: [] });
    else throw new SelectorParseError(`"${e.operator}" is not a valid label selector operator`);
  }
  return build(reqs);
}
