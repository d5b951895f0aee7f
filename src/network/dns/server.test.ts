import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import * as dnsPacket from "dns-packet";
import type { Answer } from "dns-packet";
import { ClusterIndex } from "./cluster-index.js";
import { type ClusterDns, startClusterDns } from "./server.js";
import { dnsQuery, type FakeUpstream, resolve, startFakeUpstream } from "./test-support.js";

const ips = (rs: readonly Answer[] | undefined) => (rs ?? []).flatMap((r) => (r.type === "A" || r.type === "AAAA" ? [r.data] : []));

function bigHeadless(index: ClusterIndex, n: number): void {
  index.setService({ metadata: { name: "big", namespace: "default" }, spec: { clusterIP: "None", ports: [{ name: "p", port: 80, protocol: "TCP" }] } });
  index.setEndpointSlice({
    metadata: { name: "big-1", namespace: "default", labels: { "kubernetes.io/service-name": "big" } },
    addressType: "IPv4",
    endpoints: Array.from({ length: n }, (_, i) => ({ addresses: [`10.42.3.${i + 1}`], conditions: { ready: true } })),
    ports: [{ name: "p", port: 80, protocol: "TCP" }],
  });
}

describe("cluster DNS server on loopback", () => {
  let index: ClusterIndex;
  let dns: ClusterDns;
  let upstream: FakeUpstream;

  before(async () => {
    upstream = await startFakeUpstream({
      "example.org A": [{ name: "example.org", type: "A", ttl: 300, data: "192.0.2.10" }],
      "db.example.org A": [{ name: "db.example.org", type: "A", ttl: 300, data: "192.0.2.20" }],
      "wide.example.org A": Array.from({ length: 60 }, (_, i) => ({ name: "wide.example.org", type: "A" as const, ttl: 300, data: `192.0.2.${i + 1}` })),
      "1.2.0.192.in-addr.arpa PTR": [{ name: "1.2.0.192.in-addr.arpa", type: "PTR", ttl: 300, data: "host.example.org" }],
    });
    index = new ClusterIndex();
    index.setNamespace({ metadata: { name: "default" } });
    index.setService({ metadata: { name: "web", namespace: "default" }, spec: { clusterIP: "10.43.0.20", ports: [{ name: "http", port: 80, protocol: "TCP" }] } });
    index.setService({ metadata: { name: "ext", namespace: "default" }, spec: { type: "ExternalName", externalName: "db.example.org" } });
    bigHeadless(index, 40);
    dns = await startClusterDns({
      client: { index },
      listen: { host: "127.0.0.1", port: 0 },
      upstreams: [`127.0.0.1:${upstream.port}`],
      upstreamTimeoutMs: 300,
    });
  });

  after(async () => {
    await dns?.stop();
    await upstream?.stop();
  });

  it("answers cluster names over UDP and TCP with the client's ID", async () => {
    const udp = await dnsQuery(dns.port, "web.default.svc.cluster.local", "A", { packet: { id: 4242 } });
    assert.equal(udp.id, 4242);
    assert.equal(udp.rcode, "NOERROR");
    assert.equal(udp.flag_aa, true);
    assert.equal(udp.flag_rd, true);
    assert.equal(udp.flag_ra, false, "CoreDNS does not claim recursion for its own zone");
    assert.deepEqual(ips(udp.answers), ["10.43.0.20"]);
    // The same question again (answered from the kept reply) under another ID.
    const again = await dnsQuery(dns.port, "web.default.svc.cluster.local", "A", { packet: { id: 4343 } });
    assert.equal(again.id, 4343);
    assert.deepEqual(ips(again.answers), ["10.43.0.20"]);
    const tcp = await dnsQuery(dns.port, "web.default.svc.cluster.local", "A", { tcp: true });
    assert.deepEqual(ips(tcp.answers), ["10.43.0.20"]);
  });

  it("answers from the current cluster state, not an older kept reply", async () => {
    assert.deepEqual(ips((await dnsQuery(dns.port, "web.default.svc.cluster.local", "A")).answers), ["10.43.0.20"]);
    index.setService({ metadata: { name: "web", namespace: "default" }, spec: { clusterIP: "10.43.0.21", ports: [{ name: "http", port: 80, protocol: "TCP" }] } });
    try {
      assert.deepEqual(ips((await dnsQuery(dns.port, "web.default.svc.cluster.local", "A")).answers), ["10.43.0.21"]);
    } finally {
      index.setService({ metadata: { name: "web", namespace: "default" }, spec: { clusterIP: "10.43.0.20", ports: [{ name: "http", port: 80, protocol: "TCP" }] } });
    }
  });

  it("answers NXDOMAIN and NODATA with the zone's SOA", async () => {
    const nx = await dnsQuery(dns.port, "nope.default.svc.cluster.local", "A");
    assert.equal(nx.rcode, "NXDOMAIN");
    assert.equal(nx.authorities?.[0]?.type, "SOA");
    const nodata = await dnsQuery(dns.port, "web.default.svc.cluster.local", "AAAA");
    assert.equal(nodata.rcode, "NOERROR");
    assert.equal(nodata.answers?.length, 0);
    assert.equal(nodata.authorities?.[0]?.type, "SOA");
  });

  it("truncates a UDP answer that does not fit and gives all of it over TCP", async () => {
    const { reply, overTcp } = await resolve(dns.port, "big.default.svc.cluster.local", "A");
    assert.equal(overTcp, true, "the 512-byte UDP answer was truncated");
    assert.equal(reply.answers?.length, 40);
    const udp = await dnsQuery(dns.port, "big.default.svc.cluster.local", "A");
    assert.equal(udp.flag_tc, true);
    assert.ok((udp.answers?.length ?? 0) < 40);
    assert.ok(dnsPacket.encodingLength(udp) <= 512);
    // With an EDNS0 buffer of 4096 it fits, and the reply carries an OPT record.
    const edns = await dnsQuery(dns.port, "big.default.svc.cluster.local", "A", { udpSize: 4096 });
    assert.equal(edns.flag_tc, false);
    assert.equal(edns.answers?.length, 40);
    const opt = edns.additionals?.find((a) => a.type === "OPT");
    assert.ok(opt && opt.type === "OPT" && opt.udpPayloadSize === 4096);
  });

  it("shuffles the addresses of a headless Service (loadbalance)", async () => {
    const orders = new Set<string>();
    for (let i = 0; i < 10; i++) orders.add(ips((await dnsQuery(dns.port, "big.default.svc.cluster.local", "A", { tcp: true })).answers).join(","));
    assert.ok(orders.size > 1, "ten answers of 40 addresses in one order");
  });

  it("forwards names outside the cluster and caches the answer", async () => {
    const first = await dnsQuery(dns.port, "example.org", "A");
    assert.equal(first.rcode, "NOERROR");
    assert.equal(first.flag_ra, true, "the upstream's flags come back");
    assert.deepEqual(ips(first.answers), ["192.0.2.10"]);
    const asked = upstream.asked.filter((q) => q.startsWith("example.org A")).length;
    const second = await dnsQuery(dns.port, "EXAMPLE.org", "A");
    assert.deepEqual(ips(second.answers), ["192.0.2.10"]);
    assert.equal(second.questions?.[0]?.name, "EXAMPLE.org");
    assert.equal(second.flag_aa, true, "CoreDNS' cache answers with AA");
    assert.ok((second.answers?.[0] as { ttl: number } | undefined)?.ttl ?? 0 <= 30, "cache 30 caps the TTL");
    assert.equal(upstream.asked.filter((q) => q.startsWith("example.org A")).length, asked, "the second answer came from the cache");
  });

  it("forwards NXDOMAIN and reverse names the cluster does not own", async () => {
    const nx = await dnsQuery(dns.port, "missing.example.org", "A");
    assert.equal(nx.rcode, "NXDOMAIN");
    const ptr = await dnsQuery(dns.port, "1.2.0.192.in-addr.arpa", "PTR");
    assert.equal(ptr.rcode, "NOERROR");
    assert.equal((ptr.answers?.[0] as { data: string } | undefined)?.data, "host.example.org");
    const own = await dnsQuery(dns.port, "20.0.43.10.in-addr.arpa", "PTR");
    assert.equal((own.answers?.[0] as { data: string } | undefined)?.data, "web.default.svc.cluster.local");
    assert.ok(!upstream.asked.some((q) => q.startsWith("20.0.43.10.in-addr.arpa")), "the cluster's own PTR is not forwarded");
  });

  it("forwards over TCP when the client retries a truncated upstream answer", async () => {
    const udp = await dnsQuery(dns.port, "wide.example.org", "A");
    assert.equal(udp.flag_tc, true);
    const tcp = await dnsQuery(dns.port, "wide.example.org", "A", { tcp: true });
    assert.equal(tcp.flag_tc, false);
    assert.equal(tcp.answers?.length, 60);
    assert.ok(upstream.asked.includes("wide.example.org A tcp"));
  });

  it("chases an ExternalName CNAME through the upstream", async () => {
    const r = await dnsQuery(dns.port, "ext.default.svc.cluster.local", "A");
    assert.deepEqual(
      r.answers?.map((a) => `${a.type} ${"data" in a ? a.data : ""}`),
      ["CNAME db.example.org", "A 192.0.2.20"],
    );
  });

  it("answers SERVFAIL when no upstream answers", async () => {
    upstream.silent = true;
    try {
      const r = await dnsQuery(dns.port, "silent.example.org", "A");
      assert.equal(r.rcode, "SERVFAIL");
      assert.equal(r.questions?.[0]?.name, "silent.example.org");
    } finally {
      upstream.silent = false;
    }
  });

  it("rejects malformed queries as miekg/dns does", async () => {
    const noQuestion = await dnsQuery(dns.port, "x", "A", { packet: { questions: [] } });
    assert.equal(noQuestion.rcode, "FORMERR");
    const notify = await dnsQuery(dns.port, "web.default.svc.cluster.local", "A", { packet: { flags: 2 << 11 } });
    assert.equal(notify.rcode, "NOTIMP");
    const badVersion = await dnsQuery(dns.port, "web.default.svc.cluster.local", "A", {
      packet: { additionals: [{ name: ".", type: "OPT", udpPayloadSize: 1232, extendedRcode: 0, ednsVersion: 1, flags: 0, flag_do: false, options: [] }] },
    });
    const opt = badVersion.additionals?.find((a) => a.type === "OPT");
    assert.ok(opt && opt.type === "OPT" && opt.extendedRcode === 1, "BADVERS is extended rcode 1 with header rcode 0");
    assert.equal(badVersion.rcode, "NOERROR");
    assert.equal(badVersion.answers?.length, 0);
  });
});

