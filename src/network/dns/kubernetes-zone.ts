/**
 * The answers of CoreDNS' kubernetes plugin (plugin/kubernetes, with the
 * record builders of plugin/backend_lookup.go), configured as upstream's
 * and k3s' Corefile configure it:
 *
 *     kubernetes cluster.local in-addr.arpa ip6.arpa {
 *       pods insecure
 *       fallthrough in-addr.arpa ip6.arpa
 *     }
 *
 * - `svc.ns.svc.zone`: A/AAAA of the ClusterIPs; for a headless Service one
 *   record per ready endpoint; ExternalName → CNAME (chased for A/AAAA);
 *   `endpoint.svc.ns.svc.zone` for endpoints by hostname (or dashed IP);
 *   SRV `_port._proto.svc.ns.svc.zone` (and plain SRV for all ports) with
 *   the targets' addresses as additional records.
 * - `a-b-c-d.ns.pod.zone` (pods insecure: any IP, in a Namespace that exists).
 * - PTR for ClusterIPs and endpoint IPs; other reverse names fall through
 *   to the forwarder.
 * - NXDOMAIN for names that cannot exist, NODATA (NOERROR, SOA in the
 *   authority section) for names that exist without records of the type;
 *   `dns-version.zone` TXT "1.1.0"; SOA and NS at the apex; `ns.dns.zone`.
 *
 * Pure and synchronous: the one answer that needs the outside world (the
 * target of an ExternalName CNAME) is asked for through `external`, and the
 * caller runs the lookup and asks again (see {@link KubernetesZone.resolve}).
 */
import type { Answer, SrvAnswer, StringAnswer } from "dns-packet";
import { isIP } from "node:net";
import { type ClusterIndex, type DnsEndpoint, type DnsService, endpointHostname, isHeadless } from "./cluster-index.js";
import { addressFromReverse, INVALID_REQUEST, inZone, isReverse, parseRequest, type RecordRequest, trimZone } from "./request-name.js";

/** DNS response codes used here. */
export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;

/** The schema version of the Kubernetes DNS specification CoreDNS serves as `dns-version` TXT. */
export const DNS_SCHEMA_VERSION = "1.1.0";

/** Settings of the zone. */
export interface KubernetesZoneOptions {
  readonly index: ClusterIndex;
  /** The cluster domain, e.g. `cluster.local` (no trailing dot). */
  readonly domain: string;
  /** TTL of every record (CoreDNS `ttl`, default 5). */
  readonly ttl: number;
  /** Addresses of this DNS server for `ns.dns.<zone>` and the apex NS (default: the `kube-system/kube-dns` ClusterIPs). */
  readonly nsAddresses: () => readonly string[];
  /** False until the informers have listed: name errors are then SERVFAIL, as CoreDNS answers before its first sync. */
  readonly synced: () => boolean;
}

/** What to answer. */
export type ZoneOutcome =
  /** Not a name of these zones, or a reverse name nothing here claims: ask the forwarder. */
  | { readonly kind: "next" }
  | {
      readonly kind: "reply";
      readonly rcode: number;
      readonly answers: Answer[];
      readonly authorities: Answer[];
      readonly additionals: Answer[];
      /** An upstream answer (of a chased CNAME) was truncated. */
      readonly truncated: boolean;
      /** The AA bit: set on everything but refusals. */
      readonly authoritative: boolean;
    };

/** An upstream's answer to a lookup the zone needed. */
export interface ExternalAnswer {
  readonly answers: readonly Answer[];
  /** The upstream's reply had the TC bit: the client should ask again over TCP. */
  readonly truncated: boolean;
}

/** Lookups of names outside the zone that an answer needs, by {@link externalKey}; `null` for a failed lookup. */
export type ExternalAnswers = ReadonlyMap<string, ExternalAnswer | null>;

/** The key of an external lookup in {@link ExternalAnswers}. */
export const externalKey = (name: string, type: string): string => `${name.toLowerCase()}|${type}`;

