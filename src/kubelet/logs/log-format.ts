/**
 * Container log line formats, as upstream's kuberuntime/logs parses them:
 * the CRI format every CRI runtime (and conmon's k8s-file driver) writes,
 *
 *     2016-10-06T00:17:09.669794202Z stdout P log content 1
 *     2016-10-06T00:17:09.669794203Z stderr F log content 2
 *
 * (`P` marks a partial line whose rest follows on the next line; `F` a full
 * one), and Docker's json-file format (`{"log":…,"stream":…,"time":…}`).
 * The format is picked from the first line of a file. Lines are Buffers:
 * container output need not be UTF-8.
 */

/** A parsed timestamp: exact to the nanosecond, and how to print it. */
export interface LogTimestamp {
  /** Nanoseconds since the epoch (what `since` compares). */
  readonly epochNs: bigint;
  /** RFC3339Nano with exactly nine fraction digits in the line's own offset (upstream's output layout). */
  readonly text: string;
}

/** One parsed log line. */
export interface LogMessage {
  readonly timestamp: LogTimestamp;
  readonly stream: "stdout" | "stderr";
  /** The content; ends with "\n" unless the line is partial (or the file's last, incomplete line). */
  readonly log: Buffer;
}

/** Parses one line (with its "\n", if any); a string says why it is not in this format. */
export type LogParser = (line: Buffer) => LogMessage | string;

const TS = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;

/** Go's time.Parse(time.RFC3339Nano, s), or undefined when `s` is not one. */
export function parseLogTimestamp(s: string): LogTimestamp | undefined {
  const m = TS.exec(s);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, sec, frac = "", zone] = m;
  if (Number(mo) < 1 || Number(mo) > 12 || Number(h) > 23 || Number(mi) > 59 || Number(sec) > 59) return undefined;
  const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(sec));
  // Day 31 of a 30-day month rolls over into the next: not a date.
  if (Number.isNaN(ms) || new Date(ms).getUTCDate() !== Number(d)) return undefined;
  let offsetMin = 0;
  if (zone !== "Z") {
    const sign = zone![0] === "-" ? -1 : 1;
    offsetMin = sign * (Number(zone!.slice(1, 3)) * 60 + Number(zone!.slice(4, 6)));
  }
  const nanos = frac.padEnd(9, "0");
  const epochNs = (BigInt(ms) - BigInt(offsetMin) * 60_000n) * 1_000_000n + BigInt(nanos);
  // Go prints a zero offset as "Z" whatever the input said.
  const outZone = offsetMin === 0 ? "Z" : zone!;
  return { epochNs, text: `${y}-${mo}-${d}T${h}:${mi}:${sec}.${nanos}${outZone}` };
}

const SPACE = 0x20;
const NL = 0x0a;

/** Upstream's parseCRILog. */
export const parseCriLine: LogParser = (line) => {
  let idx = line.indexOf(SPACE);
  if (idx < 0) return "timestamp is not found";
  const tsText = line.subarray(0, idx).toString("latin1");
  const timestamp = parseLogTimestamp(tsText);
  if (!timestamp) return `unexpected timestamp format "2006-01-02T15:04:05.999999999Z07:00": ${JSON.stringify(tsText)}`;
  let rest = line.subarray(idx + 1);
  idx = rest.indexOf(SPACE);
  if (idx < 0) return "stream type is not found";
  const stream = rest.subarray(0, idx).toString("latin1");
  if (stream !== "stdout" && stream !== "stderr") return `unexpected stream type ${JSON.stringify(stream)}`;
  rest = rest.subarray(idx + 1);
  idx = rest.indexOf(SPACE);
  if (idx < 0) return "log tag is not found";
  // Tags are ":"-separated for forward compatibility; the first says partial or full.
  const partial = rest.subarray(0, idx).toString("latin1").split(":")[0] === "P";
  let log = rest.subarray(idx + 1);
  // A partial line's "\n" is the file's line end, not the container's output.
  if (partial && log.length > 0 && log[log.length - 1] === NL) log = log.subarray(0, log.length - 1);
  return { timestamp, stream, log };
};

/** Upstream's parseDockerJSONLog (Docker's json-file driver, e.g. cri-dockerd). */
export const parseDockerJsonLine: LogParser = (line) => {
  let v: unknown;
  try {
    v = JSON.parse(line.toString("utf8"));
  } catch (err) {
    return `failed with ${(err as Error).message} to unmarshal log`;
  }
  const l = v as { log?: unknown; stream?: unknown; time?: unknown } | null;
  if (!l || typeof l !== "object" || typeof l.time !== "string") return "not a json-file log line";
  const timestamp = parseLogTimestamp(l.time);
  if (!timestamp) return `unexpected timestamp ${JSON.stringify(l.time)}`;
  if (l.stream !== "stdout" && l.stream !== "stderr") return `unexpected stream type ${JSON.stringify(l.stream)}`;
  return { timestamp, stream: l.stream, log: Buffer.from(typeof l.log === "string" ? l.log : "", "utf8") };
};

const PARSERS: readonly LogParser[] = [parseCriLine, parseDockerJsonLine];

/** The parser of the format `firstLine` is in, or an error as upstream's getParseFunc words it. */
export function parserFor(firstLine: Buffer): LogParser | string {
  for (const p of PARSERS) if (typeof p(firstLine) !== "string") return p;
  return `unsupported log format: ${JSON.stringify(firstLine.toString("utf8"))}`;
}

/** A CRI log line, as a runtime's log writer (conmon k8s-file) writes it; for tests and the simulated runtime. */
export function formatCriLine(at: Date | string, stream: "stdout" | "stderr", content: string, partial = false): string {
  const ts = typeof at === "string" ? at : at.toISOString().replace(/\.(\d{3})Z$/, ".$1000000Z");
  return `${ts} ${stream} ${partial ? "P" : "F"} ${content}\n`;
}
