/**
 * The proxy against a real kernel, in the topology of kernel-fixture.ts: a
 * "host" network namespace runs the nft table (through the injected
 * runner); pod namespaces reach it over their own /30 veth links and serve
 * HTTP with busybox httpd; an "outside" namespace plays a machine on the
 * node's network. Services and EndpointSlices come from in-memory
 * ListerWatchers. Ranges: 10.180.N/24 (pods), 10.181.N/24 (services),
 * 10.182.N.0/30 (node link). Needs root.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { runCommand } from "../cni/exec.js";
import { netnsNft } from "../nft-runner.js";
import { cleanupServiceProxy } from "./cleanup.js";
import { makeEndpoint, makeService, makeSlice } from "./fake-source.js";
import { ProxyKernelFixture, sh } from "./kernel-fixture.js";
import { ServiceProxy } from "./service-proxy.js";

const isRoot = process.getuid?.() === 0;
const fx = new ProxyKernelFixture({
  tag: "p",
  name: "kernel",
  ranges: [180, 181, 182],
  layout: (n) => ({ podNet: `10.180.${n}`, serviceCidr: `10.181.${n}.0/24`, nodeIP: `10.182.${n}.1`, outsideIP: `10.182.${n}.2` }),
});
const SUFFIX = `t${fx.id}`;

const { services, slices, sync } = fx;
let proxy: ServiceProxy;
const abort = new AbortController();
let running: Promise<void> | undefined;

describe("service proxy in a real kernel", { skip: !isRoot && "needs root (network namespaces, nftables)" }, () => {
  before(async () => {
    await fx.setUp();
    proxy = new ServiceProxy({ ...fx.proxyOptions(SUFFIX), nft: netnsNft(fx.host) });
    running = proxy.run(abort.signal);
  });

  after(async () => {
    abort.abort();
    await running;
    if (proxy) await cleanupServiceProxy(SUFFIX, netnsNft(fx.host));
    await fx.tearDown();
  });

  const vip = () => `10.181.${fx.n}.10`;
  const web = () => fx.webService(vip());
  const webSlice = (ips: string[]) => fx.webSlice(ips);

  it("load balances a ClusterIP over both endpoints", async () => {
    await sync.apply("default/web", () => {
      services.set(web());
      slices.set(webSlice([fx.podIP(0), fx.podIP(1)]));
    });
    await fx.expectBalanced(`http://${vip()}/`);
    // The host's own connections pass the output hook's DNAT too.
    const fromHost = await fx.fetchFrom(fx.host, `http://${vip()}/`);
    assert.ok(fromHost.ok && fromHost.text.startsWith("pod-"), fromHost.text);
  });

  it("reaches a NodePort on the node's address from outside and from the node", async () => {
    const outside = await fx.fetchFrom(fx.outside, `http://${fx.nodeIP}:30080/`);
    assert.ok(outside.ok && outside.text.startsWith("pod-"), outside.text);
    const own = await fx.fetchFrom(fx.host, `http://${fx.nodeIP}:30080/`);
    assert.ok(own.ok && own.text.startsWith("pod-"), own.text);
  });

  it("masquerades traffic from outside the pod network, not pod-to-pod traffic", async () => {
    await sync.apply("default/web", () => slices.set(webSlice([fx.podIP(0)])));
    assert.equal(await fx.clientIPSeenBy(fx.podNs("c"), `http://${vip()}/cgi-bin/ip`), fx.podIP(2), "a pod's own address");
    assert.equal(await fx.clientIPSeenBy(fx.outside, `http://${fx.nodeIP}:30080/cgi-bin/ip`), `10.180.${fx.n}.1`, "the node's address towards the pod");
  });

  it("serves a LoadBalancer IP (ServiceLB style: the node's IP) and keeps the client's address with externalTrafficPolicy Local", async () => {
    const key = "default/lb";
    const svc = makeService(
      "default",
      "lb",
      `10.181.${fx.n}.14`,
      [{ port: 8088, protocol: "TCP", targetPort: 8080, nodePort: 30088 }],
      { type: "LoadBalancer", externalTrafficPolicy: "Local" },
      { loadBalancer: { ingress: [{ ip: fx.nodeIP }] } },
    );
    await sync.apply(key, () => {
      services.set(svc);
      slices.set(makeSlice("default", "lb-1", "lb", [{ port: 8080 }], [makeEndpoint(fx.podIP(0), "node-1"), makeEndpoint(fx.podIP(1), "node-2")]));
    });
    for (let i = 0; i < 8; i++) {
      assert.equal(await fx.clientIPSeenBy(fx.outside, `http://${fx.nodeIP}:8088/cgi-bin/ip`), `10.182.${fx.n}.2`, "only the local endpoint, client address kept");
    }
    assert.equal((await fx.fetchFrom(fx.outside, `http://${fx.nodeIP}:30088/`)).text, "pod-a");
    // No local endpoint: external traffic is dropped (not rejected); pods still reach the Service through its ClusterIP.
    await sync.apply(key, () => slices.set(makeSlice("default", "lb-1", "lb", [{ port: 8080 }], [makeEndpoint(fx.podIP(1), "node-2")])));
    const dropped = await fx.fetchFrom(fx.outside, `http://${fx.nodeIP}:8088/`, 1);
    assert.equal(dropped.ok, false);
    assert.doesNotMatch(dropped.text, /refused/i);
    assert.equal((await fx.fetchFrom(fx.podNs("c"), `http://10.181.${fx.n}.14:8088/`)).text, "pod-b");
    await sync.apply(key, () => services.remove("default", "lb"));
  });

  it("rejects a ClusterIP's unknown port and an unallocated ClusterIP at once", async () => {
    await fx.expectRefused(fx.podNs("c"), `http://${vip()}:81/`);
    const unallocated = await fx.fetchFrom(fx.podNs("c"), `http://10.181.${fx.n}.200/`);
    assert.equal(unallocated.ok, false);
    assert.match(unallocated.text, /no route to host|unreachable/i, "admin-prohibited, not a timeout");
    const fromHost = await fx.fetchFrom(fx.host, `http://10.181.${fx.n}.200/`);
    assert.match(fromHost.text, /no route to host|unreachable/i);
  });

  it("stops sending to a removed endpoint", async () => {
    const before = sync.length;
    await sync.apply("default/web", () => slices.set(webSlice([fx.podIP(1)])));
    const r = sync.reports.slice(before).find((x) => x.services.includes("default/web"));
    assert.equal(r?.full, false, "an endpoint change is an incremental transaction");
    for (let i = 0; i < 15; i++) {
      const res = await fx.fetchFrom(fx.podNs("c"), `http://${vip()}/`);
      assert.equal(res.text, "pod-b");
    }
  });

  it("rejects connections to a Service without endpoints (connection refused)", async () => {
    await sync.apply("default/web", () => slices.set(webSlice([])));
    await fx.expectRefused(fx.podNs("c"), `http://${vip()}/`);
    await fx.expectRefused(fx.outside, `http://${fx.nodeIP}:30080/`);
    // An unready endpoint is no endpoint either.
    await sync.apply("default/web", () =>
      slices.set(makeSlice("default", "web-abc", "web", [{ name: "http", port: 8080 }], [makeEndpoint(fx.podIP(0), "node-1", { ready: false, serving: false, terminating: false })])),
    );
    assert.match((await fx.fetchFrom(fx.podNs("c"), `http://${vip()}/`)).text, /refused/i);
  });

  it("uses a serving, terminating endpoint only while no endpoint is ready", async () => {
    const terminating = makeEndpoint(fx.podIP(0), "node-1", { ready: false, serving: true, terminating: true });
    await sync.apply("default/web", () => slices.set(makeSlice("default", "web-abc", "web", [{ name: "http", port: 8080 }], [terminating])));
    assert.equal((await fx.fetchFrom(fx.podNs("c"), `http://${vip()}/`)).text, "pod-a");
    await sync.apply("default/web", () =>
      slices.set(makeSlice("default", "web-abc", "web", [{ name: "http", port: 8080 }], [terminating, makeEndpoint(fx.podIP(1), "node-1")])),
    );
    for (let i = 0; i < 10; i++) assert.equal((await fx.fetchFrom(fx.podNs("c"), `http://${vip()}/`)).text, "pod-b");
  });

  it("lets a backend reach itself through its Service (hairpin)", async () => {
    await sync.apply("default/web", () => slices.set(webSlice([fx.podIP(0)])));
    const r = await fx.fetchFrom(fx.podNs("a"), `http://${vip()}/`);
    assert.ok(r.ok, r.text);
    assert.equal(r.text, "pod-a");
  });

  it("keeps a client on one endpoint with sessionAffinity ClientIP", async () => {
    await fx.expectClientIPAffinity(`10.181.${fx.n}.11`);
  });

  it("sends internalTrafficPolicy Local traffic to this node's endpoints only, and drops it when there are none", async () => {
    const key = "default/local";
    const ip = `10.181.${fx.n}.12`;
    const svc = makeService("default", "local", ip, [{ port: 80, protocol: "TCP", targetPort: 8080 }], { internalTrafficPolicy: "Local" });
    await sync.apply(key, () => {
      services.set(svc);
      slices.set(makeSlice("default", "local-1", "local", [{ port: 8080 }], [makeEndpoint(fx.podIP(0), "node-2"), makeEndpoint(fx.podIP(1), "node-1")]));
    });
    for (let i = 0; i < 10; i++) assert.equal((await fx.fetchFrom(fx.podNs("c"), `http://${ip}/`)).text, "pod-b");
    await sync.apply(key, () => slices.set(makeSlice("default", "local-1", "local", [{ port: 8080 }], [makeEndpoint(fx.podIP(0), "node-2")])));
    const r = await fx.fetchFrom(fx.podNs("c"), `http://${ip}/`, 1);
    assert.equal(r.ok, false);
    assert.doesNotMatch(r.text, /refused/i, "dropped, not rejected, as upstream");
  });

  it("deletes the conntrack entries of a removed UDP endpoint", async () => {
    const key = "default/dns";
    const ip = `10.181.${fx.n}.13`;
    const dnsSlice = (i: number) => makeSlice("default", "dns-1", "dns", [{ port: 5353, protocol: "UDP" }], [makeEndpoint(fx.podIP(i), "node-1")]);
    await sync.apply(key, () => {
      services.set(makeService("default", "dns", ip, [{ port: 53, protocol: "UDP", targetPort: 5353 }]));
      slices.set(dnsSlice(0));
    });
    // One datagram from a fixed source port (busybox nc has no UDP here; node does).
    const script = `const s=require("node:dgram").createSocket("udp4");s.bind(40053,()=>s.send("x",53,${JSON.stringify(ip)},()=>s.close()))`;
    const send = async () => {
      const o = await runCommand("ip", ["netns", "exec", fx.podNs("c"), process.execPath, "-e", script], { timeoutMs: 20_000 });
      assert.equal(o.code, 0, o.stderr);
    };
    const entries = async () => sh("ip", "netns", "exec", fx.host, "conntrack", "-L", "-p", "udp", "--orig-dst", ip);
    await send();
    assert.match(await entries(), new RegExp(`src=${fx.podIP(0).replace(/\./g, "\\.")} `), "the datagram was NATed to the first endpoint");
    await sync.apply(key, () => slices.set(dnsSlice(1)));
    // Without the flush the entry would keep sending this client's datagrams to the removed endpoint for 30 s.
    assert.doesNotMatch(await entries(), new RegExp(`src=${fx.podIP(0).replace(/\./g, "\\.")} `));
    await send();
    assert.match(await entries(), new RegExp(`src=${fx.podIP(1).replace(/\./g, "\\.")} `));
  });

  it("removes a deleted Service's rules and leaves the table for cleanup", async () => {
    await sync.apply("default/web", () => services.remove("default", "web"));
    // Its chains are flushed at once and deleted by a later transaction (as upstream, for kernels before 6.2).
    for (;;) {
      const since = sync.length;
      const chains = await sh("ip", "netns", "exec", fx.host, "nft", "list", "chains", "ip");
      if (!/default\/web\//.test(chains)) break;
      if (sync.length === since) await sync.next();
    }
    const list = await sh("ip", "netns", "exec", fx.host, "nft", "list", "table", "ip", proxy.tableName);
    assert.doesNotMatch(list, /default\/web\//);
    assert.match(list, /default\/sticky\//);
    assert.equal(await cleanupServiceProxy(SUFFIX, netnsNft(fx.host)), undefined);
    const gone = await runCommand("ip", ["netns", "exec", fx.host, "nft", "list", "table", "ip", proxy.tableName]);
    assert.notEqual(gone.code, 0);
    assert.equal(await cleanupServiceProxy(SUFFIX, netnsNft(fx.host)), undefined, "cleanup is idempotent");
  });
});