/** A record source, as CoreDNS' msg.Service: `host` is an IP, a CNAME target, or empty with `text`. */
interface Entry {
  /** The name the entry stands for (SRV targets, NS names): msg.Domain(key). */
  readonly domain: string;
  readonly host: string;
  readonly port: number;
  readonly ttl: number;
  readonly text?: string;
}

const NAME_ERROR = Symbol("name error");
type Found = Entry[] | typeof NAME_ERROR;

type HostType = "A" | "AAAA" | "CNAME" | "TXT";
function hostType(e: Entry): HostType {
  const v = isIP(e.host);
  if (v === 4) return "A";
  if (v === 6) return "AAAA";
  return e.text === undefined ? "CNAME" : "TXT";
}

const eqFold = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();
/** CoreDNS matchPortAndProtocol: an empty request field matches anything. */
const portMatches = (r: RecordRequest, name: string, protocol: string): boolean =>
  (r.port === "" || eqFold(r.port, name)) && (r.protocol === "" || eqFold(r.protocol, protocol));

/** One query being answered. */
interface State {
  /** The name as asked (case kept), no trailing dot. */
  readonly qname: string;
  /** Lowercase. */
  readonly name: string;
  readonly type: string;
  /** The zone as it appears in `qname`, and lowercase. */
  readonly zoneOrig: string;
  readonly zone: string;
  readonly external: ExternalAnswers;
  /** External lookups this answer still needs. */
  readonly needs: { name: string; type: string }[];
  truncated: boolean;
}

/** The cluster's zones: the cluster domain and the two reverse zones. */
export class KubernetesZone {
  readonly #o: KubernetesZoneOptions;
  readonly #zones: readonly string[];
  readonly #domain: string;

  constructor(o: KubernetesZoneOptions) {
    this.#o = o;
    this.#domain = o.domain.toLowerCase().replace(/\.$/, "");
    this.#zones = [this.#domain, "in-addr.arpa", "ip6.arpa"];
  }

  /** The cluster domain (lowercase, no trailing dot). */
  get domain(): string {
    return this.#domain;
  }

