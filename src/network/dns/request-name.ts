/**
 * Names as CoreDNS' kubernetes plugin reads them (plugin/kubernetes/parse.go
 * and plugin/pkg/dnsutil): the labels left of the zone are
 * `[_port._protocol.|endpoint.]service.namespace.svc` or
 * `podname.namespace.pod`. Names here are lowercase, without the trailing dot.
 */
import { isIP } from "node:net";
import { expandIPv6 } from "./cluster-index.js";

/** A parsed query name below the zone. Empty strings mean "not given". */
export interface RecordRequest {
  readonly port: string;
  readonly protocol: string;
  readonly endpoint: string;
  readonly service: string;
  readonly namespace: string;
  /** "svc", "pod", or "" for the zone itself, `svc.<zone>` and `pod.<zone>` (answered NODATA). */
  readonly podOrSvc: string;
}

/** The name could not be a cluster name (CoreDNS errInvalidRequest, answered NXDOMAIN). */
export const INVALID_REQUEST = Symbol("invalid query name");

const EMPTY: RecordRequest = Object.freeze({ port: "", protocol: "", endpoint: "", service: "", namespace: "", podOrSvc: "" });

/** `name` without `.zone` ("" when it is the zone). */
export function trimZone(name: string, zone: string): string {
  return name.length === zone.length ? "" : name.slice(0, name.length - zone.length - 1);
}

/** Whether `name` equals `zone` or lies below it. */
export function inZone(name: string, zone: string): boolean {
  return name === zone || (name.endsWith(zone) && name.charCodeAt(name.length - zone.length - 1) === 46 /* . */) || zone === "";
}

const stripUnderscore = (s: string): string => (s.startsWith("_") ? s.slice(1) : s);

/** CoreDNS parseRequest. */
export function parseRequest(name: string, zone: string): RecordRequest | typeof INVALID_REQUEST {
  const base = trimZone(name, zone);
  if (base === "" || base === "svc" || base === "pod") return EMPTY;
  const segs = base.split(".");
  let last = segs.length - 1;
  const podOrSvc = segs[last]!;
  if (podOrSvc !== "pod" && podOrSvc !== "svc") return INVALID_REQUEST;
  const r = { ...EMPTY, podOrSvc };
  if (--last < 0) return r;
  r.namespace = segs[last]!;
  if (--last < 0) return r;
  r.service = segs[last]!;
  if (--last < 0) return r;
  // One label left: an endpoint; two: port and protocol; more: too long.
  if (last === 0) r.endpoint = segs[0]!;
  else if (last === 1) {
    r.protocol = stripUnderscore(segs[1]!);
    r.port = stripUnderscore(segs[0]!);
  } else return INVALID_REQUEST;
  return r;
}

/** 1 for in-addr.arpa names, 2 for ip6.arpa names, else 0 (dnsutil.IsReverse). */
export function isReverse(name: string): number {
  if (name.endsWith("in-addr.arpa")) return 1;
  if (name.endsWith("ip6.arpa")) return 2;
  return 0;
}

/**
 * The address a reverse name stands for, or "" when it is not a complete
 * one (dnsutil.ExtractAddressFromReverse): 4 labels below in-addr.arpa, 32
 * nibbles below ip6.arpa.
 */
export function addressFromReverse(name: string): string {
  if (name.endsWith(".in-addr.arpa")) {
    const labels = name.slice(0, -".in-addr.arpa".length).split(".");
    if (labels.length !== 4) return "";
    const ip = labels.reverse().join(".");
    return isIP(ip) === 4 ? ip : "";
  }
  if (name.endsWith(".ip6.arpa")) {
    const labels = name.slice(0, -".ip6.arpa".length).split(".");
    if (labels.length !== 32 || labels.some((l) => !/^[0-9a-f]$/.test(l))) return "";
    const hex = labels.reverse().join("");
    const groups: string[] = [];
    for (let i = 0; i < 32; i += 4) groups.push(hex.slice(i, i + 4));
    return groups.join(":");
  }
  return "";
}

/** The reverse name of an IP (tests, clients): `4.3.2.1.in-addr.arpa`, or the 32 nibbles below ip6.arpa. */
export function reverseName(ip: string): string {
  const v = isIP(ip);
  if (v === 4) return `${ip.split(".").reverse().join(".")}.in-addr.arpa`;
  if (v === 6) return `${expandIPv6(ip).split("").reverse().join(".")}.ip6.arpa`;
  throw new Error(`not an IP address: ${ip}`);
}
