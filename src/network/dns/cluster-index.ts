/**
 * What the cluster DNS knows about the cluster: Services, the endpoints of
 * their EndpointSlices and the Namespaces, reduced to what answers need
 * (CoreDNS' kubernetes plugin keeps the same reduced `object.Service` and
 * `object.Endpoints` in its informer caches). Fed by informer events
 * (sources.ts) or directly by tests and the benchmark.
 *
 * Every change bumps {@link ClusterIndex.generation}, which invalidates
 * answers cached from an older view, and stamps {@link ClusterIndex.modified}
 * (the SOA serial, as CoreDNS' `APIConn.Modified`).
 */
import { isIP } from "node:net";
import type { Namespace, Service } from "kubernetes-types/core/v1.js";
import type { EndpointSlice } from "kubernetes-types/discovery/v1.js";

/** A port of a Service or an endpoint. Port -1 is CoreDNS' sentinel for "no ports declared". */
export interface DnsPort {
  readonly name: string;
  readonly protocol: string;
  readonly port: number;
}

/** A Service as DNS sees it. */
export interface DnsService {
  readonly name: string;
  readonly namespace: string;
  readonly type: string;
  /** `spec.clusterIPs` (or `[spec.clusterIP]`); `["None"]` for a headless Service. */
  readonly clusterIPs: readonly string[];
  readonly externalName: string;
  readonly ports: readonly DnsPort[];
}

/** One ready endpoint address of a Service. */
export interface DnsEndpoint {
  readonly ip: string;
  /** The endpoint's `hostname`, or "" (then the IP with dashes names it, see {@link endpointHostname}). */
  readonly hostname: string;
  readonly ports: readonly DnsPort[];
}

const SERVICE_NAME_LABEL = "kubernetes.io/service-name";
const NO_PORTS: readonly DnsPort[] = Object.freeze([{ name: "", protocol: "", port: -1 }]);

/** `ns/name`, the key of a Service (and of the endpoints of its slices). */
export const serviceKey = (namespace: string, name: string): string => `${namespace}/${name}`;

/** True when a Service is headless (CoreDNS: the first ClusterIP is "None"). */
export function isHeadless(svc: DnsService): boolean {
  return svc.clusterIPs[0] === "None";
}

/**
 * The DNS label of an endpoint, as CoreDNS' endpointHostname: its hostname,
 * else its IP with `.` (IPv4) or `:` (IPv6) replaced by `-`.
 */
export function endpointHostname(ep: DnsEndpoint): string {
  if (ep.hostname !== "") return ep.hostname;
  if (ep.ip.includes(".")) return ep.ip.replaceAll(".", "-");
  if (ep.ip.includes(":")) return ep.ip.replaceAll(":", "-");
  return "";
}

/** The reduced form of a Service (CoreDNS object.ToService). */
export function toDnsService(svc: Service): DnsService {
  const spec = svc.spec ?? {};
  const ips = spec.clusterIPs && spec.clusterIPs.length > 0 ? [...spec.clusterIPs] : [spec.clusterIP ?? ""];
  const ports = (spec.ports ?? []).map((p) => ({ name: p.name ?? "", protocol: p.protocol ?? "TCP", port: p.port }));
  return {
    name: svc.metadata?.name ?? "",
    namespace: svc.metadata?.namespace ?? "",
    type: spec.type ?? "ClusterIP",
    clusterIPs: ips,
    externalName: spec.externalName ?? "",
    ports: ports.length > 0 ? ports : NO_PORTS,
  };
}

/**
 * The ready addresses of a slice (CoreDNS EndpointSliceToEndpoints): an
 * endpoint whose `ready` condition is unset counts as ready (the API's
 * "unknown, interpret as ready"). The EndpointSlice controller already marks
 * every endpoint ready for a Service with `publishNotReadyAddresses`.
 * Slices of addressType FQDN (deprecated) carry no addresses DNS can serve.
 */
export function sliceEndpoints(slice: EndpointSlice): DnsEndpoint[] {
  if (slice.addressType !== "IPv4" && slice.addressType !== "IPv6") return [];
  const declared = (slice.ports ?? []).map((p) => ({ name: p.name ?? "", protocol: p.protocol ?? "TCP", port: p.port ?? -1 }));
  const ports = declared.length > 0 ? declared : NO_PORTS;
  const out: DnsEndpoint[] = [];
  for (const ep of slice.endpoints ?? []) {
    if (ep.conditions?.ready === false) continue;
    for (const ip of ep.addresses ?? []) {
      if (isIP(ip) === 0) continue;
      out.push({ ip, hostname: ep.hostname ?? "", ports });
    }
  }
  return out;
}

/** Expands an IPv6 address to 32 lowercase hex digits, so differently written addresses compare equal. */
export function expandIPv6(ip: string): string {
  let [head, tail] = ip.includes("::") ? ip.split("::", 2) : [ip, undefined];
  const parts = (s: string | undefined) => (s ? s.split(":") : []);
  let h = parts(head);
  let t = parts(tail);
  // An embedded IPv4 tail (::ffff:1.2.3.4) is two groups.
  const v4 = (arr: string[]) => {
    const last = arr[arr.length - 1];
    if (last?.includes(".")) {
      const b = last.split(".").map(Number);
      arr.splice(arr.length - 1, 1, ((b[0]! << 8) | b[1]!).toString(16), ((b[2]! << 8) | b[3]!).toString(16));
    }
    return arr;
  };
  if (tail === undefined) h = v4(h);
  else t = v4(t);
  const fill = tail === undefined ? [] : new Array<string>(8 - h.length - t.length).fill("0");
  head = [...h, ...fill, ...t].map((g) => g.padStart(4, "0")).join("");
  return head.toLowerCase();
}

