import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Answer } from "dns-packet";
import type { Service } from "kubernetes-types/core/v1.js";
import type { EndpointSlice } from "kubernetes-types/discovery/v1.js";
import { ClusterIndex } from "./cluster-index.js";
import { type ExternalAnswers, externalKey, KubernetesZone, RCODE, type ZoneOutcome } from "./kubernetes-zone.js";
import { reverseName } from "./request-name.js";

function svc(ns: string, name: string, spec: Service["spec"]): Service {
  return { metadata: { name, namespace: ns }, spec };
}

function slice(ns: string, name: string, service: string, body: Partial<EndpointSlice>): EndpointSlice {
  return { addressType: "IPv4", endpoints: [], ...body, metadata: { name, namespace: ns, labels: { "kubernetes.io/service-name": service } } };
}

/** A cluster with the usual shapes of Services. */
function cluster(opts: { synced?: boolean; domain?: string; ttl?: number } = {}) {
  let now = 1_700_000_000_000;
  const index = new ClusterIndex({ now: () => now });
  for (const ns of ["default", "expense", "kube-system"]) index.setNamespace({ metadata: { name: ns } });
  index.setService(svc("kube-system", "kube-dns", { clusterIP: "10.43.0.10", ports: [{ name: "dns", port: 53, protocol: "UDP" }] }));
  index.setService(
    svc("expense", "backend", {
      clusterIP: "10.43.0.20",
      clusterIPs: ["10.43.0.20"],
      ports: [
        { name: "http", port: 8080, protocol: "TCP" },
        { name: "metrics", port: 9090, protocol: "TCP" },
      ],
    }),
  );
  index.setEndpointSlice(
    slice("expense", "backend-abc", "backend", {
      endpoints: [{ addresses: ["10.42.0.7"], conditions: { ready: true } }],
      ports: [{ name: "http", port: 8080, protocol: "TCP" }],
    }),
  );
  index.setService(svc("default", "dual", { clusterIP: "10.43.0.30", clusterIPs: ["10.43.0.30", "fd00:43::30"], ports: [{ port: 80 }] }));
  index.setService(svc("default", "noports", { clusterIP: "10.43.0.31" }));
  index.setService(svc("default", "nginx", { clusterIP: "None", ports: [{ name: "web", port: 80, protocol: "TCP" }] }));
  index.setEndpointSlice(
    slice("default", "nginx-1", "nginx", {
      endpoints: [
        { addresses: ["10.42.1.10"], hostname: "web-0", conditions: { ready: true } },
        { addresses: ["10.42.1.11"], hostname: "web-1" },
        { addresses: ["10.42.1.12"], hostname: "web-2", conditions: { ready: false } },
      ],
      ports: [{ name: "web", port: 80, protocol: "TCP" }],
    }),
  );
  index.setEndpointSlice(
    slice("default", "nginx-2", "nginx", { endpoints: [{ addresses: ["10.42.2.13"], conditions: { ready: true } }], ports: [{ name: "web", port: 80, protocol: "TCP" }] }),
  );
  index.setService(svc("default", "empty-headless", { clusterIP: "None", ports: [{ port: 80 }] }));
  index.setService(svc("default", "ext", { type: "ExternalName", externalName: "db.example.org" }));
  index.setService(svc("default", "ext-in", { type: "ExternalName", externalName: "backend.expense.svc.cluster.local" }));
  const zone = new KubernetesZone({
    index,
    domain: opts.domain ?? "cluster.local",
    ttl: opts.ttl ?? 5,
    nsAddresses: () => index.service("kube-system", "kube-dns")?.clusterIPs ?? [],
    synced: () => opts.synced ?? true,
  });
  return {
    index,
    zone,
    tick: (ms: number) => {
      now += ms;
    },
  };
}

