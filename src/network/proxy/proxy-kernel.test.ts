/**
 * The proxy against a real kernel: a "host" network namespace runs the nft
 * table (through the injected runner); pod namespaces reach it over their
 * own /30 veth links (so every packet is routed by the host and its
 * conntrack sees both directions) and serve HTTP with busybox httpd; an
 * "outside" namespace plays a machine on the node's network. Services and
 * EndpointSlices come from in-memory ListerWatchers. Needs root.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes, randomInt } from "node:crypto";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import type { Service } from "kubernetes-types/core/v1.js";
import type { EndpointSlice } from "kubernetes-types/discovery/v1.js";
import { silentLogger } from "../../machinery/log.js";
import { runCommand } from "../cni/exec.js";
import { cleanupServiceProxy } from "./cleanup.js";
import { FakeSource, makeEndpoint, makeService, makeSlice } from "./fake-source.js";
import { netnsNft } from "../nft-runner.js";
import { ServiceProxy, type SyncReport } from "./service-proxy.js";

const isRoot = process.getuid?.() === 0;
const id = randomBytes(3).toString("hex");
const HOST = `skiff-t-ph-${id}`;
const OUTSIDE = `skiff-t-po-${id}`;
const PODS = ["a", "b", "c"] as const; // c is the client pod
const dir = `/tmp/skiff-proxy-kernel-${id}`;

async function sh(cmd: string, ...args: string[]): Promise<string> {
  const o = await runCommand(cmd, args, { timeoutMs: 20_000 });
  if (o.code !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${o.stderr || o.error || o.code}`);
  return o.stdout;
}

/** A free third octet N such that 10.180.N/24, 10.181.N/24 and 10.182.N/24 are on no link here. */
async function freeOctet(): Promise<number> {
  for (;;) {
    const n = randomInt(1, 255);
    const used = await Promise.all([180, 181, 182].map((b) => sh("ip", "-4", "-o", "addr", "show", "to", `10.${b}.${n}.0/24`)));
    if (used.every((u) => u.trim() === "")) return n;
  }
}

let N = 0;
const podIP = (i: number) => `10.180.${N}.${4 * i + 2}`;
const podNs = (p: string) => `skiff-t-pp${p}-${id}`;
const nodeIP = () => `10.182.${N}.1`;
const servers: number[] = [];

/** An HTTP GET from a namespace with busybox nc (its static wget crashes here): the body, or the error text. */
async function fetchFrom(ns: string, url: string, timeoutSeconds = 5): Promise<{ ok: boolean; text: string }> {
  const u = new URL(url);
  const args = ["netns", "exec", ns, "busybox", "nc", "-w", String(timeoutSeconds), u.hostname, u.port || "80"];
  const o = await runCommand("ip", args, { input: `GET ${u.pathname} HTTP/1.0\r\nHost: ${u.host}\r\n\r\n`, timeoutMs: 15_000 });
  const sep = o.stdout.indexOf("\r\n\r\n");
  if (o.code === 0 && o.stdout.startsWith("HTTP/1.") && sep >= 0) return { ok: true, text: o.stdout.slice(sep + 4).trim() };
  return { ok: false, text: `${o.stdout}${o.stderr}${o.error ?? ""}`.trim() };
}

/** The client address busybox httpd hands CGI (`[::ffff:a.b.c.d]` on its dual-stack socket) as plain IPv4. */
async function clientIPSeenBy(ns: string, url: string): Promise<string> {
  const r = await fetchFrom(ns, url);
  assert.ok(r.ok, r.text);
  return r.text.replace(/^\[::ffff:(.*)\]$/, "$1");
}

const services = new FakeSource<Service>();
const slices = new FakeSource<EndpointSlice>();
let proxy: ServiceProxy;
const abort = new AbortController();
let running: Promise<void> | undefined;
const reports: SyncReport[] = [];
const waiters = new Set<() => void>();

/** Waits until a successful sync (after `since` reports) covered service `key`. */
async function synced(key: string, since: number): Promise<void> {
  for (;;) {
    const r = reports.slice(since).find((x) => x.error === undefined && (x.full || x.services.includes(key)));
    if (r) return;
    const failed = reports.slice(since).find((x) => x.error !== undefined);
    if (failed) throw new Error(`sync failed: ${failed.error}`);
    await new Promise<void>((res) => waiters.add(res));
  }
}

