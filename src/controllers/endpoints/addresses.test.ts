import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { EndpointSubset, Endpoints, Pod, Service } from "kubernetes-types/core/v1.js";
import { computeSubsets, MAX_CAPACITY, truncateEndpoints } from "./addresses.js";
import { repackSubsets } from "./repack.js";

interface PodSpec {
  name: string;
  ips?: string[];
  ready?: boolean;
  deleting?: boolean;
  phase?: string;
  http?: number;
  hostname?: string;
  subdomain?: string;
}

function pod(p: PodSpec): Pod {
  return {
    metadata: { name: p.name, namespace: "ns", uid: `uid-${p.name}`, ...(p.deleting ? { deletionTimestamp: "2024-01-01T00:00:00Z" } : {}) },
    spec: {
      nodeName: "n1",
      hostname: p.hostname,
      subdomain: p.subdomain,
      containers: [{ name: "c", ports: p.http ? [{ name: "http", containerPort: p.http }] : [] }],
    },
    status: {
      phase: p.phase ?? "Running",
      podIPs: (p.ips ?? []).map((ip) => ({ ip })),
      podIP: p.ips?.[0],
      conditions: [{ type: "Ready", status: p.ready === false ? "False" : "True" }],
    },
  };
}

function svc(spec: Service["spec"]): Service {
  return { metadata: { name: "svc", namespace: "ns" }, spec: { selector: { app: "a" }, ipFamilies: ["IPv4"], ...spec } };
}

/** Subsets as compact strings: `ready=[ips] notReady=[ips] ports=[name:port]`. */
function show(subsets: EndpointSubset[]): string[] {
  return subsets.map((s) => {
    const r = (s.addresses ?? []).map((a) => a.ip + (a.hostname ? `(${a.hostname})` : "")).join(",");
    const n = (s.notReadyAddresses ?? []).map((a) => a.ip).join(",");
    const p = (s.ports ?? []).map((x) => `${x.name ?? ""}:${x.port}`).join(",");
    return `ready=[${r}] notReady=[${n}] ports=[${p}]`;
  });
}

describe("computeSubsets", () => {
  const http = { name: "http", port: 80, targetPort: "http" };
  const cases: { name: string; svc: Service; pods: PodSpec[]; want: string[] }[] = [
    {
      name: "ready and not-ready pods share a subset",
      svc: svc({ ports: [http] }),
      pods: [
        { name: "a", ips: ["10.0.0.2"], http: 8080 },
        { name: "b", ips: ["10.0.0.1"], http: 8080, ready: false },
      ],
      want: ["ready=[10.0.0.2] notReady=[10.0.0.1] ports=[http:8080]"],
    },
    {
      name: "pods without an IP, terminal or terminating are left out",
      svc: svc({ ports: [http] }),
      pods: [
        { name: "a", ips: ["10.0.0.1"], http: 8080 },
        { name: "noip", http: 8080 },
        { name: "done", ips: ["10.0.0.2"], http: 8080, phase: "Succeeded" },
        { name: "going", ips: ["10.0.0.3"], http: 8080, deleting: true },
      ],
      want: ["ready=[10.0.0.1] notReady=[] ports=[http:8080]"],
    },
    {
      name: "publishNotReadyAddresses: unready and terminating pods are ready addresses",
      svc: svc({ ports: [http], publishNotReadyAddresses: true }),
      pods: [
        { name: "a", ips: ["10.0.0.1"], http: 8080, ready: false },
        { name: "going", ips: ["10.0.0.3"], http: 8080, deleting: true },
      ],
      want: ["ready=[10.0.0.1,10.0.0.3] notReady=[] ports=[http:8080]"],
    },
    {
      name: "a named port resolving differently splits subsets",
      svc: svc({ ports: [http] }),
      pods: [
        { name: "a", ips: ["10.0.0.1"], http: 8080 },
        { name: "b", ips: ["10.0.0.2"], http: 9090 },
        { name: "c", ips: ["10.0.0.3"] },
      ],
      want: ["ready=[10.0.0.1] notReady=[] ports=[http:8080]", "ready=[10.0.0.2] notReady=[] ports=[http:9090]"],
    },
    {
      name: "several ports on the same pods pack into one subset",
      svc: svc({ ports: [http, { name: "admin", port: 81, targetPort: 9000 }] }),
      pods: [
        { name: "a", ips: ["10.0.0.1"], http: 8080 },
        { name: "b", ips: ["10.0.0.2"], http: 8080 },
      ],
      want: ["ready=[10.0.0.1,10.0.0.2] notReady=[] ports=[http:8080,admin:9000]"],
    },
    {
      name: "headless without ports: port-less addresses, hostname for subdomain pods",
      svc: svc({ clusterIP: "None" }),
      pods: [
        { name: "a", ips: ["10.0.0.1"], hostname: "a", subdomain: "svc" },
        { name: "b", ips: ["10.0.0.2"], hostname: "b", subdomain: "elsewhere" },
      ],
      want: ["ready=[10.0.0.1(a),10.0.0.2] notReady=[] ports=[]"],
    },
    {
      name: "a ClusterIP Service without ports has no endpoints",
      svc: svc({ clusterIP: "10.43.0.5" }),
      pods: [{ name: "a", ips: ["10.0.0.1"] }],
      want: [],
    },
    {
      name: "the Service's family picks the pod IP",
      svc: svc({ ports: [{ port: 80 }], ipFamilies: ["IPv6"] }),
      pods: [
        { name: "dual", ips: ["10.0.0.1", "fd00::1"] },
        { name: "v4only", ips: ["10.0.0.2"] },
      ],
      want: ["ready=[fd00::1] notReady=[] ports=[:80]"],
    },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepEqual(show(computeSubsets(c.svc, c.pods.map(pod)).subsets), c.want));
  }

  it("addresses carry nodeName and a targetRef to the pod", () => {
    const { subsets } = computeSubsets(svc({ ports: [{ port: 80 }] }), [pod({ name: "a", ips: ["10.0.0.1"] })]);
    assert.deepEqual(subsets[0]!.addresses![0], { ip: "10.0.0.1", nodeName: "n1", targetRef: { kind: "Pod", namespace: "ns", name: "a", uid: "uid-a" } });
    assert.deepEqual(subsets[0]!.ports, [{ port: 80, protocol: "TCP" }]);
  });
});