/** A key under which an IP is indexed: IPv4 as written, IPv6 expanded. */
export function ipKey(ip: string): string {
  return ip.includes(":") ? expandIPv6(ip) : ip;
}

/** The cluster's Services, endpoints and Namespaces, indexed for lookups. */
export class ClusterIndex {
  readonly #services = new Map<string, DnsService>();
  /** Endpoints by Service key, then by slice key. */
  readonly #endpoints = new Map<string, Map<string, DnsEndpoint[]>>();
  /** The Service key each slice was filed under (a slice's label can change). */
  readonly #sliceOwner = new Map<string, string>();
  readonly #namespaces = new Set<string>();
  #generation = 0;
  #modified: number;
  #reverseGeneration = -1;
  #byClusterIP = new Map<string, DnsService[]>();
  #byEndpointIP = new Map<string, { namespace: string; service: string; ep: DnsEndpoint }[]>();
  readonly #now: () => number;

  constructor(opts: { now?: () => number } = {}) {
    this.#now = opts.now ?? Date.now;
    this.#modified = Math.floor(this.#now() / 1000);
  }

  /** Bumped on every change. */
  get generation(): number {
    return this.#generation;
  }

  /** Unix seconds of the last change of a Service or endpoints (the SOA serial). */
  get modified(): number {
    return this.#modified;
  }

  #touch(serial: boolean): void {
    this.#generation++;
    if (serial) this.#modified = Math.floor(this.#now() / 1000);
  }

  setService(svc: Service): void {
    const s = toDnsService(svc);
    this.#services.set(serviceKey(s.namespace, s.name), s);
    this.#touch(true);
  }

  deleteService(svc: Service): void {
    this.#services.delete(serviceKey(svc.metadata?.namespace ?? "", svc.metadata?.name ?? ""));
    this.#touch(true);
  }

  setEndpointSlice(slice: EndpointSlice): void {
    const ns = slice.metadata?.namespace ?? "";
    const key = serviceKey(ns, slice.metadata?.name ?? "");
    this.#removeSlice(key);
    const svcName = slice.metadata?.labels?.[SERVICE_NAME_LABEL];
    if (svcName) {
      const owner = serviceKey(ns, svcName);
      let m = this.#endpoints.get(owner);
      if (!m) this.#endpoints.set(owner, (m = new Map()));
      m.set(key, sliceEndpoints(slice));
      this.#sliceOwner.set(key, owner);
    }
    this.#touch(true);
  }

  deleteEndpointSlice(slice: EndpointSlice): void {
    this.#removeSlice(serviceKey(slice.metadata?.namespace ?? "", slice.metadata?.name ?? ""));
    this.#touch(true);
  }

  #removeSlice(key: string): void {
    const owner = this.#sliceOwner.get(key);
    if (owner === undefined) return;
    this.#sliceOwner.delete(key);
    const m = this.#endpoints.get(owner);
    m?.delete(key);
    if (m?.size === 0) this.#endpoints.delete(owner);
  }

  setNamespace(ns: Namespace): void {
    this.#namespaces.add(ns.metadata?.name ?? "");
    this.#touch(false);
  }

  deleteNamespace(ns: Namespace): void {
    this.#namespaces.delete(ns.metadata?.name ?? "");
    this.#touch(false);
  }

  /** Whether a Namespace of that name exists. */
  hasNamespace(name: string): boolean {
    return this.#namespaces.has(name);
  }

  service(namespace: string, name: string): DnsService | undefined {
    return this.#services.get(serviceKey(namespace, name));
  }

  /** Every ready endpoint of a Service, over all its slices. */
  endpoints(namespace: string, name: string): DnsEndpoint[] {
    const m = this.#endpoints.get(serviceKey(namespace, name));
    if (!m) return [];
    if (m.size === 1) return m.values().next().value!;
    return [...m.values()].flat();
  }

  /** Services with this ClusterIP. */
  servicesByClusterIP(ip: string): readonly DnsService[] {
    this.#reindex();
    return this.#byClusterIP.get(ipKey(ip)) ?? [];
  }

  /** Endpoints with this IP, with the namespace and name of their Service. */
  endpointsByIP(ip: string): readonly { namespace: string; service: string; ep: DnsEndpoint }[] {
    this.#reindex();
    return this.#byEndpointIP.get(ipKey(ip)) ?? [];
  }

  /** Reverse indexes are rebuilt on the first PTR lookup after a change, not on every event. */
  #reindex(): void {
    if (this.#reverseGeneration === this.#generation) return;
    const byIP = new Map<string, DnsService[]>();
    for (const s of this.#services.values()) {
      for (const ip of s.clusterIPs) {
        if (isIP(ip) === 0) continue;
        const k = ipKey(ip);
        const list = byIP.get(k);
        if (list) list.push(s);
        else byIP.set(k, [s]);
      }
    }
    const byEp = new Map<string, { namespace: string; service: string; ep: DnsEndpoint }[]>();
    for (const [svc, slices] of this.#endpoints) {
      const [namespace = "", service = ""] = svc.split("/", 2);
      for (const eps of slices.values()) {
        for (const ep of eps) {
          const k = ipKey(ep.ip);
          const list = byEp.get(k);
          if (list) list.push({ namespace, service, ep });
          else byEp.set(k, [{ namespace, service, ep }]);
        }
      }
    }
    this.#byClusterIP = byIP;
    this.#byEndpointIP = byEp;
    this.#reverseGeneration = this.#generation;
  }
}
