import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { udpPorts } from "./conntrack.js";
import { categorizeEndpoints, endpointsForPort, type ProxyEndpoint } from "./endpoints.js";
import { makeEndpoint, makeService, makeSlice } from "./fake-source.js";
import { endpointChainBase, proxyTableName, servicePortChainBase } from "./names.js";
import { serviceModel, skipReason } from "./model.js";
import { buildServiceRules, type ServiceRules } from "./rules.js";

const ctx = { nodeName: "n1", nodeIPs: ["192.0.2.1"], clusterCidr: "10.42.0.0/16" };
const p80 = { namespace: "ns1", name: "svc1", port: "p80", protocol: "tcp" };

function elements(r: ServiceRules): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  for (const [m, els] of r.elements) out[m] = Object.fromEntries([...els].map(([k, e]) => [k, e.value]));
  return out;
}

describe("chain names", () => {
  it("match upstream's hashes and shapes", () => {
    // The names upstream's own proxier tests expect for these service ports and endpoints.
    assert.equal(servicePortChainBase(p80), "ULMVA6XW-ns1/svc1/tcp/p80");
    assert.equal(endpointChainBase(p80, "10.180.0.1:80"), "5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80");
    assert.equal(servicePortChainBase({ ...p80, namespace: "ns2", name: "svc2" }), "42NFTM6N-ns2/svc2/tcp/p80");
    assert.equal(proxyTableName("cni-skiff0"), "skiff_proxy_cni_skiff0");
  });
});

describe("endpoints", () => {
  const ep = (ip: string, node: string, ready: boolean, serving: boolean, terminating: boolean) => makeEndpoint(ip, node, { ready, serving, terminating });
  const slice = makeSlice("ns1", "s-1", "svc1", [{ name: "p80", port: 8080 }], [
    ep("10.42.0.1", "n1", true, true, false),
    ep("10.42.1.1", "n2", true, true, false),
    ep("10.42.0.2", "n1", false, true, true),
    ep("10.42.1.2", "n2", false, false, false),
  ]);
  const all = endpointsForPort([slice], "p80", "TCP", "n1");
  const ips = (l: ProxyEndpoint[]) => l.map((e) => e.ip);

  it("reads ports by name and protocol, and the node of each endpoint", () => {
    assert.deepEqual(ips(all), ["10.42.0.1", "10.42.0.2", "10.42.1.1", "10.42.1.2"]);
    assert.equal(all.find((e) => e.ip === "10.42.0.1")?.local, true);
    assert.deepEqual(endpointsForPort([slice], "p80", "UDP", "n1"), []);
    assert.deepEqual(endpointsForPort([slice], "other", "TCP", "n1"), []);
    assert.deepEqual(endpointsForPort([{ ...slice, addressType: "IPv6" }], "p80", "TCP", "n1"), []);
  });

  it("uses ready endpoints, and serving terminating ones only when none is ready", () => {
    const cluster = { internalLocal: false, externalLocal: false, externallyAccessible: false };
    assert.deepEqual(ips(categorizeEndpoints(all, cluster).cluster), ["10.42.0.1", "10.42.1.1"]);
    const terminatingOnly = all.filter((e) => !e.ready);
    const c = categorizeEndpoints(terminatingOnly, cluster);
    assert.deepEqual(ips(c.cluster), ["10.42.0.2"]);
    assert.equal(c.hasAny, true);
    assert.equal(categorizeEndpoints(all.filter((e) => !e.serving), cluster).hasAny, false);
  });

  it("picks local endpoints for the Local policies", () => {
    const c = categorizeEndpoints(all, { internalLocal: true, externalLocal: false, externallyAccessible: false });
    assert.deepEqual(ips(c.local), ["10.42.0.1"]);
    assert.deepEqual(ips(c.cluster), []);
    assert.deepEqual(ips(c.allReachable), ["10.42.0.1"]);
    // Externally reachable with ETP Local: Cluster endpoints too (pods and the node are short-circuited to them).
    const e = categorizeEndpoints(all, { internalLocal: false, externalLocal: true, externallyAccessible: true });
    assert.deepEqual(ips(e.allReachable), ["10.42.0.1", "10.42.1.1"]);
  });
});

