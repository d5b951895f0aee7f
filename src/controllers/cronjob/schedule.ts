/**
 * CronJob schedules, read as upstream reads them (robfig/cron v3's
 * `ParseStandard`): five fields (minute, hour, day of month, month, day of
 * week) with `*`, `?`, lists, ranges, steps and JAN-DEC/SUN-SAT names; the
 * descriptors `@yearly`, `@annually`, `@monthly`, `@weekly`, `@daily`,
 * `@midnight`, `@hourly` and `@every <duration>`; an optional `TZ=` or
 * `CRON_TZ=` prefix. Errors are worded as robfig's.
 *
 * The fields are parsed and checked here, then handed to croner as plain
 * numeric lists to find the next time in the schedule's time zone; day of
 * month and day of week combine as in cron (either matches, unless one of
 * them is a plain `*`).
 */
import { Cron } from "croner";

/** When a schedule fires. */
export interface CronSchedule {
  /** The first activation strictly after `afterMs` (epoch ms), or undefined if there is none within croner's range. */
  next(afterMs: number): number | undefined;
}

interface Bounds {
  readonly min: number;
  readonly max: number;
  readonly names?: Readonly<Record<string, number>>;
}

const MINUTES: Bounds = { min: 0, max: 59 };
const HOURS: Bounds = { min: 0, max: 23 };
const DOM: Bounds = { min: 1, max: 31 };
const MONTHS: Bounds = { min: 1, max: 12, names: { jan: 1, feb: 2, mar: 3, apr: 4, may: 5, jun: 6, jul: 7, aug: 8, sep: 9, oct: 10, nov: 11, dec: 12 } };
const DOW: Bounds = { min: 0, max: 6, names: { sun: 0, mon: 1, tue: 2, wed: 3, thu: 4, fri: 5, sat: 6 } };

const DESCRIPTORS: Readonly<Record<string, string>> = {
  "@yearly": "0 0 1 1 *",
  "@annually": "0 0 1 1 *",
  "@monthly": "0 0 1 * *",
  "@weekly": "0 0 * * 0",
  "@daily": "0 0 * * *",
  "@midnight": "0 0 * * *",
  "@hourly": "0 * * * *",
};

/** One parsed field: its values, and whether it was a plain `*` or `?` (robfig's star bit). */
interface Field {
  readonly values: ReadonlySet<number>;
  readonly star: boolean;
}

