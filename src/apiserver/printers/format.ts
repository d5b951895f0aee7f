/**
 * Formatting helpers the upstream printers share: human durations
 * (k8s.io/apimachinery/pkg/util/duration), timestamp "since" cells, label maps
 * and label selectors as strings (labels.FormatLabels, metav1.FormatLabelSelector),
 * and container name/image cells (layoutContainerCells).
 */

const MS_SECOND = 1000;
const MS_MINUTE = 60 * MS_SECOND;
const MS_HOUR = 60 * MS_MINUTE;

/** Go's int() conversion of a float: truncation toward zero. */
function int(x: number): number {
  return Math.trunc(x);
}

/**
 * duration.HumanDuration: a succinct duration with ~2-3 significant figures
 * ("45s", "5m12s", "3h", "2d5h", "3y120d"). Durations below -1s are "<invalid>"
 * (clock skew of up to 2s reads as "0s").
 */
export function humanDuration(ms: number): string {
  const seconds = int(ms / MS_SECOND);
  if (seconds < -1) return "<invalid>";
  if (seconds < 0) return "0s";
  if (seconds < 60 * 2) return `${seconds}s`;
  const minutes = int(ms / MS_MINUTE);
  if (minutes < 10) {
    const s = int(ms / MS_SECOND) % 60;
    return s === 0 ? `${minutes}m` : `${minutes}m${s}s`;
  }
  if (minutes < 60 * 3) return `${minutes}m`;
  const hours = int(ms / MS_HOUR);
  if (hours < 8) {
    const m = int(ms / MS_MINUTE) % 60;
    return m === 0 ? `${hours}h` : `${hours}h${m}m`;
  }
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) {
    const h = hours % 24;
    return h === 0 ? `${int(hours / 24)}d` : `${int(hours / 24)}d${h}h`;
  }
  if (hours < 24 * 365 * 2) return `${int(hours / 24)}d`;
  if (hours < 24 * 365 * 8) {
    const dy = int(hours / 24) % 365;
    return dy === 0 ? `${int(hours / 24 / 365)}y` : `${int(hours / 24 / 365)}y${dy}d`;
  }
  return `${int(hours / 24 / 365)}y`;
}

/** duration.ShortHumanDuration: one unit only ("45s", "5m", "3h", "2d", "1y"). */
export function shortHumanDuration(ms: number): string {
  const seconds = int(ms / MS_SECOND);
  if (seconds < -1) return "<invalid>";
  if (seconds < 0) return "0s";
  if (seconds < 60) return `${seconds}s`;
  const minutes = int(ms / MS_MINUTE);
  if (minutes < 60) return `${minutes}m`;
  const hours = int(ms / MS_HOUR);
  if (hours < 24) return `${hours}h`;
  if (hours < 24 * 365) return `${int(hours / 24)}d`;
  return `${int(ms / MS_HOUR / 24 / 365)}y`;
}

/** Go's zero time.Time (0001-01-01T00:00:00Z), which metav1.Time.IsZero also treats as unset. */
const GO_ZERO_TIME = Date.parse("0001-01-01T00:00:00Z");

/**
 * Parses a metav1.Time / MicroTime (RFC 3339) to epoch milliseconds;
 * undefined when unset, unparseable or Go's zero time (metav1.Time.IsZero).
 */
export function parseTime(ts: unknown): number | undefined {
  if (typeof ts !== "string" || ts === "") return undefined;
  const t = Date.parse(ts);
  if (Number.isNaN(t) || t === GO_ZERO_TIME) return undefined;
  return t;
}

/** translateTimestampSince: HumanDuration(now - ts), or "<unknown>" for an unset time. */
export function since(ts: unknown, now: Date): string {
  const t = parseTime(ts);
  if (t === undefined) return "<unknown>";
  return humanDuration(now.getTime() - t);
}