describe("service model (what every backend renders)", () => {
  it("decides reject without endpoints, drop for a Local policy without a local one", () => {
    const svc = makeService("ns1", "m", "10.43.0.8", [{ port: 80, nodePort: 30008 }], { type: "NodePort", internalTrafficPolicy: "Local", externalTrafficPolicy: "Cluster" });
    const [none] = serviceModel(svc, [], ctx);
    assert.equal(none?.internalVerdict, "reject");
    assert.equal(none?.externalVerdict, "reject");
    const [remote] = serviceModel(svc, [makeSlice("ns1", "a", "m", [{ port: 8080 }], [makeEndpoint("10.42.1.1", "n2")])], ctx);
    assert.equal(remote?.internalVerdict, "drop");
    assert.equal(remote?.externalVerdict, undefined);
    assert.deepEqual(remote?.clusterEndpoints.map((e) => e.ip), ["10.42.1.1"]);
    assert.equal(remote?.hasExternalEndpoints, true);
  });
});

describe("service rules", () => {
  it("writes upstream's chains for a ClusterIP service (golden)", () => {
    const svc = makeService("ns1", "svc1", "172.30.0.41", [{ name: "p80", port: 80, protocol: "TCP" }]);
    const r = buildServiceRules(svc, [makeSlice("ns1", "svc1-x", "svc1", [{ name: "p80", port: 80 }], [makeEndpoint("10.180.0.1", "n2")])], {
      ...ctx,
      clusterCidr: "10.0.0.0/8",
    });
    // Upstream's TestOverallNFTablesRules expects exactly these rules for ns1/svc1.
    assert.deepEqual(Object.fromEntries(r.chains), {
      "service-ULMVA6XW-ns1/svc1/tcp/p80": [
        "ip daddr 172.30.0.41 tcp dport 80 ip saddr != 10.0.0.0/8 jump mark-for-masquerade",
        "numgen random mod 1 vmap { 0 : goto endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80 }",
      ],
      "endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80": [
        "ip saddr 10.180.0.1 jump mark-for-masquerade",
        "meta l4proto tcp dnat to 10.180.0.1:80",
      ],
    });
    assert.deepEqual(elements(r), {
      "cluster-ips": { "172.30.0.41": "" },
      "service-ips": { "172.30.0.41 . tcp . 80": "goto service-ULMVA6XW-ns1/svc1/tcp/p80" },
    });
    assert.equal(r.elements.get("service-ips")?.get("172.30.0.41 . tcp . 80")?.comment, "ns1/svc1:p80");
    assert.deepEqual(udpPorts(serviceModel(svc, [], ctx)), []);
  });

  it("rejects traffic to a service without endpoints, and writes no chains", () => {
    const svc = makeService("ns1", "svc1", "10.43.0.5", [{ port: 53, protocol: "UDP", nodePort: 30053 }], { type: "NodePort" });
    const r = buildServiceRules(svc, [], ctx);
    assert.equal(r.chains.size, 0);
    assert.deepEqual(elements(r), {
      "cluster-ips": { "10.43.0.5": "" },
      "no-endpoint-services": { "10.43.0.5 . udp . 53": "goto reject-chain" },
      "no-endpoint-nodeports": { "udp . 30053": "goto reject-chain" },
    });
    assert.deepEqual(udpPorts(serviceModel(svc, [], ctx)), [{ name: "ns1/svc1", serviceIPs: ["10.43.0.5"], nodePort: 30053, endpoints: [] }]);
  });

  it("drops internal traffic when internalTrafficPolicy is Local and no endpoint is on this node", () => {
    const svc = makeService("ns1", "svc1", "10.43.0.5", [{ port: 80 }], { internalTrafficPolicy: "Local" });
    const r = buildServiceRules(svc, [makeSlice("ns1", "a", "svc1", [{ port: 8080 }], [makeEndpoint("10.42.1.1", "n2")])], ctx);
    assert.deepEqual(elements(r)["no-endpoint-services"], { "10.43.0.5 . tcp . 80": "drop" });
    assert.equal(r.chains.size, 0);
  });

  it("gives ETP Local external traffic the local endpoints and short-circuits pods and the node", () => {
    const svc = makeService(
      "ns1",
      "web",
      "10.43.0.10",
      [{ name: "http", port: 80, protocol: "TCP", nodePort: 30080 }],
      { type: "LoadBalancer", externalTrafficPolicy: "Local", externalIPs: ["198.51.100.7"], loadBalancerSourceRanges: ["192.0.2.0/24"] },
      { loadBalancer: { ingress: [{ ip: "203.0.113.9" }, { ip: "203.0.113.10", ipMode: "Proxy" }] } },
    );
    const slices = [makeSlice("ns1", "w", "web", [{ name: "http", port: 8080 }], [makeEndpoint("10.42.0.5", "n1"), makeEndpoint("10.42.1.5", "n2")])];
    const r = buildServiceRules(svc, slices, ctx);
    const base = servicePortChainBase({ namespace: "ns1", name: "web", port: "http", protocol: "tcp" });
    assert.deepEqual(r.chains.get(`external-${base}`), [
      `ip saddr 10.42.0.0/16 goto service-${base} comment "short-circuit pod traffic"`,
      'fib saddr type local jump mark-for-masquerade comment "masquerade local traffic"',
      `fib saddr type local goto service-${base} comment "short-circuit local traffic"`,
      `goto local-${base}`,
    ]);
    assert.equal(r.chains.get(`local-${base}`)?.length, 1, "no masquerade rule: the clusterIP goes to the service- chain");
    assert.match(r.chains.get(`local-${base}`)?.[0] ?? "", /^numgen random mod 1 vmap \{ 0 : goto endpoint-.*__10\.42\.0\.5\/8080 \}$/);
    // The node is inside the source ranges: the load-balancer IP may come back as a source.
    assert.deepEqual(r.chains.get(`firewall-${base}`), ["ip saddr != { 192.0.2.0/24, 203.0.113.9 } drop"]);
    assert.deepEqual(elements(r)["service-ips"], {
      "10.43.0.10 . tcp . 80": `goto service-${base}`,
      "198.51.100.7 . tcp . 80": `goto external-${base}`,
      "203.0.113.9 . tcp . 80": `goto external-${base}`,
    });
    assert.deepEqual(elements(r)["firewall-ips"], { "203.0.113.9 . tcp . 80": `goto firewall-${base}` });
    assert.deepEqual(elements(r)["service-nodeports"], { "tcp . 30080": `goto external-${base}` });
    assert.equal(r.elements.get("no-endpoint-services"), undefined);
  });

  it("keeps per-endpoint affinity sets with the configured timeout for ClientIP affinity", () => {
    const svc = makeService("ns1", "s", "10.43.0.7", [{ port: 80 }], { sessionAffinity: "ClientIP", sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } } });
    const r = buildServiceRules(svc, [makeSlice("ns1", "a", "s", [{ port: 80 }], [makeEndpoint("10.42.0.9", "n1")])], ctx);
    const ep = endpointChainBase({ namespace: "ns1", name: "s", port: "", protocol: "tcp" }, "10.42.0.9:80");
    assert.deepEqual([...r.sets], [[`affinity-${ep}`, "type ipv4_addr; flags dynamic,timeout; timeout 60s;"]]);
    assert.deepEqual(r.chains.get(`endpoint-${ep}`), [
      "ip saddr 10.42.0.9 jump mark-for-masquerade",
      `update @affinity-${ep} { ip saddr }`,
      "meta l4proto tcp dnat to 10.42.0.9:80",
    ]);
    const svcChain = [...r.chains].find(([n]) => n.startsWith("service-"))?.[1];
    assert.equal(svcChain?.[1], `ip saddr @affinity-${ep} goto endpoint-${ep}`);
  });

  it("writes nothing for headless and ExternalName services", () => {
    const slices = [makeSlice("ns1", "a", "h", [{ port: 80 }], [makeEndpoint("10.42.0.9", "n1")])];
    assert.equal(buildServiceRules(makeService("ns1", "h", "None", [{ port: 80 }]), slices, ctx).elements.size, 0);
    const ext = makeService("ns1", "h", "", [{ port: 80 }], { type: "ExternalName", externalName: "db.example" });
    assert.equal(buildServiceRules(ext, slices, ctx).chains.size, 0);
  });

  it("programs the IPv4 ClusterIP of a dual-stack Service and says why an IPv6-only one is left out", () => {
    const dual = makeService("ns1", "d", "fd00::9", [{ port: 80 }], { clusterIPs: ["fd00::9", "10.43.0.9"], ipFamilies: ["IPv6", "IPv4"] });
    assert.equal(skipReason(dual), undefined);
    assert.deepEqual([...(buildServiceRules(dual, [], ctx).elements.get("cluster-ips")?.keys() ?? [])], ["10.43.0.9"]);
    const v6 = makeService("ns1", "d", "fd00::9", [{ port: 80 }], { clusterIPs: ["fd00::9"], ipFamilies: ["IPv6"] });
    assert.equal(skipReason(v6), "no IPv4 clusterIP (fd00::9): this proxy programs the IPv4 family only");
    assert.equal(buildServiceRules(v6, [], ctx).elements.size, 0);
  });
});
