import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Service } from "kubernetes-types/core/v1.js";
import type { EndpointSlice } from "kubernetes-types/discovery/v1.js";
import { FakeTimers } from "../../client/timers.js";
import { silentLogger } from "../../machinery/log.js";
import type { ProxyBackend } from "./backend.js";
import { FakeSource, makeEndpoint, makeService, makeSlice } from "./fake-source.js";
import { resolveNodePortAddresses, ServiceProxy, type SyncReport } from "./service-proxy.js";

/** A proxy on fake timers with an nft runner that records scripts (and fails when told to). */
function setup(opts: { minSyncPeriodMs?: number } = {}) {
  const timers = new FakeTimers();
  const services = new FakeSource<Service>();
  const slices = new FakeSource<EndpointSlice>();
  const scripts: string[] = [];
  const conntrack: string[][] = [];
  const reports: SyncReport[] = [];
  let failNext = 0;
  const proxy = new ServiceProxy({
    services,
    endpointSlices: slices,
    nodeName: "n1",
    nodeIPs: ["192.0.2.1"],
    clusterCidr: "10.42.0.0/16",
    tableSuffix: "cni0",
    minSyncPeriodMs: opts.minSyncPeriodMs ?? 1000,
    syncPeriodMs: 30_000,
    fullSyncPeriodMs: 3_600_000,
    logger: silentLogger,
    timers,
    nft: async (s) => {
      scripts.push(s);
      if (failNext > 0) {
        failNext--;
        return "nft -f -: Error: Could not process rule: No such file or directory";
      }
      return undefined;
    },
    conntrack: async (args) => {
      conntrack.push([...args]);
      return { code: 1, stdout: "", stderr: "conntrack v1.4.7 (conntrack-tools): 0 flow entries have been deleted.\n" };
    },
    onSynced: (r) => reports.push(r),
  });
  const abort = new AbortController();
  const running = proxy.run(abort.signal);
  /** Lets promises settle (informer deliveries, the runner) without moving time. */
  const settle = async () => {
    for (let i = 0; i < 20; i++) {
      timers.advance(0);
      await new Promise((r) => setImmediate(r));
    }
  };
  return {
    timers,
    services,
    slices,
    scripts,
    conntrack,
    reports,
    proxy,
    settle,
    failNext: (n: number) => {
      failNext = n;
    },
    stop: async () => {
      abort.abort();
      await running;
    },
  };
}

const web = makeService("ns1", "web", "10.43.0.10", [{ name: "http", port: 80 }]);
const webSlice = (...ips: string[]) => makeSlice("ns1", "web-1", "web", [{ name: "http", port: 8080 }], ips.map((ip) => makeEndpoint(ip, "n1")));