describe("cluster DNS server startup", () => {
  it("serves UDP and TCP on the port it was given", async () => {
    const first = await startClusterDns({ client: { index: new ClusterIndex() }, listen: { host: "127.0.0.1", port: 0 }, upstreams: [] });
    const port = first.port;
    await first.stop();
    const second = await startClusterDns({ client: { index: new ClusterIndex() }, listen: { host: "127.0.0.1", port }, upstreams: [] });
    try {
      assert.equal(second.port, port);
      assert.equal((await dnsQuery(port, "dns-version.cluster.local", "TXT")).rcode, "NOERROR");
      assert.equal((await dnsQuery(port, "dns-version.cluster.local", "TXT", { tcp: true })).rcode, "NOERROR");
    } finally {
      await second.stop();
    }
  });

  it("refuses clients it does not serve: REFUSED over UDP, the connection closed over TCP (acl)", async () => {
    const seen: string[] = [];
    const dns = await startClusterDns({
      client: { index: new ClusterIndex() },
      listen: { host: "127.0.0.1", port: 0 },
      upstreams: [],
      allowClient: (address) => {
        seen.push(address);
        return false;
      },
    });
    try {
      const udp = await dnsQuery(dns.port, "dns-version.cluster.local", "TXT");
      assert.equal(udp.rcode, "REFUSED");
      assert.deepEqual(udp.answers ?? [], []);
      await assert.rejects(dnsQuery(dns.port, "dns-version.cluster.local", "TXT", { tcp: true, timeoutMs: 2000 }));
      assert.ok(seen.includes("127.0.0.1"), `the client's address was checked: ${seen.join(",")}`);
    } finally {
      await dns.stop();
    }
  });

  it("rejects upstreams that are not addresses", async () => {
    await assert.rejects(
      startClusterDns({ client: { index: new ClusterIndex() }, listen: { host: "127.0.0.1", port: 0 }, upstreams: ["resolver.example"] }),
      /is not an IP address/,
    );
  });
});