describe("repackSubsets", () => {
  it("an address listed ready and not ready on one port is not ready there", () => {
    const a = { ip: "10.0.0.1" };
    const out = repackSubsets([
      { addresses: [a], ports: [{ name: "x", port: 1 }] },
      { notReadyAddresses: [a], ports: [{ name: "x", port: 1 }] },
      { addresses: [a], ports: [{ name: "y", port: 2 }] },
    ]);
    assert.deepEqual(show(out).sort(), ["ready=[10.0.0.1] notReady=[] ports=[y:2]", "ready=[] notReady=[10.0.0.1] ports=[x:1]"]);
  });
  it("is canonical: input order does not matter", () => {
    const s1: EndpointSubset = { addresses: [{ ip: "10.0.0.2" }], ports: [{ port: 80 }] };
    const s2: EndpointSubset = { addresses: [{ ip: "10.0.0.1" }], ports: [{ port: 80 }] };
    assert.deepEqual(repackSubsets([s1, s2]), repackSubsets([s2, s1]));
    assert.deepEqual(show(repackSubsets([s1, s2])), ["ready=[10.0.0.1,10.0.0.2] notReady=[] ports=[:80]"]);
  });
});

describe("truncateEndpoints", () => {
  const addrs = (n: number, base: number) => Array.from({ length: n }, (_, i) => ({ ip: `10.${base}.${Math.floor(i / 256)}.${i % 256}` }));
  it("keeps ready addresses first and caps at 1000", () => {
    const ep: Endpoints = { subsets: [{ addresses: addrs(900, 1), notReadyAddresses: addrs(300, 2) }] };
    assert.equal(truncateEndpoints(ep), true);
    assert.equal(ep.subsets![0]!.addresses!.length, 900);
    assert.equal(ep.subsets![0]!.notReadyAddresses!.length, 100);
  });
  it("shares ready addresses between subsets when they alone are too many", () => {
    const ep: Endpoints = { subsets: [{ addresses: addrs(1200, 1) }, { addresses: addrs(800, 2), notReadyAddresses: addrs(5, 3) }] };
    assert.equal(truncateEndpoints(ep), true);
    const total = ep.subsets!.reduce((n, s) => n + (s.addresses?.length ?? 0) + (s.notReadyAddresses?.length ?? 0), 0);
    assert.equal(total, MAX_CAPACITY);
    assert.equal(ep.subsets![0]!.addresses!.length, 600);
  });
  it("leaves Endpoints within capacity alone", () => {
    assert.equal(truncateEndpoints({ subsets: [{ addresses: addrs(10, 1) }] }), false);
  });
});