async function apply(key: string, change: () => void): Promise<void> {
  const since = reports.length;
  change();
  await synced(key, since);
}

describe("service proxy in a real kernel", { skip: !isRoot && "needs root (network namespaces, nftables)" }, () => {
  before(async () => {
    N = await freeOctet();
    mkdirSync(dir, { recursive: true });
    await sh("ip", "netns", "add", HOST);
    await sh("ip", "netns", "add", OUTSIDE);
    await sh("ip", "netns", "exec", HOST, "sysctl", "-qw", "net.ipv4.ip_forward=1");
    await sh("ip", "-n", HOST, "link", "set", "lo", "up");
    // The node's own network: host 10.182.N.1, a machine outside at .2.
    await sh("ip", "-n", HOST, "link", "add", "uplink", "type", "veth", "peer", "name", "eth0", "netns", OUTSIDE);
    await sh("ip", "-n", HOST, "addr", "add", `${nodeIP()}/30`, "dev", "uplink");
    await sh("ip", "-n", HOST, "link", "set", "uplink", "up");
    await sh("ip", "-n", OUTSIDE, "addr", "add", `10.182.${N}.2/30`, "dev", "eth0");
    await sh("ip", "-n", OUTSIDE, "link", "set", "eth0", "up");
    await sh("ip", "-n", OUTSIDE, "link", "set", "lo", "up");
    // The service CIDR routes somewhere in the host so its own connects get as far as the DNAT.
    await sh("ip", "-n", HOST, "route", "add", `10.181.${N}.0/24`, "dev", "uplink");
    for (const [i, p] of PODS.entries()) {
      const ns = podNs(p);
      await sh("ip", "netns", "add", ns);
      await sh("ip", "-n", HOST, "link", "add", `veth-${p}`, "type", "veth", "peer", "name", "eth0", "netns", ns);
      await sh("ip", "-n", HOST, "addr", "add", `10.180.${N}.${4 * i + 1}/30`, "dev", `veth-${p}`);
      await sh("ip", "-n", HOST, "link", "set", `veth-${p}`, "up");
      await sh("ip", "-n", ns, "addr", "add", `${podIP(i)}/30`, "dev", "eth0");
      await sh("ip", "-n", ns, "link", "set", "eth0", "up");
      await sh("ip", "-n", ns, "link", "set", "lo", "up");
      await sh("ip", "-n", ns, "route", "add", "default", "via", `10.180.${N}.${4 * i + 1}`);
      mkdirSync(`${dir}/${p}`);
      writeFileSync(`${dir}/${p}/index.html`, `pod-${p}\n`);
      // /cgi-bin/ip answers with the client address the pod sees (to tell masqueraded traffic from direct).
      mkdirSync(`${dir}/${p}/cgi-bin`);
      writeFileSync(`${dir}/${p}/cgi-bin/ip`, '#!/bin/sh\nprintf "Content-Type: text/plain\\r\\n\\r\\n%s\\n" "$REMOTE_ADDR"\n', { mode: 0o755 });
      for (const port of ["8080", "8081"]) {
        const child = spawn("ip", ["netns", "exec", ns, "busybox", "httpd", "-f", "-p", port, "-h", `${dir}/${p}`], { stdio: "ignore" });
        if (child.pid !== undefined) servers.push(child.pid);
      }
    }
    // The outside machine reaches the node only: no route to pods or services.
    for (const i of PODS.keys()) {
      for (const port of [8080, 8081]) {
        for (let tries = 0; ; tries++) {
          const r = await fetchFrom(HOST, `http://${podIP(i)}:${port}/`);
          if (r.ok) break;
          if (tries > 200) throw new Error(`httpd in pod ${i} never answered: ${r.text}`);
          await new Promise((res) => setTimeout(res, 50));
        }
      }
    }
    proxy = new ServiceProxy({
      services,
      endpointSlices: slices,
      nodeName: "node-1",
      nodeIPs: [nodeIP()],
      clusterCidr: `10.180.${N}.0/24`,
      serviceCidr: `10.181.${N}.0/24`,
      tableSuffix: `t${id}`,
      minSyncPeriodMs: 0,
      logger: silentLogger,
      nft: netnsNft(HOST),
      conntrack: (args) => runCommand("ip", ["netns", "exec", HOST, "conntrack", ...args]),
      onSynced: (r) => {
        reports.push(r);
        for (const w of [...waiters]) {
          waiters.delete(w);
          w();
        }
      },
    });
    running = proxy.run(abort.signal);
  });

  after(async () => {
    abort.abort();
    await running;
    for (const pid of servers) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {}
    }
    if (proxy) await cleanupServiceProxy(`t${id}`, netnsNft(HOST));
    for (const ns of [HOST, OUTSIDE, ...PODS.map(podNs)]) await runCommand("ip", ["netns", "del", ns]);
    rmSync(dir, { recursive: true, force: true });
  });

  const vip = () => `10.181.${N}.10`;
  const web = () => makeService("default", "web", vip(), [{ name: "http", port: 80, protocol: "TCP", targetPort: 8080, nodePort: 30080 }], { type: "NodePort" });
  const webSlice = (ips: string[]) =>
    makeSlice("default", "web-abc", "web", [{ name: "http", port: 8080 }], ips.map((ip) => makeEndpoint(ip, "node-1")));

  it("load balances a ClusterIP over both endpoints", async () => {
    await apply("default/web", () => {
      services.set(web());
      slices.set(webSlice([podIP(0), podIP(1)]));
    });
    const seen = new Set<string>();
    for (let i = 0; i < 40 && seen.size < 2; i++) {
      const r = await fetchFrom(podNs("c"), `http://${vip()}/`);
      assert.ok(r.ok, r.text);
      seen.add(r.text);
    }
    assert.deepEqual([...seen].sort(), ["pod-a", "pod-b"]);
    // The host's own connections pass the output hook's DNAT too.
    const fromHost = await fetchFrom(HOST, `http://${vip()}/`);
    assert.ok(fromHost.ok && fromHost.text.startsWith("pod-"), fromHost.text);
  });

  it("reaches a NodePort on the node's address from outside and from the node", async () => {
    const outside = await fetchFrom(OUTSIDE, `http://${nodeIP()}:30080/`);
    assert.ok(outside.ok && outside.text.startsWith("pod-"), outside.text);
    const own = await fetchFrom(HOST, `http://${nodeIP()}:30080/`);
    assert.ok(own.ok && own.text.startsWith("pod-"), own.text);
  });

  it("masquerades traffic from outside the pod network, not pod-to-pod traffic", async () => {
    await apply("default/web", () => slices.set(webSlice([podIP(0)])));
    assert.equal(await clientIPSeenBy(podNs("c"), `http://${vip()}/cgi-bin/ip`), podIP(2), "a pod's own address");
    assert.equal(await clientIPSeenBy(OUTSIDE, `http://${nodeIP()}:30080/cgi-bin/ip`), `10.180.${N}.1`, "the node's address towards the pod");
  });

  it("serves a LoadBalancer IP (ServiceLB style: the node's IP) and keeps the client's address with externalTrafficPolicy Local", async () => {
    const key = "default/lb";
    const svc = makeService(
      "default",
      "lb",
      `10.181.${N}.14`,
      [{ port: 8088, protocol: "TCP", targetPort: 8080, nodePort: 30088 }],
      { type: "LoadBalancer", externalTrafficPolicy: "Local" },
      { loadBalancer: { ingress: [{ ip: nodeIP() }] } },
    );
    await apply(key, () => {
      services.set(svc);
      slices.set(makeSlice("default", "lb-1", "lb", [{ port: 8080 }], [makeEndpoint(podIP(0), "node-1"), makeEndpoint(podIP(1), "node-2")]));
    });
    for (let i = 0; i < 8; i++) {
      assert.equal(await clientIPSeenBy(OUTSIDE, `http://${nodeIP()}:8088/cgi-bin/ip`), `10.182.${N}.2`, "only the local endpoint, client address kept");
    }
    assert.equal((await fetchFrom(OUTSIDE, `http://${nodeIP()}:30088/`)).text, "pod-a");
    // No local endpoint: external traffic is dropped (not rejected); pods still reach the Service through its ClusterIP.
    await apply(key, () => slices.set(makeSlice("default", "lb-1", "lb", [{ port: 8080 }], [makeEndpoint(podIP(1), "node-2")])));
    const dropped = await fetchFrom(OUTSIDE, `http://${nodeIP()}:8088/`, 1);
    assert.equal(dropped.ok, false);
    assert.doesNotMatch(dropped.text, /refused/i);
    assert.equal((await fetchFrom(podNs("c"), `http://10.181.${N}.14:8088/`)).text, "pod-b");
    await apply(key, () => services.remove("default", "lb"));
  });

  it("rejects a ClusterIP's unknown port and an unallocated ClusterIP at once", async () => {
    const badPort = await fetchFrom(podNs("c"), `http://${vip()}:81/`);
    assert.equal(badPort.ok, false);
    assert.match(badPort.text, /refused/i);
    const unallocated = await fetchFrom(podNs("c"), `http://10.181.${N}.200/`);
    assert.equal(unallocated.ok, false);
    assert.match(unallocated.text, /no route to host|unreachable/i, "admin-prohibited, not a timeout");
    const fromHost = await fetchFrom(HOST, `http://10.181.${N}.200/`);
    assert.match(fromHost.text, /no route to host|unreachable/i);
  });

  it("stops sending to a removed endpoint", async () => {
    const before = reports.length;
    await apply("default/web", () => slices.set(webSlice([podIP(1)])));
    const r = reports.slice(before).find((x) => x.services.includes("default/web"));
    assert.equal(r?.full, false, "an endpoint change is an incremental transaction");
    for (let i = 0; i < 15; i++) {
      const res = await fetchFrom(podNs("c"), `http://${vip()}/`);
      assert.equal(res.text, "pod-b");
    }
  });

  it("rejects connections to a Service without endpoints (connection refused)", async () => {
    await apply("default/web", () => slices.set(webSlice([])));
    const r = await fetchFrom(podNs("c"), `http://${vip()}/`);
    assert.equal(r.ok, false);
    assert.match(r.text, /refused/i);
    const np = await fetchFrom(OUTSIDE, `http://${nodeIP()}:30080/`);
    assert.equal(np.ok, false);
    assert.match(np.text, /refused/i);
    // An unready endpoint is no endpoint either.
    await apply("default/web", () =>
      slices.set(makeSlice("default", "web-abc", "web", [{ name: "http", port: 8080 }], [makeEndpoint(podIP(0), "node-1", { ready: false, serving: false, terminating: false })])),
    );
    assert.match((await fetchFrom(podNs("c"), `http://${vip()}/`)).text, /refused/i);
  });

  it("uses a serving, terminating endpoint only while no endpoint is ready", async () => {
    const terminating = makeEndpoint(podIP(0), "node-1", { ready: false, serving: true, terminating: true });
    await apply("default/web", () => slices.set(makeSlice("default", "web-abc", "web", [{ name: "http", port: 8080 }], [terminating])));
    assert.equal((await fetchFrom(podNs("c"), `http://${vip()}/`)).text, "pod-a");
    await apply("default/web", () =>
      slices.set(makeSlice("default", "web-abc", "web", [{ name: "http", port: 8080 }], [terminating, makeEndpoint(podIP(1), "node-1")])),
    );
    for (let i = 0; i < 10; i++) assert.equal((await fetchFrom(podNs("c"), `http://${vip()}/`)).text, "pod-b");
  });

  it("lets a backend reach itself through its Service (hairpin)", async () => {
    await apply("default/web", () => slices.set(webSlice([podIP(0)])));
    const r = await fetchFrom(podNs("a"), `http://${vip()}/`);
    assert.ok(r.ok, r.text);
    assert.equal(r.text, "pod-a");
  });

  it("keeps a client on one endpoint with sessionAffinity ClientIP", async () => {
    const key = "default/sticky";
    const ip = `10.181.${N}.11`;
    await apply(key, () => {
      services.set(
        makeService("default", "sticky", ip, [{ port: 80, protocol: "TCP", targetPort: 8081 }], {
          sessionAffinity: "ClientIP",
          sessionAffinityConfig: { clientIP: { timeoutSeconds: 600 } },
        }),
      );
      slices.set(makeSlice("default", "sticky-1", "sticky", [{ port: 8081 }], [makeEndpoint(podIP(0), "node-1"), makeEndpoint(podIP(1), "node-1")]));
    });
    const first = await fetchFrom(podNs("c"), `http://${ip}/`);
    assert.ok(first.ok, first.text);
    for (let i = 0; i < 15; i++) assert.equal((await fetchFrom(podNs("c"), `http://${ip}/`)).text, first.text);
  });

  it("sends internalTrafficPolicy Local traffic to this node's endpoints only, and drops it when there are none", async () => {
    const key = "default/local";
    const ip = `10.181.${N}.12`;
    const svc = makeService("default", "local", ip, [{ port: 80, protocol: "TCP", targetPort: 8080 }], { internalTrafficPolicy: "Local" });
    await apply(key, () => {
      services.set(svc);
      slices.set(makeSlice("default", "local-1", "local", [{ port: 8080 }], [makeEndpoint(podIP(0), "node-2"), makeEndpoint(podIP(1), "node-1")]));
    });
    for (let i = 0; i < 10; i++) assert.equal((await fetchFrom(podNs("c"), `http://${ip}/`)).text, "pod-b");
    await apply(key, () => slices.set(makeSlice("default", "local-1", "local", [{ port: 8080 }], [makeEndpoint(podIP(0), "node-2")])));
    const r = await fetchFrom(podNs("c"), `http://${ip}/`, 1);
    assert.equal(r.ok, false);
    assert.doesNotMatch(r.text, /refused/i, "dropped, not rejected, as upstream");
  });

  it("deletes the conntrack entries of a removed UDP endpoint", async () => {
    const key = "default/dns";
    const ip = `10.181.${N}.13`;
    const dnsSlice = (i: number) => makeSlice("default", "dns-1", "dns", [{ port: 5353, protocol: "UDP" }], [makeEndpoint(podIP(i), "node-1")]);
    await apply(key, () => {
      services.set(makeService("default", "dns", ip, [{ port: 53, protocol: "UDP", targetPort: 5353 }]));
      slices.set(dnsSlice(0));
    });
    // One datagram from a fixed source port (busybox nc has no UDP here; node does).
    const script = `const s=require("node:dgram").createSocket("udp4");s.bind(40053,()=>s.send("x",53,${JSON.stringify(ip)},()=>s.close()))`;
    const send = async () => {
      const o = await runCommand("ip", ["netns", "exec", podNs("c"), process.execPath, "-e", script], { timeoutMs: 20_000 });
      assert.equal(o.code, 0, o.stderr);
    };
    const entries = async () => sh("ip", "netns", "exec", HOST, "conntrack", "-L", "-p", "udp", "--orig-dst", ip);
    await send();
    assert.match(await entries(), new RegExp(`src=${podIP(0).replace(/\./g, "\\.")} `), "the datagram was NATed to the first endpoint");
    await apply(key, () => slices.set(dnsSlice(1)));
    // Without the flush the entry would keep sending this client's datagrams to the removed endpoint for 30 s.
    assert.doesNotMatch(await entries(), new RegExp(`src=${podIP(0).replace(/\./g, "\\.")} `));
    await send();
    assert.match(await entries(), new RegExp(`src=${podIP(1).replace(/\./g, "\\.")} `));
  });

  it("removes a deleted Service's rules and leaves the table for cleanup", async () => {
    await apply("default/web", () => services.remove("default", "web"));
    // Its chains are flushed at once and deleted by a later transaction (as upstream, for kernels before 6.2).
    for (;;) {
      const since = reports.length;
      const chains = await sh("ip", "netns", "exec", HOST, "nft", "list", "chains", "ip");
      if (!/default\/web\//.test(chains)) break;
      if (reports.length === since) await new Promise<void>((res) => waiters.add(res));
    }
    const list = await sh("ip", "netns", "exec", HOST, "nft", "list", "table", "ip", proxy.tableName);
    assert.doesNotMatch(list, /default\/web\//);
    assert.match(list, /default\/sticky\//);
    assert.equal(await cleanupServiceProxy(`t${id}`, netnsNft(HOST)), undefined);
    const gone = await runCommand("ip", ["netns", "exec", HOST, "nft", "list", "table", "ip", proxy.tableName]);
    assert.notEqual(gone.code, 0);
    assert.equal(await cleanupServiceProxy(`t${id}`, netnsNft(HOST)), undefined, "cleanup is idempotent");
  });
});