type Reply = Extract<ZoneOutcome, { kind: "reply" }>;
function ask(zone: KubernetesZone, name: string, type: string, external?: ExternalAnswers): Reply {
  const { outcome, needs } = zone.resolve(name, type, external);
  assert.deepEqual(needs, [], `${name} ${type} needs no lookups`);
  assert.equal(outcome.kind, "reply", `${name} ${type} is answered by the zone`);
  return outcome as Reply;
}
const data = (rs: readonly Answer[]) => rs.map((r) => ("data" in r ? r.data : undefined));
const isNodata = (r: Reply) => r.rcode === RCODE.NOERROR && r.answers.length === 0 && r.authorities.length === 1 && r.authorities[0]!.type === "SOA";
const isNxdomain = (r: Reply) => r.rcode === RCODE.NXDOMAIN && r.answers.length === 0 && r.authorities[0]?.type === "SOA";

describe("cluster DNS zone (CoreDNS kubernetes plugin)", () => {
  it("answers a ClusterIP Service's A record with the zone's TTL, authoritatively", () => {
    const { zone } = cluster();
    const r = ask(zone, "backend.expense.svc.cluster.local.", "A");
    assert.equal(r.rcode, RCODE.NOERROR);
    assert.equal(r.authoritative, true);
    assert.deepEqual(r.answers, [{ name: "backend.expense.svc.cluster.local", type: "A", class: "IN", ttl: 5, data: "10.43.0.20" }]);
  });

  it("keeps the case the client asked in", () => {
    const { zone } = cluster();
    const r = ask(zone, "Backend.EXPENSE.svc.Cluster.Local", "A");
    assert.equal(r.answers[0]!.name, "Backend.EXPENSE.svc.Cluster.Local");
    assert.deepEqual(data(r.answers), ["10.43.0.20"]);
  });

  it("answers AAAA for IPv6 ClusterIPs and NODATA when the Service has none", () => {
    const { zone } = cluster();
    assert.deepEqual(data(ask(zone, "dual.default.svc.cluster.local", "AAAA").answers), ["fd00:43::30"]);
    assert.deepEqual(data(ask(zone, "dual.default.svc.cluster.local", "A").answers), ["10.43.0.30"]);
    assert.ok(isNodata(ask(zone, "backend.expense.svc.cluster.local", "AAAA")));
  });

  it("answers a Service without ports", () => {
    const { zone } = cluster();
    assert.deepEqual(data(ask(zone, "noports.default.svc.cluster.local", "A").answers), ["10.43.0.31"]);
    // No port, no SRV record: NODATA.
    assert.ok(isNodata(ask(zone, "noports.default.svc.cluster.local", "SRV")));
  });

  it("answers a headless Service with every ready endpoint of all its slices", () => {
    const { zone } = cluster();
    const r = ask(zone, "nginx.default.svc.cluster.local", "A");
    assert.deepEqual(data(r.answers).sort(), ["10.42.1.10", "10.42.1.11", "10.42.2.13"]);
  });

  it("answers NXDOMAIN for a headless Service without ready endpoints", () => {
    const { zone } = cluster();
    assert.ok(isNxdomain(ask(zone, "empty-headless.default.svc.cluster.local", "A")));
  });

  it("names endpoints by hostname (StatefulSet pods) and by dashed IP", () => {
    const { zone } = cluster();
    assert.deepEqual(data(ask(zone, "web-0.nginx.default.svc.cluster.local", "A").answers), ["10.42.1.10"]);
    assert.deepEqual(data(ask(zone, "10-42-2-13.nginx.default.svc.cluster.local", "A").answers), ["10.42.2.13"]);
    // A not-ready endpoint has no name.
    assert.ok(isNxdomain(ask(zone, "web-2.nginx.default.svc.cluster.local", "A")));
    // Endpoint names work for ClusterIP Services too.
    assert.deepEqual(data(ask(zone, "10-42-0-7.backend.expense.svc.cluster.local", "A").answers), ["10.42.0.7"]);
  });

  it("answers SRV for a named port with the target's address as additional record", () => {
    const { zone } = cluster();
    const r = ask(zone, "_http._tcp.backend.expense.svc.cluster.local", "SRV");
    assert.deepEqual(r.answers, [
      {
        name: "_http._tcp.backend.expense.svc.cluster.local",
        type: "SRV",
        class: "IN",
        ttl: 5,
        data: { priority: 0, weight: 100, port: 8080, target: "backend.expense.svc.cluster.local" },
      },
    ]);
    assert.deepEqual(r.additionals, [{ name: "backend.expense.svc.cluster.local", type: "A", class: "IN", ttl: 5, data: "10.43.0.20" }]);
    // Port names and protocols compare without case.
    assert.equal(ask(zone, "_HTTP._TCP.backend.expense.svc.cluster.local", "SRV").answers.length, 1);
  });

  it("answers SRV for every port of a Service, weights split among them", () => {
    const { zone } = cluster();
    const r = ask(zone, "backend.expense.svc.cluster.local", "SRV");
    assert.deepEqual(
      r.answers.map((a) => (a.type === "SRV" ? [a.data.port, a.data.weight] : [])),
      [
        [8080, 50],
        [9090, 50],
      ],
    );
    // One additional record per target, not per port.
    assert.equal(r.additionals.length, 1);
  });

  it("answers SRV of a headless Service with one target per endpoint", () => {
    const { zone } = cluster();
    const r = ask(zone, "_web._tcp.nginx.default.svc.cluster.local", "SRV");
    const targets = r.answers.map((a) => (a.type === "SRV" ? `${a.data.target}:${a.data.port}:${a.data.weight}` : "")).sort();
    assert.deepEqual(targets, [
      "10-42-2-13.nginx.default.svc.cluster.local:80:33",
      "web-0.nginx.default.svc.cluster.local:80:33",
      "web-1.nginx.default.svc.cluster.local:80:33",
    ]);
    assert.deepEqual(r.additionals.map((a) => `${a.name}=${"data" in a ? a.data : ""}`).sort(), [
      "10-42-2-13.nginx.default.svc.cluster.local=10.42.2.13",
      "web-0.nginx.default.svc.cluster.local=10.42.1.10",
      "web-1.nginx.default.svc.cluster.local=10.42.1.11",
    ]);
  });

  it("answers NXDOMAIN for a port or protocol the Service does not have", () => {
    const { zone } = cluster();
    assert.ok(isNxdomain(ask(zone, "_grpc._tcp.backend.expense.svc.cluster.local", "SRV")));
    assert.ok(isNxdomain(ask(zone, "_http._udp.backend.expense.svc.cluster.local", "SRV")));
    // ...and for names with too many labels.
    assert.ok(isNxdomain(ask(zone, "a.b.c.backend.expense.svc.cluster.local", "A")));
  });

  it("answers an ExternalName Service with a CNAME, chased through the forwarder for A", () => {
    const { zone } = cluster();
    assert.deepEqual(ask(zone, "ext.default.svc.cluster.local", "CNAME").answers, [
      { name: "ext.default.svc.cluster.local", type: "CNAME", class: "IN", ttl: 5, data: "db.example.org" },
    ]);
    const first = zone.resolve("ext.default.svc.cluster.local", "A");
    assert.deepEqual(first.needs, [{ name: "db.example.org", type: "A" }]);
    const upstream: Answer[] = [{ name: "db.example.org", type: "A", class: "IN", ttl: 300, data: "192.0.2.5" }];
    const r = ask(zone, "ext.default.svc.cluster.local", "A", new Map([[externalKey("db.example.org", "A"), { answers: upstream, truncated: false }]]));
    assert.deepEqual(data(r.answers), ["db.example.org", "192.0.2.5"]);
    // A failed lookup leaves no answer: NODATA.
    assert.ok(isNodata(ask(zone, "ext.default.svc.cluster.local", "A", new Map([[externalKey("db.example.org", "A"), null]]))));
    // No SRV, no endpoint names for ExternalName Services.
    assert.ok(isNodata(ask(zone, "ext.default.svc.cluster.local", "SRV")));
    assert.ok(isNxdomain(ask(zone, "_http._tcp.ext.default.svc.cluster.local", "SRV")));
  });

  it("chases a CNAME into the cluster zone itself", () => {
    const { zone } = cluster();
    const r = ask(zone, "ext-in.default.svc.cluster.local", "A");
    assert.deepEqual(data(r.answers), ["backend.expense.svc.cluster.local", "10.43.0.20"]);
  });

  it("answers PTR for ClusterIPs and endpoint IPs, and leaves other reverse names to the forwarder", () => {
    const { zone } = cluster();
    assert.deepEqual(data(ask(zone, reverseName("10.43.0.20"), "PTR").answers), ["backend.expense.svc.cluster.local"]);
    assert.deepEqual(data(ask(zone, reverseName("fd00:43::30"), "PTR").answers), ["dual.default.svc.cluster.local"]);
    assert.deepEqual(data(ask(zone, reverseName("10.42.1.10"), "PTR").answers), ["web-0.nginx.default.svc.cluster.local"]);
    assert.deepEqual(data(ask(zone, reverseName("10.42.0.7"), "PTR").answers), ["10-42-0-7.backend.expense.svc.cluster.local"]);
    assert.equal(zone.resolve(reverseName("192.0.2.1"), "PTR").outcome.kind, "next");
    assert.equal(zone.resolve("0.43.10.in-addr.arpa", "PTR").outcome.kind, "next");
    assert.equal(zone.resolve(reverseName("10.43.0.20"), "A").outcome.kind, "next");
  });

  it("answers pod names (pods insecure) in Namespaces that exist", () => {
    const { zone } = cluster();
    assert.deepEqual(data(ask(zone, "10-42-0-5.default.pod.cluster.local", "A").answers), ["10.42.0.5"]);
    assert.deepEqual(data(ask(zone, "fd00-42--5.default.pod.cluster.local", "AAAA").answers), ["fd00:42::5"]);
    assert.ok(isNxdomain(ask(zone, "10-42-0-5.nowhere.pod.cluster.local", "A")));
    assert.ok(isNxdomain(ask(zone, "not-an-ip.default.pod.cluster.local", "A")));
    assert.ok(isNodata(ask(zone, "default.pod.cluster.local", "A")));
  });

  it("tells NXDOMAIN from NODATA as CoreDNS does", () => {
    const { zone } = cluster();
    assert.ok(isNxdomain(ask(zone, "missing.expense.svc.cluster.local", "A")));
    assert.ok(isNxdomain(ask(zone, "backend.nowhere.svc.cluster.local", "A")), "a Namespace that does not exist");
    assert.ok(isNxdomain(ask(zone, "nowhere.svc.cluster.local", "A")));
    assert.ok(isNxdomain(ask(zone, "foo.cluster.local", "A")));
    assert.ok(isNxdomain(ask(zone, "missing.expense.svc.cluster.local", "MX")));
    assert.ok(isNodata(ask(zone, "expense.svc.cluster.local", "A")), "a Namespace exists");
    assert.ok(isNodata(ask(zone, "svc.cluster.local", "A")));
    assert.ok(isNodata(ask(zone, "cluster.local", "A")));
    assert.ok(isNodata(ask(zone, "backend.expense.svc.cluster.local", "TXT")));
    assert.ok(isNodata(ask(zone, "backend.expense.svc.cluster.local", "MX")));
    assert.ok(isNxdomain(ask(zone, "missing.expense.svc.cluster.local", "TXT")));
  });

  it("serves SOA and NS at the apex, ns.dns and dns-version", () => {
    const { zone, index } = cluster();
    const soa = ask(zone, "cluster.local", "SOA").answers[0]!;
    assert.equal(soa.type, "SOA");
    if (soa.type === "SOA") {
      assert.deepEqual(soa.data, {
        mname: "ns.dns.cluster.local",
        rname: "hostmaster.cluster.local",
        serial: index.modified,
        refresh: 7200,
        retry: 1800,
        expire: 86400,
        minimum: 5,
      });
    }
    const ns = ask(zone, "cluster.local", "NS");
    assert.deepEqual(data(ns.answers), ["ns.dns.cluster.local"]);
    assert.deepEqual(ns.additionals, [{ name: "ns.dns.cluster.local", type: "A", class: "IN", ttl: 5, data: "10.43.0.10" }]);
    assert.deepEqual(data(ask(zone, "ns.dns.cluster.local", "A").answers), ["10.43.0.10"]);
    assert.deepEqual(ask(zone, "dns-version.cluster.local", "TXT").answers, [
      { name: "dns-version.cluster.local", type: "TXT", class: "IN", ttl: 28800, data: "1.1.0" },
    ]);
    // SOA of a name below the apex: NODATA.
    assert.ok(isNodata(ask(zone, "backend.expense.svc.cluster.local", "SOA")));
  });

  it("moves the SOA serial when Services or endpoints change", () => {
    const { zone, index, tick } = cluster();
    const serial = () => {
      const a = ask(zone, "cluster.local", "SOA").answers[0]!;
      return a.type === "SOA" ? a.data.serial : undefined;
    };
    const before = serial();
    tick(5000);
    index.setService(svc("default", "late", { clusterIP: "10.43.0.99", ports: [{ port: 1 }] }));
    assert.equal(serial(), (before ?? 0) + 5);
    assert.deepEqual(data(ask(zone, "late.default.svc.cluster.local", "A").answers), ["10.43.0.99"]);
    index.deleteService(svc("default", "late", {}));
    assert.ok(isNxdomain(ask(zone, "late.default.svc.cluster.local", "A")));
  });

  it("follows slices that move or go", () => {
    const { zone, index } = cluster();
    index.deleteEndpointSlice(slice("default", "nginx-2", "nginx", {}));
    assert.deepEqual(data(ask(zone, "nginx.default.svc.cluster.local", "A").answers).sort(), ["10.42.1.10", "10.42.1.11"]);
    index.setEndpointSlice(slice("default", "nginx-1", "nginx", { endpoints: [{ addresses: ["10.42.1.10"], conditions: { ready: false } }], ports: [] }));
    assert.ok(isNxdomain(ask(zone, "nginx.default.svc.cluster.local", "A")));
  });

  it("answers SERVFAIL instead of NXDOMAIN until the informers have synced", () => {
    const { zone } = cluster({ synced: false });
    const r = ask(zone, "missing.expense.svc.cluster.local", "A");
    assert.equal(r.rcode, RCODE.SERVFAIL);
    assert.equal(ask(zone, "backend.expense.svc.cluster.local", "A").rcode, RCODE.NOERROR);
  });

  it("refuses zone transfers and leaves names outside its zones to the forwarder", () => {
    const { zone } = cluster();
    const r = ask(zone, "cluster.local", "AXFR");
    assert.equal(r.rcode, RCODE.REFUSED);
    assert.equal(r.authoritative, false);
    assert.equal(zone.resolve("example.org", "A").outcome.kind, "next");
    assert.equal(zone.resolve("notcluster.local", "A").outcome.kind, "next");
  });

  it("serves another cluster domain with another TTL", () => {
    const { zone } = cluster({ domain: "corp.internal", ttl: 30 });
    const r = ask(zone, "backend.expense.svc.corp.internal", "A");
    assert.equal((r.answers[0] as { ttl: number }).ttl, 30);
    assert.deepEqual(data(ask(zone, reverseName("10.43.0.20"), "PTR").answers), ["backend.expense.svc.corp.internal"]);
    assert.equal(zone.resolve("backend.expense.svc.cluster.local", "A").outcome.kind, "next");
  });
});