/** Whether `zone` names a time zone this process knows (Go's `time.LoadLocation`; "" and "UTC" are UTC). */
export function isKnownTimeZone(zone: string): boolean {
  if (zone === "" || zone === "UTC" || zone === "Local") return true;
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** The zone of this process (the `Local` of Go). */
export function localTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

/** Go's `time.LoadLocation` error text. */
export function unknownTimeZoneMessage(zone: string): string {
  return `unknown time zone ${zone}`;
}

/**
 * Parses a schedule as robfig's `cron.ParseStandard`; throws an Error with
 * robfig's message when it is invalid. `timeZone` applies when the spec
 * has no `TZ=` prefix; without either, the schedule runs in this process's
 * zone, as upstream's does in kube-controller-manager's.
 */
export function parseStandard(spec: string, timeZone?: string): CronSchedule {
  if (spec.length === 0) throw new Error("empty spec string");
  let rest = spec;
  let zone = timeZone;
  if (rest.startsWith("TZ=") || rest.startsWith("CRON_TZ=")) {
    const i = rest.indexOf(" ");
    const eq = rest.indexOf("=");
    const name = i < 0 ? rest.slice(eq + 1) : rest.slice(eq + 1, i);
    if (!isKnownTimeZone(name)) throw new Error(`provided bad location ${name}: ${unknownTimeZoneMessage(name)}`);
    zone = name;
    rest = i < 0 ? "" : rest.slice(i).trim();
  }
  if (rest.startsWith("@")) {
    if (rest.startsWith("@every ")) return everySchedule(rest.slice("@every ".length));
    const expanded = DESCRIPTORS[rest];
    if (!expanded) throw new Error(`unrecognized descriptor: ${rest}`);
    rest = expanded;
  }
  const fields = rest.split(/\s+/).filter((f) => f !== "");
  if (fields.length !== 5) throw new Error(`expected exactly 5 fields, found ${fields.length}: [${fields.join(" ")}]`);
  const [minute, hour, dom, month, dow] = [
    getField(fields[0]!, MINUTES),
    getField(fields[1]!, HOURS),
    getField(fields[2]!, DOM),
    getField(fields[3]!, MONTHS),
    getField(fields[4]!, DOW),
  ];
  const list = (f: Field) => [...f.values].sort((a, b) => a - b).join(",");
  // Only a plain `*` keeps cron's star meaning for the day fields; `*/2` is a list like any other.
  const pattern = [list(minute), list(hour), dom.star ? "*" : list(dom), list(month), dow.star ? "*" : list(dow)].join(" ");
  const cron = new Cron(pattern, { mode: "5-part", timezone: zone === undefined || zone === "Local" ? localTimeZone() : zone === "" ? "UTC" : zone });
  return {
    next(afterMs) {
      const d = cron.nextRun(new Date(afterMs));
      return d ? d.getTime() : undefined;
    },
  };
}

/** A comma-separated list of ranges (robfig's `getField`). */
function getField(field: string, b: Bounds): Field {
  const values = new Set<number>();
  let star = false;
  for (const expr of field.split(",")) {
    const r = getRange(expr, b);
    star ||= r.star;
    for (const v of r.values) values.add(v);
  }
  return { values, star };
}

/** One range: `*`, `?`, `N`, `N-M`, each optionally `/step` (robfig's `getRange`). */
function getRange(expr: string, b: Bounds): { values: number[]; star: boolean } {
  const rangeAndStep = expr.split("/");
  const lowAndHigh = rangeAndStep[0]!.split("-");
  const singleDigit = lowAndHigh.length === 1;
  let start: number;
  let end: number;
  let star = false;
  if (lowAndHigh[0] === "*" || lowAndHigh[0] === "?") {
    start = b.min;
    end = b.max;
    star = true;
  } else {
    start = parseIntOrName(lowAndHigh[0]!, b.names);
    if (lowAndHigh.length === 1) end = start;
    else if (lowAndHigh.length === 2) end = parseIntOrName(lowAndHigh[1]!, b.names);
    else throw new Error(`too many hyphens: ${expr}`);
  }
  let step = 1;
  if (rangeAndStep.length === 2) {
    step = mustParseInt(rangeAndStep[1]!);
    // "N/step" means "N-max/step".
    if (singleDigit) end = b.max;
    if (step > 1) star = false;
  } else if (rangeAndStep.length > 2) {
    throw new Error(`too many slashes: ${expr}`);
  }
  if (start < b.min) throw new Error(`beginning of range (${start}) below minimum (${b.min}): ${expr}`);
  if (end > b.max) throw new Error(`end of range (${end}) above maximum (${b.max}): ${expr}`);
  if (start > end) throw new Error(`beginning of range (${start}) beyond end of range (${end}): ${expr}`);
  if (step === 0) throw new Error(`step of range should be a positive number: ${expr}`);
  const values: number[] = [];
  for (let v = start; v <= end; v += step) values.push(v);
  return { values, star };
}

function parseIntOrName(expr: string, names: Bounds["names"]): number {
  const named = names?.[expr.toLowerCase()];
  return named ?? mustParseInt(expr);
}

function mustParseInt(expr: string): number {
  if (!/^[+-]?\d+$/.test(expr)) throw new Error(`failed to parse int from ${expr}: strconv.Atoi: parsing ${JSON.stringify(expr)}: invalid syntax`);
  const n = Number(expr);
  if (n < 0) throw new Error(`negative number (${n}) not allowed: ${expr}`);
  return n;
}

const UNIT_MS: Readonly<Record<string, number>> = { ns: 1e-6, us: 1e-3, "µs": 1e-3, "μs": 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Go's `time.ParseDuration`, in ms; throws Go's message on bad input. */
export function parseGoDuration(s: string): number {
  const m = /^([+-]?)((?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+$/.exec(s);
  if (s === "0") return 0;
  if (!m) throw new Error(`time: invalid duration ${JSON.stringify(s)}`);
  let total = 0;
  for (const part of s.matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g)) total += Number(part[1]) * UNIT_MS[part[2]!]!;
  return m[1] === "-" ? -total : total;
}

/** `@every <duration>`: robfig's ConstantDelaySchedule (whole seconds, at least one). */
function everySchedule(text: string): CronSchedule {
  let ms: number;
  try {
    ms = parseGoDuration(text);
  } catch (err) {
    throw new Error(`failed to parse duration ${text}: ${(err as Error).message}`);
  }
  const delay = ms < 1000 ? 1000 : ms - (ms % 1000);
  return { next: (afterMs) => afterMs - (((afterMs % 1000) + 1000) % 1000) + delay };
}