describe("ServiceProxy", () => {
  it("writes the whole table once both informers have synced, then only changes", async () => {
    const t = setup();
    t.services.set(web);
    t.slices.set(webSlice("10.42.0.5"));
    await t.settle();
    assert.equal(t.scripts.length, 1);
    assert.ok(t.scripts[0]?.startsWith("table ip skiff_proxy_cni0 {}\ndelete table ip skiff_proxy_cni0\n"));
    assert.equal(t.reports[0]?.full, true);
    assert.equal(t.proxy.tableName, "skiff_proxy_cni0");

    // Inside minSyncPeriod: nothing yet; both changes land in one transaction when it has passed.
    t.slices.set(webSlice("10.42.0.5", "10.42.0.6"));
    t.services.set(makeService("ns1", "api", "10.43.0.11", [{ port: 443 }]));
    await t.settle();
    assert.equal(t.scripts.length, 1);
    t.timers.advance(999);
    await t.settle();
    assert.equal(t.scripts.length, 1);
    t.timers.advance(1);
    await t.settle();
    assert.equal(t.scripts.length, 2);
    const partial = t.scripts[1] as string;
    assert.ok(!partial.includes("delete table"), partial);
    assert.match(partial, /^add chain ip skiff_proxy_cni0 endpoint-[A-Z2-7]{8}-ns1\/web\/tcp\/http__10\.42\.0\.6\/8080$/m);
    assert.match(partial, /^add element ip skiff_proxy_cni0 no-endpoint-services \{ 10\.43\.0\.11 \. tcp \. 443 comment "ns1\/api" : goto reject-chain \}$/m);
    assert.deepEqual([...(t.reports[1]?.services ?? [])].sort(), ["ns1/api", "ns1/web"]);
    assert.equal(t.reports[1]?.full, false);

    // A change that changes no rule sends nothing.
    t.services.set({ ...web, metadata: { ...web.metadata, labels: { tier: "front" } } });
    t.timers.advance(1000);
    await t.settle();
    assert.equal(t.scripts.length, 2);
    await t.stop();
  });

  it("rewrites the whole table after a failed transaction: on the sync period, or sooner on a change", async () => {
    const t = setup({ minSyncPeriodMs: 0 });
    t.services.set(web);
    await t.settle();
    assert.equal(t.scripts.length, 1);
    t.failNext(1);
    t.slices.set(webSlice("10.42.0.5"));
    await t.settle();
    assert.equal(t.scripts.length, 2);
    assert.match(t.reports[1]?.error ?? "", /No such file/);
    t.timers.advance(29_999);
    await t.settle();
    assert.equal(t.scripts.length, 2);
    t.timers.advance(1);
    await t.settle();
    assert.equal(t.scripts.length, 3);
    assert.ok(t.scripts[2]?.includes("delete table ip skiff_proxy_cni0"));
    assert.ok(t.scripts[2]?.includes("dnat to 10.42.0.5:8080"));
    // After another failure a change does not wait for the retry: it brings the full sync at once.
    t.failNext(1);
    t.slices.set(webSlice("10.42.0.6"));
    await t.settle();
    assert.equal(t.scripts.length, 4);
    t.services.set(makeService("ns1", "api", "10.43.0.11", [{ port: 443 }]));
    await t.settle();
    assert.equal(t.scripts.length, 5);
    assert.ok(t.scripts[4]?.startsWith("table ip skiff_proxy_cni0 {}\ndelete table"));
    assert.ok(t.scripts[4]?.includes("dnat to 10.42.0.6:8080"));
    t.timers.advance(30_000);
    await t.settle();
    assert.equal(t.scripts.length, 5, "the retry was cancelled by the successful sync");
    await t.stop();
  });

  it("deletes stale chains a second later in a transaction of their own", async () => {
    const t = setup({ minSyncPeriodMs: 0 });
    t.services.set(web);
    t.slices.set(webSlice("10.42.0.5", "10.42.0.6"));
    await t.settle();
    t.slices.set(webSlice("10.42.0.5"));
    await t.settle();
    assert.equal(t.scripts.length, 2);
    assert.match(t.scripts[1] ?? "", /^flush chain ip skiff_proxy_cni0 endpoint-.*__10\.42\.0\.6\/8080$/m);
    assert.doesNotMatch(t.scripts[1] ?? "", /delete chain/);
    t.timers.advance(1000);
    await t.settle();
    assert.equal(t.scripts.length, 3);
    assert.match(t.scripts[2] ?? "", /^delete chain ip skiff_proxy_cni0 endpoint-[A-Z2-7]{8}-ns1\/web\/tcp\/http__10\.42\.0\.6\/8080\n$/);
    await t.stop();
  });

  it("flushes conntrack entries of removed UDP endpoints and of newly active UDP services", async () => {
    const t = setup({ minSyncPeriodMs: 0 });
    const dns = makeService("ns1", "dns", "10.43.0.53", [{ name: "dns", port: 53, protocol: "UDP", nodePort: 30053 }], { type: "NodePort" });
    const dnsSlice = (...ips: string[]) =>
      makeSlice("ns1", "dns-1", "dns", [{ name: "dns", port: 5353, protocol: "UDP" }], ips.map((ip) => makeEndpoint(ip, "n1")));
    t.services.set(dns);
    await t.settle();
    assert.deepEqual(t.conntrack, []);
    t.slices.set(dnsSlice("10.42.0.7", "10.42.0.8"));
    await t.settle();
    assert.deepEqual(t.conntrack, [
      ["-D", "--orig-dst", "10.43.0.53", "-p", "udp"],
      ["-D", "-p", "udp", "--dport", "30053"],
    ]);
    t.conntrack.length = 0;
    t.slices.set(dnsSlice("10.42.0.8"));
    await t.settle();
    assert.deepEqual(t.conntrack, [
      ["-D", "-p", "udp", "--dport", "30053", "--dst-nat", "10.42.0.7"],
      ["-D", "--orig-dst", "10.43.0.53", "--dst-nat", "10.42.0.7", "-p", "udp"],
    ]);
    await t.stop();
  });

  it("follows an EndpointSlice that moves to another Service", async () => {
    const t = setup({ minSyncPeriodMs: 0 });
    t.services.set(web);
    t.services.set(makeService("ns1", "other", "10.43.0.12", [{ name: "http", port: 80 }]));
    t.slices.set(webSlice("10.42.0.5"));
    await t.settle();
    t.slices.set(makeSlice("ns1", "web-1", "other", [{ name: "http", port: 8080 }], [makeEndpoint("10.42.0.5", "n1")]));
    await t.settle();
    const s = t.scripts[1] ?? "";
    assert.match(s, /add element ip skiff_proxy_cni0 no-endpoint-services \{ 10\.43\.0\.10 \. tcp \. 80 /);
    assert.match(s, /add element ip skiff_proxy_cni0 service-ips \{ 10\.43\.0\.12 \. tcp \. 80 comment "ns1\/other:http" : goto service-/);
    await t.stop();
  });
});

describe("ServiceProxy with conflicting Services", () => {
  it("gives a shared external IP and port to the first Service, and to the next when it goes", async () => {
    const t = setup({ minSyncPeriodMs: 0 });
    const ext = (name: string, ip: string) => makeService("ns1", name, ip, [{ port: 80 }], { externalIPs: ["198.51.100.7"] });
    t.services.set(ext("one", "10.43.0.21"));
    t.slices.set(makeSlice("ns1", "one-1", "one", [{ port: 8080 }], [makeEndpoint("10.42.0.21", "n1")]));
    await t.settle();
    t.services.set(ext("two", "10.43.0.22"));
    t.slices.set(makeSlice("ns1", "two-1", "two", [{ port: 8080 }], [makeEndpoint("10.42.0.22", "n1")]));
    await t.settle();
    const all = t.scripts.join("\n");
    assert.match(all, /198\.51\.100\.7 \. tcp \. 80 comment "ns1\/one" : goto external-/);
    assert.doesNotMatch(all, /198\.51\.100\.7 \. tcp \. 80 comment "ns1\/two"/);
    const before = t.scripts.length;
    t.services.remove("ns1", "one");
    await t.settle();
    const after = t.scripts.slice(before).join("\n");
    assert.match(after, /delete element ip skiff_proxy_cni0 service-ips \{ [^}]*198\.51\.100\.7 \. tcp \. 80/);
    assert.match(after, /add element ip skiff_proxy_cni0 service-ips \{ 198\.51\.100\.7 \. tcp \. 80 comment "ns1\/two" : goto external-/);
    assert.equal(t.reports.filter((r) => r.error !== undefined).length, 0);
    await t.stop();
  });
});

describe("ServiceProxy with another backend", () => {
  it("hands the backend each changed Service's port models, and everything after a failure", async () => {
    const timers = new FakeTimers();
    const services = new FakeSource<Service>();
    const slices = new FakeSource<EndpointSlice>();
    const calls: { full: boolean; models: Record<string, string[]> }[] = [];
    let fail = false;
    const backend: ProxyBackend = {
      description: "recording backend",
      housekeepingDelayMs: () => undefined,
      async sync(models, full) {
        const seen = Object.fromEntries([...models].map(([k, ms]) => [k, ms.map((m) => `${m.clusterIP}:${m.port} -> ${m.clusterEndpoints.map((e) => e.ip).join(",")}`)]));
        calls.push({ full, models: seen });
        return fail ? { error: "iptables-restore: line 3 failed", changes: 0 } : { changes: models.size };
      },
    };
    const proxy = new ServiceProxy({
      services,
      endpointSlices: slices,
      nodeName: "n1",
      nodeIPs: ["192.0.2.1"],
      clusterCidr: "10.42.0.0/16",
      tableSuffix: "cni0",
      minSyncPeriodMs: 0,
      logger: silentLogger,
      timers,
      backend,
      conntrack: async () => ({ code: 0, stdout: "", stderr: "" }),
    });
    const abort = new AbortController();
    const running = proxy.run(abort.signal);
    const settle = async () => {
      for (let i = 0; i < 20; i++) {
        timers.advance(0);
        await new Promise((r) => setImmediate(r));
      }
    };
    services.set(web);
    services.set(makeService("ns1", "api", "10.43.0.11", [{ port: 443 }]));
    await settle();
    assert.deepEqual(calls, [{ full: true, models: { "ns1/web": ["10.43.0.10:80 -> "], "ns1/api": ["10.43.0.11:443 -> "] } }]);
    fail = true;
    slices.set(webSlice("10.42.0.5"));
    await settle();
    assert.deepEqual(calls[1], { full: false, models: { "ns1/web": ["10.43.0.10:80 -> 10.42.0.5"] } });
    fail = false;
    services.remove("ns1", "api");
    await settle();
    assert.deepEqual(calls[2], { full: true, models: { "ns1/web": ["10.43.0.10:80 -> 10.42.0.5"], "ns1/api": [] } });
    abort.abort();
    await running;
  });
});

describe("--nodeport-addresses", () => {
  const local = () => ["127.0.0.1", "192.0.2.1", "198.51.100.4", "10.42.0.1"];
  it("defaults to the node's primary IPs, as upstream's nftables mode", () => {
    assert.deepEqual(resolveNodePortAddresses(undefined, ["192.0.2.1"], local), { matchAll: false, ips: ["192.0.2.1"] });
  });
  it("takes the local addresses inside the CIDRs, and everything for 0.0.0.0/0", () => {
    assert.deepEqual(resolveNodePortAddresses(["198.51.100.0/24", "primary"], ["192.0.2.1"], local), { matchAll: false, ips: ["192.0.2.1", "198.51.100.4"] });
    assert.deepEqual(resolveNodePortAddresses(["0.0.0.0/0"], ["192.0.2.1"], local), { matchAll: true });
    assert.throws(() => resolveNodePortAddresses(["nodes"], [], local), /must be a CIDR or "primary"/);
  });
});
