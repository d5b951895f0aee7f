/**
 * The cluster DNS against a real `skiff server`: Services, EndpointSlices
 * and Namespaces made with kubectl, answers asked with dns-packet over UDP
 * and TCP on loopback, names outside the cluster forwarded to a fake
 * upstream on loopback; and the kube-dns Service reconciled through the API.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Answer, RecordType } from "dns-packet";
import type { KObject } from "../../apiserver/registry/types.js";
import { configFromKubeconfig } from "../../client/config.js";
import { consoleLogger } from "../../machinery/log.js";
import { ResourceClient } from "../../client/resource-client.js";
import { ENDPOINT_SLICES, ENDPOINTS, SERVICES } from "../../client/resources.js";
import { RestClient } from "../../client/rest-client.js";
import { startTestServer, type TestServer } from "../../../test/support/cluster.js";
import { type ObjectAccess, reconcileKubeDnsService } from "./kube-dns-service.js";
import { type ClusterDns, startClusterDns } from "./server.js";
import { dnsQuery, type FakeUpstream, type Reply, resolve, startFakeUpstream } from "./test-support.js";

const data = (rs: readonly Answer[] | undefined) => (rs ?? []).map((r) => ("data" in r ? r.data : undefined));

/** Asks until `ok` holds (the informers see changes a moment after kubectl returns). */
async function eventually(port: number, name: string, type: RecordType, ok: (r: Reply) => boolean, opts: { tcp?: boolean } = {}): Promise<Reply> {
  const deadline = Date.now() + 20_000;
  let last: Reply | undefined;
  while (Date.now() < deadline) {
    last = await dnsQuery(port, name, type, opts);
    if (ok(last)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`${name} ${type}: no expected answer; last: ${JSON.stringify(last)}`);
}

function access(rest: RestClient, d: typeof SERVICES): ObjectAccess {
  const c = (ns: string | undefined) => new ResourceClient<KObject>(rest, d).namespace(ns ?? "");
  return {
    get: (ns, name) => c(ns).get(name),
    create: (ns, body) => c(ns).create(body),
    update: (ns, _name, body) => c(ns).update(body),
    delete: (ns, name) => c(ns).delete(name),
  };
}

const manifests = `
apiVersion: v1
kind: Namespace
metadata: {name: expense}
---
apiVersion: v1
kind: Service
metadata: {name: backend, namespace: expense}
spec:
  ports: [{name: http, port: 8080, protocol: TCP}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: backend-1
  namespace: expense
  labels: {kubernetes.io/service-name: backend}
addressType: IPv4
endpoints:
- addresses: [10.42.5.7]
  conditions: {ready: true}
ports: [{name: http, port: 8080, protocol: TCP}]
---
apiVersion: v1
kind: Service
metadata: {name: db, namespace: expense}
spec:
  clusterIP: None
  ports: [{name: pg, port: 5432, protocol: TCP}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: db-1
  namespace: expense
  labels: {kubernetes.io/service-name: db}
addressType: IPv4
endpoints:
- addresses: [10.42.5.10]
  hostname: db-0
  conditions: {ready: true}
- addresses: [10.42.5.11]
  hostname: db-1
  conditions: {ready: true}
- addresses: [10.42.5.12]
  hostname: db-2
  conditions: {ready: false}
ports: [{name: pg, port: 5432, protocol: TCP}]
---
apiVersion: v1
kind: Service
metadata: {name: search, namespace: expense}
spec:
  type: ExternalName
  externalName: search.example.org
`;

function bigSlice(n: number): string {
  const eps = Array.from({ length: n }, (_, i) => `- addresses: [10.42.6.${i + 1}]\n  conditions: {ready: true}`).join("\n");
  return `apiVersion: v1
kind: Service
metadata: {name: wide, namespace: expense}
spec:
  clusterIP: None
  ports: [{name: http, port: 80, protocol: TCP}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: wide-1
  namespace: expense
  labels: {kubernetes.io/service-name: wide}
addressType: IPv4
endpoints:
${eps}
ports: [{name: http, port: 80, protocol: TCP}]
`;
}

describe("cluster DNS with a real API server", { timeout: 180_000 }, () => {
  let srv: TestServer;
  let dns: ClusterDns;
  let upstream: FakeUpstream;
  let rest: RestClient;

  before(async () => {
    // The server's own cluster DNS is off: this test runs and reconciles its own.
    srv = await startTestServer(["--disable", "dns"]);
    upstream = await startFakeUpstream({
      "search.example.org A": [{ name: "search.example.org", type: "A", ttl: 60, data: "192.0.2.30" }],
      "www.example.org A": [{ name: "www.example.org", type: "A", ttl: 60, data: "192.0.2.31" }],
    });
    const config = configFromKubeconfig(srv.kubeconfig);
    rest = new RestClient(config);
    dns = await startClusterDns({ client: config, listen: { host: "127.0.0.1", port: 0 }, upstreams: [`127.0.0.1:${upstream.port}`] });
  });

  after(async () => {
    await dns?.stop();
    await upstream?.stop();
    await srv?.stop();
  });

  it("publishes the kube-dns Service and its EndpointSlice at the DNS server's real port", async () => {
    const deps = {
      services: access(rest, SERVICES),
      endpoints: access(rest, ENDPOINTS),
      endpointSlices: access(rest, ENDPOINT_SLICES),
      dnsIP: "127.0.0.1",
      dnsPort: dns.port,
      logger: consoleLogger({ level: "warn" }),
    };
    assert.deepEqual(await reconcileKubeDnsService(deps), { service: "created", endpoints: "created", endpointSlice: "created" });
    assert.deepEqual(await reconcileKubeDnsService(deps), { service: "unchanged", endpoints: "unchanged", endpointSlice: "unchanged" });
    const svc = JSON.parse(srv.kubectl(["get", "service", "kube-dns", "-n", "kube-system", "-o", "json"]).stdout);
    assert.equal(svc.spec.clusterIP, "10.43.0.10");
    assert.equal(svc.metadata.labels["k8s-app"], "kube-dns");
    assert.equal(svc.metadata.labels["kubernetes.io/name"], "CoreDNS");
    assert.equal(svc.spec.selector, undefined);
    assert.deepEqual(
      svc.spec.ports.map((p: { name: string; port: number; protocol: string; targetPort: number }) => `${p.name} ${p.port}/${p.protocol}->${p.targetPort}`),
      [`dns 53/UDP->${dns.port}`, `dns-tcp 53/TCP->${dns.port}`, "metrics 9153/TCP->9153"],
    );
    const slice = JSON.parse(srv.kubectl(["get", "endpointslice", "kube-dns", "-n", "kube-system", "-o", "json"]).stdout);
    assert.equal(slice.metadata.labels["endpointslice.kubernetes.io/managed-by"], "dns.skiff.io");
    assert.deepEqual(slice.endpoints[0].addresses, ["127.0.0.1"]);
    assert.deepEqual(
      slice.ports.map((p: { name: string; port: number; protocol: string }) => `${p.name} ${p.port}/${p.protocol}`).sort(),
      [`dns ${dns.port}/UDP`, `dns-tcp ${dns.port}/TCP`],
    );
    const ep = JSON.parse(srv.kubectl(["get", "endpoints", "kube-dns", "-n", "kube-system", "-o", "json"]).stdout);
    assert.deepEqual(ep.subsets[0].addresses, [{ ip: "127.0.0.1" }]);
    // The mirroring controller leaves our Endpoints alone: the only slice is ours.
    const slices = JSON.parse(srv.kubectl(["get", "endpointslices", "-n", "kube-system", "-l", "kubernetes.io/service-name=kube-dns", "-o", "json"]).stdout);
    assert.deepEqual(slices.items.map((s: { metadata: { name: string } }) => s.metadata.name), ["kube-dns"]);
    // A Service changed by hand is put back.
    srv.kubectl(["patch", "service", "kube-dns", "-n", "kube-system", "--type=json", "-p", '[{"op":"remove","path":"/spec/ports/2"}]']);
    assert.equal((await reconcileKubeDnsService(deps)).service, "updated");
    // The server answers for itself.
    const self = await eventually(dns.port, "kube-dns.kube-system.svc.cluster.local", "A", (r) => r.answers?.length === 1);
    assert.deepEqual(data(self.answers), ["10.43.0.10"]);
    assert.deepEqual(data((await dnsQuery(dns.port, "ns.dns.cluster.local", "A")).answers), ["10.43.0.10"]);
  });

  it("answers Services, endpoints and pods made with kubectl", async () => {
    const applied = srv.kubectl(["apply", "-f", "-"], { input: manifests });
    assert.equal(applied.status, 0, applied.stderr);
    const a = await eventually(dns.port, "backend.expense.svc.cluster.local", "A", (r) => r.answers?.length === 1);
    const clusterIP = JSON.parse(srv.kubectl(["get", "service", "backend", "-n", "expense", "-o", "json"]).stdout).spec.clusterIP as string;
    assert.deepEqual(data(a.answers), [clusterIP]);
    assert.equal(a.flag_aa, true);
    const tcp = await dnsQuery(dns.port, "backend.expense.svc.cluster.local", "A", { tcp: true });
    assert.deepEqual(data(tcp.answers), [clusterIP]);

    const srv1 = await dnsQuery(dns.port, "_http._tcp.backend.expense.svc.cluster.local", "SRV");
    assert.deepEqual(data(srv1.answers), [{ priority: 0, weight: 100, port: 8080, target: "backend.expense.svc.cluster.local" }]);
    assert.deepEqual(data(srv1.additionals), [clusterIP]);

    const ptr = await dnsQuery(dns.port, `${clusterIP.split(".").reverse().join(".")}.in-addr.arpa`, "PTR");
    assert.deepEqual(data(ptr.answers), ["backend.expense.svc.cluster.local"]);
    const epPtr = await dnsQuery(dns.port, "7.5.42.10.in-addr.arpa", "PTR");
    assert.deepEqual(data(epPtr.answers), ["10-42-5-7.backend.expense.svc.cluster.local"]);

    const headless = await eventually(dns.port, "db.expense.svc.cluster.local", "A", (r) => r.answers?.length === 2);
    assert.deepEqual(data(headless.answers).sort(), ["10.42.5.10", "10.42.5.11"]);
    assert.deepEqual(data((await dnsQuery(dns.port, "db-1.db.expense.svc.cluster.local", "A")).answers), ["10.42.5.11"]);
    const dbSrv = await dnsQuery(dns.port, "_pg._tcp.db.expense.svc.cluster.local", "SRV");
    assert.deepEqual(
      (dbSrv.answers ?? []).map((r) => (r.type === "SRV" ? r.data.target : "")).sort(),
      ["db-0.db.expense.svc.cluster.local", "db-1.db.expense.svc.cluster.local"],
    );

    const ext = await eventually(dns.port, "search.expense.svc.cluster.local", "A", (r) => r.answers?.length === 2);
    assert.deepEqual(data(ext.answers), ["search.example.org", "192.0.2.30"]);

    assert.deepEqual(data((await dnsQuery(dns.port, "10-42-5-7.expense.pod.cluster.local", "A")).answers), ["10.42.5.7"]);
  });

  it("tells NXDOMAIN from NODATA", async () => {
    await eventually(dns.port, "backend.expense.svc.cluster.local", "A", (r) => r.answers?.length === 1);
    const nx = await dnsQuery(dns.port, "missing.expense.svc.cluster.local", "A");
    assert.equal(nx.rcode, "NXDOMAIN");
    assert.equal(nx.authorities?.[0]?.type, "SOA");
    assert.equal((await dnsQuery(dns.port, "backend.nowhere.svc.cluster.local", "A")).rcode, "NXDOMAIN");
    const nodata = await dnsQuery(dns.port, "backend.expense.svc.cluster.local", "AAAA");
    assert.equal(nodata.rcode, "NOERROR");
    assert.equal(nodata.answers?.length, 0);
    assert.equal(nodata.authorities?.[0]?.type, "SOA");
    assert.equal((await dnsQuery(dns.port, "expense.svc.cluster.local", "A")).rcode, "NOERROR");
  });

  it("truncates a large UDP answer and answers it whole over TCP", async () => {
    const applied = srv.kubectl(["apply", "-f", "-"], { input: bigSlice(30) });
    assert.equal(applied.status, 0, applied.stderr);
    await eventually(dns.port, "wide.expense.svc.cluster.local", "A", (r) => r.answers?.length === 30, { tcp: true });
    const { reply, overTcp } = await resolve(dns.port, "wide.expense.svc.cluster.local", "A");
    assert.equal(overTcp, true);
    assert.equal(reply.answers?.length, 30);
  });

  it("forwards names outside the cluster to the upstream", async () => {
    const r = await dnsQuery(dns.port, "www.example.org", "A");
    assert.deepEqual(data(r.answers), ["192.0.2.31"]);
    assert.ok(upstream.asked.includes("www.example.org A udp"));
    assert.equal((await dnsQuery(dns.port, "nothing.example.org", "A")).rcode, "NXDOMAIN");
    assert.ok(!upstream.asked.some((q) => q.includes("cluster.local")), "cluster names never go upstream");
  });

  it("forgets a Service that is deleted", async () => {
    await eventually(dns.port, "backend.expense.svc.cluster.local", "A", (r) => r.answers?.length === 1);
    const del = srv.kubectl(["delete", "service", "backend", "-n", "expense"]);
    assert.equal(del.status, 0, del.stderr);
    await eventually(dns.port, "backend.expense.svc.cluster.local", "A", (r) => r.rcode === "NXDOMAIN");
  });
});