  /**
   * Answers one question (CoreDNS kubernetes ServeDNS). `qname` may carry
   * a trailing dot; its case is kept in the answer. When the answer needs
   * external lookups that `external` does not hold yet, they are listed in
   * `needs`: run them and call again with their results.
   */
  resolve(qname: string, qtype: string, external: ExternalAnswers = new Map()): { outcome: ZoneOutcome; needs: { name: string; type: string }[] } {
    const q = qname.endsWith(".") ? qname.slice(0, -1) : qname;
    const name = q.toLowerCase();
    let zone = "";
    for (const z of this.#zones) if (inZone(name, z) && z.length > zone.length) zone = z;
    if (zone === "") return { outcome: { kind: "next" }, needs: [] };
    const st: State = { qname: q, name, type: qtype, zoneOrig: q.slice(q.length - zone.length), zone, external, needs: [], truncated: false };
    return { outcome: this.#serve(st), needs: st.needs };
  }

  #serve(st: State): ZoneOutcome {
    let records: Answer[] = [];
    let extra: Answer[] = [];
    let found: Found | undefined;
    switch (st.type) {
      case "AXFR":
      case "IXFR":
        return reply(RCODE.REFUSED, [], [], [], false, false);
      case "A":
      case "AAAA": {
        const r = this.#address(st, st.type, []);
        if (r === NAME_ERROR) found = NAME_ERROR;
        else records = r;
        break;
      }
      case "TXT": {
        const r = this.#services(st, "TXT");
        if (r === NAME_ERROR) found = NAME_ERROR;
        else for (const e of r) if (hostType(e) === "TXT") records.push({ name: st.qname, type: "TXT", class: "IN", ttl: e.ttl, data: e.text ?? "" });
        break;
      }
      case "CNAME": {
        const r = this.#services(st, "CNAME");
        if (r === NAME_ERROR) found = NAME_ERROR;
        else if (r.length > 0 && isIP(r[0]!.host) === 0) records.push(cname(st.qname, r[0]!));
        break;
      }
      case "PTR": {
        const r = this.#reverse(st);
        if (r === NAME_ERROR) found = NAME_ERROR;
        else {
          const seen = new Set<string>();
          for (const e of r) {
            if (isIP(e.host) !== 0 || seen.has(e.host)) continue;
            seen.add(e.host);
            records.push({ name: st.qname, type: "PTR", class: "IN", ttl: e.ttl, data: e.host });
          }
        }
        break;
      }
      case "SRV": {
        const r = this.#srv(st);
        if (r === NAME_ERROR) found = NAME_ERROR;
        else [records, extra] = r;
        break;
      }
      case "SOA":
        if (st.name === st.zone) records = [this.#soa(st)];
        break;
      case "NS":
        if (st.name === st.zone) {
          const r = this.#services(st, "NS");
          if (r === NAME_ERROR) found = NAME_ERROR;
          else [records, extra] = this.#ns(st, r);
          break;
        }
        found = this.#fakeA(st);
        break;
      default:
        // Any other type: an A lookup tells NODATA from NXDOMAIN.
        found = this.#fakeA(st);
    }
    if (found === NAME_ERROR) {
      // fallthrough in-addr.arpa ip6.arpa: the forwarder answers reverse names the cluster does not own.
      if (st.zone !== this.#domain) return { kind: "next" };
      if (!this.#o.synced()) return reply(RCODE.SERVFAIL, [], [this.#soa(st)], [], false, true);
      return reply(RCODE.NXDOMAIN, [], [this.#soa(st)], [], false, true);
    }
    if (records.length === 0) return reply(RCODE.NOERROR, [], [this.#soa(st)], [], false, true);
    return reply(RCODE.NOERROR, records, [], extra, st.truncated, true);
  }

  #fakeA(st: State): Found | undefined {
    const r = this.#address({ ...st, type: "A", needs: [] }, "A", []);
    return r === NAME_ERROR ? NAME_ERROR : undefined;
  }

  /** plugin.SOA: TTL min(ttl, 300), serial = last change of Services or endpoints. */
  #soa(st: State): Answer {
    const ttl = this.#o.ttl;
    return {
      name: st.zoneOrig,
      type: "SOA",
      class: "IN",
      ttl: Math.min(ttl, 300),
      data: {
        mname: `ns.dns.${st.zoneOrig}`,
        rname: `hostmaster.${st.zoneOrig}`,
        serial: this.#o.index.modified >>> 0,
        refresh: 7200,
        retry: 1800,
        expire: 86400,
        minimum: ttl,
      },
    };
  }

  /** plugin.NS. */
  #ns(st: State, entries: Entry[]): [Answer[], Answer[]] {
    const records: Answer[] = [];
    const extra: Answer[] = [];
    const seen = new Set<string>();
    for (const e of entries) {
      const t = hostType(e);
      if (t !== "A" && t !== "AAAA") continue;
      extra.push({ name: e.domain, type: t, class: "IN", ttl: e.ttl, data: e.host });
      if (seen.has(e.domain)) continue;
      seen.add(e.domain);
      records.push({ name: st.qname, type: "NS", class: "IN", ttl: e.ttl, data: e.domain });
    }
    return [records, extra];
  }

  /** The server's own addresses as entries named `ns.dns.<zone>` (CoreDNS nsAddrs). */
  #nsEntries(domain: string): Entry[] {
    return this.#o.nsAddresses().map((host) => ({ domain, host, port: 0, ttl: this.#o.ttl }));
  }

  /** plugin.A / plugin.AAAA (with CoreDNS' CNAME chasing). */
  #address(st: State, type: "A" | "AAAA", previous: Answer[]): Answer[] | typeof NAME_ERROR {
    const services = this.#services(st, type);
    if (services === NAME_ERROR) return NAME_ERROR;
    const records: Answer[] = [];
    const dup = new Set<string>();
    for (const e of services) {
      const t = hostType(e);
      if (t === "CNAME") {
        const target = e.host.replace(/\.$/, "");
        // x CNAME x is a loop; long chains stop.
        if (target.toLowerCase() === st.name || previous.length > 7) continue;
        const rec = cname(st.qname, e);
        if (previous.some((p) => p.type === "CNAME" && p.data === rec.data)) continue;
        const lower = target.toLowerCase();
        if (inZone(lower, st.zone)) {
          const next = this.#address(
            { ...st, qname: target, name: lower, zoneOrig: target.slice(target.length - st.zone.length) },
            type,
            [...previous, rec],
          );
          if (next !== NAME_ERROR && next.length > 0) records.push(rec, ...next);
          continue;
        }
        const got = st.external.get(externalKey(target, type));
        if (got === undefined) {
          st.needs.push({ name: target, type });
          continue;
        }
        // A failed lookup drops the CNAME too (CoreDNS: `continue` on a lookup error).
        if (got === null) continue;
        if (got.truncated) st.truncated = true;
        records.push(rec, ...got.answers);
        continue;
      }
      if (t === type && !dup.has(e.host)) {
        dup.add(e.host);
        records.push({ name: st.qname, type, class: "IN", ttl: e.ttl, data: e.host } as StringAnswer);
      }
    }
    return records;
  }

  /** plugin.SRV: weights split 100 over the records, targets' addresses as additional records. */
  #srv(st: State): [Answer[], Answer[]] | typeof NAME_ERROR {
    const services = this.#services(st, "SRV");
    if (services === NAME_ERROR) return NAME_ERROR;
    const total = services.length * 100;
    const records: Answer[] = [];
    const extra: Answer[] = [];
    const dup = new Set<string>();
    for (const e of services) {
      if (e.port === -1) continue;
      const weight = Math.max(1, Math.floor((100 / total) * 100));
      const t = hostType(e);
      if (t !== "A" && t !== "AAAA") continue;
      const srvKey = `${e.domain}\0\0${e.port}`;
      if (!dup.has(srvKey)) {
        dup.add(srvKey);
        records.push({ name: st.qname, type: "SRV", class: "IN", ttl: e.ttl, data: { priority: 0, weight, port: e.port, target: e.domain } } as SrvAnswer);
      }
      const addrKey = `${e.domain}\0${e.host}\0${0}`;
      if (!dup.has(addrKey)) {
        dup.add(addrKey);
        extra.push({ name: e.domain, type: t, class: "IN", ttl: e.ttl, data: e.host });
      }
    }
    return [records, extra];
  }

  /** plugin.PTR's backend call (kubernetes Reverse). */
  #reverse(st: State): Entry[] | typeof NAME_ERROR {
    const ip = addressFromReverse(st.name);
    if (ip === "") {
      const r = this.#records(st);
      return r === NAME_ERROR ? NAME_ERROR : [];
    }
    const domain = this.#domain;
    const svc = this.#o.index.servicesByClusterIP(ip)[0];
    if (svc) return [{ domain: "", host: `${svc.name}.${svc.namespace}.svc.${domain}`, port: 0, ttl: this.#o.ttl }];
    const out: Entry[] = this.#o.index
      .endpointsByIP(ip)
      .map(({ namespace, service, ep }) => ({ domain: "", host: `${endpointHostname(ep)}.${service}.${namespace}.svc.${domain}`, port: 0, ttl: this.#o.ttl }));
    return out.length > 0 ? out : NAME_ERROR;
  }

  /** kubernetes Services: the special names, then Records. */
  #services(st: State, type: string): Found {
    if (type === "TXT") {
      const base = trimZone(st.name, st.zone);
      if (base === "dns-version") return [{ domain: st.qname, host: "", port: 0, ttl: 28800, text: DNS_SCHEMA_VERSION }];
      const r = this.#records(st);
      // A name with records of another type: NODATA; else NXDOMAIN.
      return r !== NAME_ERROR && r.length > 0 ? [] : NAME_ERROR;
    }
    if (type === "NS") return this.#nsEntries(`ns.dns.${st.zoneOrig}`);
    if (st.name === `ns.dns.${st.zone}`) return this.#nsEntries(st.qname).filter((e) => hostType(e) === type);
    const r = this.#records(st);
    if (type !== "SRV" || r === NAME_ERROR) return r;
    // No SRV for ExternalName Services.
    return r.filter((e) => hostType(e) !== "CNAME");
  }

  /** kubernetes Records. */
  #records(st: State): Found {
    const r = parseRequest(st.name, st.zone);
    if (r === INVALID_REQUEST) return NAME_ERROR;
    if (r.podOrSvc === "") return [];
    if (isReverse(st.name) > 0) return NAME_ERROR;
    if (!this.#o.index.hasNamespace(r.namespace)) return NAME_ERROR;
    return r.podOrSvc === "pod" ? this.#findPod(st, r) : this.#findServices(st, r);
  }

  /** findPods, `pods insecure`: any well-formed IP in an existing Namespace. */
  #findPod(st: State, r: RecordRequest): Found {
    const podname = r.service;
    if (podname === "") return [];
    const dashes = podname.split("-").length - 1;
    const ip = dashes === 3 && !podname.includes("--") ? podname.replaceAll("-", ".") : podname.replaceAll("-", ":");
    if (isIP(ip) === 0) return NAME_ERROR;
    return [{ domain: `${podname}.${r.namespace}.pod.${st.zoneOrig}`, host: ip, port: 0, ttl: this.#o.ttl }];
  }

  /** findServices. */
  #findServices(st: State, r: RecordRequest): Found {
    if (r.service === "") return [];
    const svc = this.#o.index.service(r.namespace, r.service);
    if (!svc) return NAME_ERROR;
    const ttl = this.#o.ttl;
    const base = `${svc.name}.${svc.namespace}.svc.${st.zoneOrig}`;
    if (svc.type === "ExternalName") {
      // No endpoints, no port/protocol names for an ExternalName Service.
      if (r.endpoint !== "" || r.port !== "" || r.protocol !== "") return NAME_ERROR;
      const e: Entry = { domain: base, host: svc.externalName, port: 0, ttl };
      return hostType(e) === "CNAME" && svc.externalName !== "" ? [e] : NAME_ERROR;
    }
    const out: Entry[] = [];
    if (isHeadless(svc) || r.endpoint !== "") {
      for (const ep of this.#o.index.endpoints(svc.namespace, svc.name)) {
        const label = endpointHostname(ep);
        if (r.endpoint !== "" && !eqFold(r.endpoint, label)) continue;
        pushEndpoint(out, r, ep, `${label}.${base}`, ttl);
      }
      return out.length > 0 ? out : NAME_ERROR;
    }
    let matched = false;
    for (const p of svc.ports) {
      if (!portMatches(r, p.name, p.protocol)) continue;
      matched = true;
      for (const ip of clusterIPs(svc)) out.push({ domain: base, host: ip, port: p.port, ttl });
    }
    return matched ? out : NAME_ERROR;
  }
}

function reply(rcode: number, answers: Answer[], authorities: Answer[], additionals: Answer[], truncated: boolean, authoritative: boolean): ZoneOutcome {
  return { kind: "reply", rcode, answers, authorities, additionals, truncated, authoritative };
}

function pushEndpoint(out: Entry[], r: RecordRequest, ep: DnsEndpoint, domain: string, ttl: number): void {
  for (const p of ep.ports) {
    if (!portMatches(r, p.name, p.protocol)) continue;
    out.push({ domain, host: ep.ip, port: p.port, ttl });
  }
}

/** ClusterIPs that are addresses (an unallocated "" gives no record). */
function clusterIPs(svc: DnsService): readonly string[] {
  return svc.clusterIPs.every((ip) => isIP(ip) !== 0) ? svc.clusterIPs : svc.clusterIPs.filter((ip) => isIP(ip) !== 0);
}

function cname(owner: string, e: Entry): StringAnswer {
  return { name: owner, type: "CNAME", class: "IN", ttl: e.ttl, data: e.host.replace(/\.$/, "") };
}
