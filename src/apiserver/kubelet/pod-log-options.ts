/**
 * core/v1 PodLogOptions as query parameters: decoded as upstream's
 * parameter codec does (booleans false only for "0"/"false", int64s by
 * strconv.ParseInt, sinceTime as RFC 3339), validated as upstream's
 * ValidatePodLogOptions, and encoded again for the kubelet as upstream's
 * LogLocation does. Shared by the API server (`pods/log`) and the kubelet
 * (`/containerLogs`), which both decode and validate the same options.
 */
import { goNumber, goString, forbidden, invalidValue, notSupported } from "../../machinery/field-errors.js";
import type { FieldError } from "../../machinery/status-error.js";

/** Which stream's lines to return (PodLogOptions.stream, since 1.32). */
export type LogStream = "Stdout" | "Stderr" | "All";

/** Decoded PodLogOptions. Absent optional fields are undefined (nil pointers upstream). */
export interface PodLogOptions {
  readonly container?: string;
  readonly follow: boolean;
  readonly previous: boolean;
  readonly sinceSeconds?: number;
  /** Epoch milliseconds (RFC 3339 carries whole seconds; fractions are kept). */
  readonly sinceTime?: number;
  readonly timestamps: boolean;
  readonly tailLines?: number;
  readonly limitBytes?: number;
  readonly insecureSkipTLSVerifyBackend: boolean;
  readonly stream?: LogStream;
}

/** A query that does not decode; `message` is Go's wording of the parse error. */
export class LogOptionsDecodeError extends Error {
  override name = "LogOptionsDecodeError";
}

/** runtime.Convert_Slice_string_To_bool: only "0" and "false" (any case) are false. */
function bool(q: URLSearchParams, name: string): boolean {
  const v = q.get(name);
  if (v === null) return false;
  return !(v === "0" || v.toLowerCase() === "false");
}

const INT64_MAX = (1n << 63n) - 1n;
const INT64_MIN = -(1n << 63n);

/** strconv.ParseInt(s, 10, 64), with Go's error text. */
function int64(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name);
  if (v === null || v === "") return undefined;
  if (!/^[+-]?[0-9]+$/.test(v)) throw new LogOptionsDecodeError(`strconv.ParseInt: parsing ${JSON.stringify(v)}: invalid syntax`);
  const n = BigInt(v);
  if (n > INT64_MAX || n < INT64_MIN) throw new LogOptionsDecodeError(`strconv.ParseInt: parsing ${JSON.stringify(v)}: value out of range`);
  return Number(n);
}

/** Go's time.RFC3339 layout as time.Parse accepts it (fractional seconds allowed). */
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** Parses an RFC 3339 time to epoch milliseconds, or undefined when malformed. */
export function parseRfc3339(s: string): number | undefined {
  const m = RFC3339.exec(s);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, sec, frac, zone] = m;
  if (Number(mo) < 1 || Number(mo) > 12 || Number(d) < 1 || Number(d) > 31 || Number(h) > 23 || Number(mi) > 59 || Number(sec) > 59) return undefined;
  let ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(sec));
  if (new Date(ms).getUTCDate() !== Number(d)) return undefined;
  if (frac) ms += Math.floor(Number(`0${frac}`) * 1000);
  if (zone !== "Z") {
    const sign = zone![0] === "-" ? -1 : 1;
    ms -= sign * (Number(zone!.slice(1, 3)) * 60 + Number(zone!.slice(4, 6))) * 60_000;
  }
  return ms;
}

/**
 * Decodes PodLogOptions from a query. The kubelet's legacy `tail` parameter
 * is honoured when `legacyTail` is set (`tail=all` means no limit), as
 * upstream's getContainerLogs does.
 */
export function decodePodLogOptions(query: URLSearchParams, opts: { legacyTail?: boolean } = {}): PodLogOptions {
  const q = new URLSearchParams(query);
  if (opts.legacyTail) {
    const tail = q.get("tail");
    if (tail) {
      if (tail === "all") q.delete("tailLines");
      else q.set("tailLines", tail);
    }
  }
  let sinceTime: number | undefined;
  const st = q.get("sinceTime");
  if (st !== null && st !== "" && st !== "null") {
    sinceTime = parseRfc3339(st);
    if (sinceTime === undefined) {
      throw new LogOptionsDecodeError(`parsing time ${JSON.stringify(st)} as "2006-01-02T15:04:05Z07:00": cannot parse ${JSON.stringify(st)} as RFC 3339`);
    }
  }
  const streamValue = q.get("stream");
  const container = q.get("container");
  return {
    ...(container ? { container } : {}),
    follow: bool(q, "follow"),
    previous: bool(q, "previous"),
    sinceSeconds: int64(q, "sinceSeconds"),
    sinceTime,
    timestamps: bool(q, "timestamps"),
    tailLines: int64(q, "tailLines"),
    limitBytes: int64(q, "limitBytes"),
    insecureSkipTLSVerifyBackend: bool(q, "insecureSkipTLSVerifyBackend"),
    ...(streamValue !== null ? { stream: streamValue as LogStream } : {}),
  };
}

const STREAMS: readonly LogStream[] = ["All", "Stderr", "Stdout"];

/** Upstream's ValidatePodLogOptions. */
export function validatePodLogOptions(o: PodLogOptions): FieldError[] {
  const errs: FieldError[] = [];
  if (o.tailLines !== undefined && o.tailLines < 0) errs.push(invalidValue("tailLines", goNumber(o.tailLines), "must be greater than or equal to 0"));
  if (o.limitBytes !== undefined && o.limitBytes < 1) errs.push(invalidValue("limitBytes", goNumber(o.limitBytes), "must be greater than 0"));
  if (o.sinceSeconds !== undefined && o.sinceTime !== undefined) {
    errs.push(forbidden("", "at most one of `sinceTime` or `sinceSeconds` may be specified"));
  } else if (o.sinceSeconds !== undefined && o.sinceSeconds < 1) {
    errs.push(invalidValue("sinceSeconds", goNumber(o.sinceSeconds), "must be greater than 0"));
  }
  if (o.stream !== undefined) {
    if (!STREAMS.includes(o.stream)) errs.push(notSupported("stream", goString(o.stream), STREAMS));
    else if (o.stream !== "All" && o.tailLines !== undefined) errs.push(forbidden("", "`tailLines` and specific `stream` are mutually exclusive for now"));
  }
  return errs;
}

/** RFC 3339 in UTC with whole seconds, as Go's `Format(time.RFC3339)`. */
function formatRfc3339(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z");
}

/** The kubelet's `/containerLogs` query for `o`, as upstream's LogLocation builds it (sorted, as url.Values.Encode). */
export function kubeletLogQuery(o: PodLogOptions): string {
  const p: [string, string][] = [];
  if (o.follow) p.push(["follow", "true"]);
  if (o.previous) p.push(["previous", "true"]);
  if (o.timestamps) p.push(["timestamps", "true"]);
  if (o.sinceSeconds !== undefined) p.push(["sinceSeconds", String(o.sinceSeconds)]);
  if (o.sinceTime !== undefined) p.push(["sinceTime", formatRfc3339(o.sinceTime)]);
  if (o.tailLines !== undefined) p.push(["tailLines", String(o.tailLines)]);
  if (o.limitBytes !== undefined) p.push(["limitBytes", String(o.limitBytes)]);
  if (o.stream !== undefined) p.push(["stream", o.stream]);
  p.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return new URLSearchParams(p).toString();
}