/** Byte-order string comparison, as Go's sort.Strings (for ASCII, UTF-16 order agrees). */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** labels.Set(m).String(): sorted "k=v" joined by ",". */
export function labelSetString(m: Readonly<Record<string, string>> | null | undefined): string {
  return Object.entries(m ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .sort(compareStrings)
    .join(",");
}

/** labels.FormatLabels: the label set's string, or "<none>" when empty. */
export function formatLabels(m: Readonly<Record<string, string>> | null | undefined): string {
  const s = labelSetString(m);
  return s === "" ? "<none>" : s;
}

/** metav1.LabelSelector as objects carry it. */
export interface LabelSelectorLike {
  matchLabels?: Record<string, string> | null;
  matchExpressions?: { key: string; operator: string; values?: string[] | null }[] | null;
}

const NAME_PART = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** validation.IsQualifiedName, as labels.NewRequirement checks keys. */
function validLabelKey(key: string): boolean {
  const parts = key.split("/");
  let name = key;
  if (parts.length === 2) {
    const prefix = parts[0]!;
    if (prefix.length === 0 || prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix)) return false;
    name = parts[1]!;
  } else if (parts.length !== 1) {
    return false;
  }
  return name.length > 0 && name.length <= 63 && NAME_PART.test(name);
}

/** validation.IsValidLabelValue. */
function validLabelValue(v: string): boolean {
  return v === "" || (v.length <= 63 && NAME_PART.test(v));
}

interface Req {
  key: string;
  text: string;
}

/**
 * metav1.LabelSelectorAsSelector(...).String(): requirements sorted by key,
 * "k=v", "k in (a,b)", "k notin (a,b)", "k", "!k", joined by ",". A nil or empty
 * selector gives "". Returns undefined where upstream returns an error (bad
 * operator, bad key or value, wrong number of values).
 */
export function labelSelectorString(sel: LabelSelectorLike | null | undefined): string | undefined {
  if (!sel) return "";
  const reqs: Req[] = [];
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) {
    if (!validLabelKey(k) || !validLabelValue(v)) return undefined;
    reqs.push({ key: k, text: `${k}=${v}` });
  }
  for (const e of sel.matchExpressions ?? []) {
    const values = [...(e.values ?? [])];
    if (!validLabelKey(e.key)) return undefined;
    switch (e.operator) {
      case "In":
      case "NotIn": {
        if (values.length === 0 || !values.every(validLabelValue)) return undefined;
        const list = values.length === 1 ? values[0]! : [...values].sort(compareStrings).join(",");
        reqs.push({ key: e.key, text: `${e.key} ${e.operator === "In" ? "in" : "notin"} (${list})` });
        break;
      }
      case "Exists":
      case "DoesNotExist":
        if (values.length !== 0) return undefined;
        reqs.push({ key: e.key, text: e.operator === "Exists" ? e.key : `!${e.key}` });
        break;
      default:
        return undefined;
    }
  }
  // internalSelector.Add sorts by key; a stable sort keeps matchLabels first on ties.
  reqs.sort((a, b) => compareStrings(a.key, b.key));
  return reqs.map((r) => r.text).join(",");
}

/** metav1.FormatLabelSelector: "<error>" for an invalid selector, "<none>" for an empty one. */
export function formatLabelSelector(sel: LabelSelectorLike | null | undefined): string {
  const s = labelSelectorString(sel);
  if (s === undefined) return "<error>";
  return s === "" ? "<none>" : s;
}

/** layoutContainerCells: container names and images, each joined by ",". */
export function containerCells(containers: readonly { name: string; image?: string }[] | null | undefined): [string, string] {
  const list = containers ?? [];
  return [list.map((c) => c.name).join(","), list.map((c) => c.image ?? "").join(",")];
}

/** printBoolPtr: "True", "False" or "<unset>". */
export function boolPtr(v: boolean | null | undefined): string {
  if (v === undefined || v === null) return "<unset>";
  return v ? "True" : "False";
}

/** intstr.IntOrString.String(). */
export function intOrString(v: number | string): string {
  return typeof v === "number" ? String(v) : v;
}

/** net.JoinHostPort: brackets around IPv6 literals. */
export function joinHostPort(host: string, port: number | string): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/** The list-with-more form of several printers: "a,b,c + 2 more...", "<unset>" when empty. */
export function listWithMore(list: readonly string[], more: boolean, count: number, max: number): string {
  const ret = list.join(",");
  if (more) return `${ret} + ${count - max} more...`;
  return ret === "" ? "<unset>" : ret;
}

/** Sorted unique strings (sets.NewString(...).List()). */
export function sortedUnique(values: Iterable<string>): string[] {
  return [...new Set(values)].sort(compareStrings);
}
