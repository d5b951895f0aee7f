/**
 * The proxy's iptables mode against a real kernel, in the topology of
 * proxy-kernel.test.ts: a "host" network namespace gets the rules through
 * `ip netns exec HOST iptables-restore`; pod namespaces reach it over /30
 * veth links and serve HTTP with busybox httpd; an "outside" namespace plays
 * a machine on the node's network. The host also holds what a real node has
 * beside the proxy — CNI portmap-style and ipMasq-style iptables chains and
 * the nft service guard table — and the test checks the proxy works beside
 * them and that cleanup leaves exactly them. Ranges: 10.183.N/24 (pods),
 * 10.184.N.0/25 (services), 10.184.N.128/30 (node link). Needs root.
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
import { guardScript } from "../cni/service-guard.js";
import { cleanupServiceProxy } from "./cleanup.js";
import { FakeSource, makeEndpoint, makeService, makeSlice } from "./fake-source.js";
import { iptablesChainPrefix } from "./iptables-names.js";
import { netnsIptables } from "./iptables-runner.js";
import { netnsNft } from "../nft-runner.js";
import { ServiceProxy, type SyncReport } from "./service-proxy.js";

const isRoot = process.getuid?.() === 0;
const id = randomBytes(3).toString("hex");
const HOST = `skiff-t-ih-${id}`;
const OUTSIDE = `skiff-t-io-${id}`;
const PODS = ["a", "b", "c"] as const; // c is the client pod
const dir = `/tmp/skiff-proxy-iptables-${id}`;
const SUFFIX = `t${id}`;
const PREFIX = iptablesChainPrefix(SUFFIX);

async function sh(cmd: string, ...args: string[]): Promise<string> {
  const o = await runCommand(cmd, args, { timeoutMs: 20_000 });
  if (o.code !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${o.stderr || o.error || o.code}`);
  return o.stdout;
}

/** A free third octet N such that 10.183.N/24 and 10.184.N/24 are on no link here. */
async function freeOctet(): Promise<number> {
  for (;;) {
    const n = randomInt(1, 255);
    const used = await Promise.all([183, 184].map((b) => sh("ip", "-4", "-o", "addr", "show", "to", `10.${b}.${n}.0/24`)));
    if (used.every((u) => u.trim() === "")) return n;
  }
}

let N = 0;
const podIP = (i: number) => `10.183.${N}.${4 * i + 2}`;
const podNs = (p: string) => `skiff-t-ip${p}-${id}`;
const nodeIP = () => `10.184.${N}.129`;
const outsideIP = () => `10.184.${N}.130`;
const servers: number[] = [];

/** An HTTP GET from a namespace with busybox nc: the body, or the error text. */
async function fetchFrom(ns: string, url: string, timeoutSeconds = 5): Promise<{ ok: boolean; text: string }> {
  const u = new URL(url);
  const args = ["netns", "exec", ns, "busybox", "nc", "-w", String(timeoutSeconds), u.hostname, u.port || "80"];
  const o = await runCommand("ip", args, { input: `GET ${u.pathname} HTTP/1.0\r\nHost: ${u.host}\r\n\r\n`, timeoutMs: 15_000 });
  const sep = o.stdout.indexOf("\r\n\r\n");
  if (o.code === 0 && o.stdout.startsWith("HTTP/1.") && sep >= 0) return { ok: true, text: o.stdout.slice(sep + 4).trim() };
  return { ok: false, text: `${o.stdout}${o.stderr}${o.error ?? ""}`.trim() };
}

async function clientIPSeenBy(ns: string, url: string): Promise<string> {
  const r = await fetchFrom(ns, url);
  assert.ok(r.ok, r.text);
  return r.text.replace(/^\[::ffff:(.*)\]$/, "$1");
}

/** iptables-save of the host namespace without comments and counters, for before/after comparisons. */
async function hostIptables(): Promise<string> {
  const out: string[] = [];
  for (const t of ["filter", "nat"]) {
    const text = await sh("ip", "netns", "exec", HOST, "iptables-save", "-t", t);
    out.push(...text.split("\n").filter((l) => l !== "" && !l.startsWith("#")).map((l) => l.replace(/\[\d+:\d+\]/, "")));
  }
  return out.join("\n");
}

const services = new FakeSource<Service>();
const slices = new FakeSource<EndpointSlice>();
let proxy: ServiceProxy;
const abort = new AbortController();
let running: Promise<void> | undefined;
const reports: SyncReport[] = [];
const waiters = new Set<() => void>();
let beforeProxy = "";

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

describe("service proxy in iptables mode in a real kernel", { skip: !isRoot && "needs root (network namespaces, iptables)" }, () => {
  before(async () => {
    N = await freeOctet();
    mkdirSync(dir, { recursive: true });
    await sh("ip", "netns", "add", HOST);
    await sh("ip", "netns", "add", OUTSIDE);
    await sh("ip", "netns", "exec", HOST, "sysctl", "-qw", "net.ipv4.ip_forward=1");
    await sh("ip", "-n", HOST, "link", "set", "lo", "up");
    await sh("ip", "-n", HOST, "link", "add", "uplink", "type", "veth", "peer", "name", "eth0", "netns", OUTSIDE);
    await sh("ip", "-n", HOST, "addr", "add", `${nodeIP()}/30`, "dev", "uplink");
    await sh("ip", "-n", HOST, "link", "set", "uplink", "up");
    await sh("ip", "-n", OUTSIDE, "addr", "add", `${outsideIP()}/30`, "dev", "eth0");
    await sh("ip", "-n", OUTSIDE, "link", "set", "eth0", "up");
    await sh("ip", "-n", OUTSIDE, "link", "set", "lo", "up");
    await sh("ip", "-n", HOST, "route", "add", `10.184.${N}.0/25`, "dev", "uplink");
    for (const [i, p] of PODS.entries()) {
      const ns = podNs(p);
      await sh("ip", "netns", "add", ns);
      await sh("ip", "-n", HOST, "link", "add", `veth-${p}`, "type", "veth", "peer", "name", "eth0", "netns", ns);
      await sh("ip", "-n", HOST, "addr", "add", `10.183.${N}.${4 * i + 1}/30`, "dev", `veth-${p}`);
      await sh("ip", "-n", HOST, "link", "set", `veth-${p}`, "up");
      await sh("ip", "-n", ns, "addr", "add", `${podIP(i)}/30`, "dev", "eth0");
      await sh("ip", "-n", ns, "link", "set", "eth0", "up");
      await sh("ip", "-n", ns, "link", "set", "lo", "up");
      await sh("ip", "-n", ns, "route", "add", "default", "via", `10.183.${N}.${4 * i + 1}`);
      mkdirSync(`${dir}/${p}/cgi-bin`, { recursive: true });
      writeFileSync(`${dir}/${p}/index.html`, `pod-${p}\n`);
      writeFileSync(`${dir}/${p}/cgi-bin/ip`, '#!/bin/sh\nprintf "Content-Type: text/plain\\r\\n\\r\\n%s\\n" "$REMOTE_ADDR"\n', { mode: 0o755 });
      for (const port of ["8080", "8081"]) {
        const child = spawn("ip", ["netns", "exec", ns, "busybox", "httpd", "-f", "-p", port, "-h", `${dir}/${p}`], { stdio: "ignore" });
        if (child.pid !== undefined) servers.push(child.pid);
      }
    }
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
    // What a node has besides the proxy: CNI portmap's hostPort DNAT (pod a's 8081 on the node's 30090), the
    // bridge plugin's ipMasq chain, the firewall plugin's forward chain (same iptables backend) and the service guard (nft).
    const cni = [
      "*filter",
      ":CNI-FORWARD - [0:0]",
      '-A FORWARD -m comment --comment "CNI firewall plugin rules" -j CNI-FORWARD',
      `-A CNI-FORWARD -d ${podIP(0)}/32 -j ACCEPT`,
      "COMMIT",
      "*nat",
      ":CNI-HOSTPORT-DNAT - [0:0]",
      ":CNI-DN-test - [0:0]",
      ":CNI-test - [0:0]",
      '-A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT',
      '-A OUTPUT -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT',
      '-A CNI-HOSTPORT-DNAT -p tcp -m comment --comment "dnat name: \\"test\\"" -m multiport --dports 30090 -j CNI-DN-test',
      `-A CNI-DN-test -p tcp -m tcp --dport 30090 -j DNAT --to-destination ${podIP(0)}:8081`,
      `-A POSTROUTING -s ${podIP(0)}/32 -m comment --comment "name: \\"test\\"" -j CNI-test`,
      `-A CNI-test -d 10.183.${N}.0/24 -j ACCEPT`,
      "-A CNI-test ! -d 224.0.0.0/4 -j MASQUERADE",
      "COMMIT",
      "",
    ].join("\n");
    const o = await runCommand("ip", ["netns", "exec", HOST, "iptables-restore", "--noflush"], { input: cni, timeoutMs: 20_000 });
    assert.equal(o.code, 0, o.stderr);
    assert.equal(await netnsNft(HOST)(guardScript(`skiff_guard_${SUFFIX}`, `10.184.${N}.0/25`)), undefined);
    beforeProxy = await hostIptables();
    // A leftover of this node's earlier nftables-mode run: the iptables mode must remove it first.
    assert.equal(await netnsNft(HOST)(`table ip skiff_proxy_${SUFFIX} {\n  chain services {\n  }\n}\n`), undefined);
    proxy = new ServiceProxy({
      mode: "iptables",
      nft: netnsNft(HOST),
      services,
      endpointSlices: slices,
      nodeName: "node-1",
      nodeIPs: [nodeIP()],
      clusterCidr: `10.183.${N}.0/24`,
      serviceCidr: `10.184.${N}.0/25`,
      tableSuffix: SUFFIX,
      minSyncPeriodMs: 0,
      logger: silentLogger,
      iptables: netnsIptables(HOST),
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
    if (proxy) await cleanupServiceProxy(SUFFIX, { nft: netnsNft(HOST), iptables: netnsIptables(HOST) });
    for (const ns of [HOST, OUTSIDE, ...PODS.map(podNs)]) await runCommand("ip", ["netns", "del", ns]);
    rmSync(dir, { recursive: true, force: true });
  });

  const vip = () => `10.184.${N}.10`;
  const web = () => makeService("default", "web", vip(), [{ name: "http", port: 80, protocol: "TCP", targetPort: 8080, nodePort: 30080 }], { type: "NodePort" });
  const webSlice = (ips: string[]) =>
    makeSlice("default", "web-abc", "web", [{ name: "http", port: 8080 }], ips.map((ip) => makeEndpoint(ip, "node-1")));

  it("load balances a ClusterIP over both endpoints with statistic rules", async () => {
    await apply("default/web", () => {
      services.set(web());
      slices.set(webSlice([podIP(0), podIP(1)]));
    });
    assert.match(await sh("ip", "netns", "exec", HOST, "iptables-save", "-t", "nat"), new RegExp(`-A ${PREFIX}SVC-\\S+ .*-m statistic --mode random --probability 0\\.5`));
    const seen = new Set<string>();
    for (let i = 0; i < 40 && seen.size < 2; i++) {
      const r = await fetchFrom(podNs("c"), `http://${vip()}/`);
      assert.ok(r.ok, r.text);
      seen.add(r.text);
    }
    assert.deepEqual([...seen].sort(), ["pod-a", "pod-b"]);
    const tables = await sh("ip", "netns", "exec", HOST, "nft", "list", "tables");
    assert.doesNotMatch(tables, new RegExp(`skiff_proxy_${SUFFIX}`), "the nftables mode's leftover table was removed");
    assert.match(tables, new RegExp(`skiff_guard_${SUFFIX}`), "the service guard stays");
    const fromHost = await fetchFrom(HOST, `http://${vip()}/`);
    assert.ok(fromHost.ok && fromHost.text.startsWith("pod-"), fromHost.text);
  });

  it("reaches a NodePort on the node's address from outside, and on 127.0.0.1 from the node (route_localnet)", async () => {
    const outside = await fetchFrom(OUTSIDE, `http://${nodeIP()}:30080/`);
    assert.ok(outside.ok && outside.text.startsWith("pod-"), outside.text);
    const own = await fetchFrom(HOST, `http://${nodeIP()}:30080/`);
    assert.ok(own.ok && own.text.startsWith("pod-"), own.text);
    assert.equal((await sh("ip", "netns", "exec", HOST, "sysctl", "-n", "net.ipv4.conf.all.route_localnet")).trim(), "1");
    const localhost = await fetchFrom(HOST, "http://127.0.0.1:30080/");
    assert.ok(localhost.ok && localhost.text.startsWith("pod-"), localhost.text);
  });

  it("works beside CNI portmap's hostPort DNAT and ipMasq chains", async () => {
    assert.equal((await fetchFrom(OUTSIDE, `http://${nodeIP()}:30090/`)).ok, true, "the hostPort still answers");
    const nat = await sh("ip", "netns", "exec", HOST, "iptables-save", "-t", "nat");
    assert.match(nat, /-A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT/);
    assert.match(nat, /-A POSTROUTING -s \S+ -m comment --comment "name: \\"test\\"" -j CNI-test/);
  });

  it("masquerades traffic from outside the pod network, not pod-to-pod traffic", async () => {
    await apply("default/web", () => slices.set(webSlice([podIP(0)])));
    assert.equal(await clientIPSeenBy(podNs("c"), `http://${vip()}/cgi-bin/ip`), podIP(2), "a pod's own address");
    assert.equal(await clientIPSeenBy(OUTSIDE, `http://${nodeIP()}:30080/cgi-bin/ip`), `10.183.${N}.1`, "the node's address towards the pod");
  });

  it("rejects an unallocated ClusterIP at once", async () => {
    const unallocated = await fetchFrom(podNs("c"), `http://10.184.${N}.100/`);
    assert.equal(unallocated.ok, false);
    assert.match(unallocated.text, /no route to host|unreachable/i, "admin-prohibited, not a timeout");
    // Our filter rule answered, before the service guard's (priority 10) had to.
    const counted = await sh("ip", "netns", "exec", HOST, "iptables", "-t", "filter", "-L", `${PREFIX}SERVICES`, "-v", "-n", "-x");
    const line = counted.split("\n").find((l) => l.includes("Reject traffic to unallocated ClusterIPs"));
    assert.ok(line !== undefined && Number(line.trim().split(/\s+/)[0]) > 0, counted);
  });

  it("stops sending to a removed endpoint, incrementally", async () => {
    await apply("default/web", () => slices.set(webSlice([podIP(0), podIP(1)])));
    const before = reports.length;
    await apply("default/web", () => slices.set(webSlice([podIP(1)])));
    const r = reports.slice(before).find((x) => x.services.includes("default/web"));
    assert.equal(r?.full, false, "an endpoint change is an incremental restore");
    assert.equal(r?.changes, 2, "the SVC chain refilled, the removed endpoint's SEP chain deleted");
    for (let i = 0; i < 15; i++) assert.equal((await fetchFrom(podNs("c"), `http://${vip()}/`)).text, "pod-b");
  });

  it("rejects connections to a Service without endpoints (connection refused)", async () => {
    await apply("default/web", () => slices.set(webSlice([])));
    const r = await fetchFrom(podNs("c"), `http://${vip()}/`);
    assert.equal(r.ok, false);
    assert.match(r.text, /refused/i);
    const np = await fetchFrom(OUTSIDE, `http://${nodeIP()}:30080/`);
    assert.equal(np.ok, false);
    assert.match(np.text, /refused/i);
    assert.doesNotMatch(await sh("ip", "netns", "exec", HOST, "iptables-save", "-t", "nat"), new RegExp(`:${PREFIX}SEP-`), "no endpoint chain left");
  });

  it("lets a backend reach itself through its Service (hairpin)", async () => {
    await apply("default/web", () => slices.set(webSlice([podIP(0)])));
    const r = await fetchFrom(podNs("a"), `http://${vip()}/cgi-bin/ip`);
    assert.ok(r.ok, r.text);
    assert.equal(r.text.replace(/^\[::ffff:(.*)\]$/, "$1"), `10.183.${N}.1`, "masqueraded to the node, so the reply comes back through it");
  });

  it("keeps a client on one endpoint with sessionAffinity ClientIP (recent module)", async () => {
    const key = "default/sticky";
    const ip = `10.184.${N}.11`;
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

  it("rewrites everything on a restart's full sync, and cleanup leaves exactly what was there before", async () => {
    await apply("default/web", () => services.remove("default", "web"));
    const nat = await sh("ip", "netns", "exec", HOST, "iptables-save", "-t", "nat");
    assert.doesNotMatch(nat, /default\/web:http/);
    assert.match(nat, /default\/sticky/);
    abort.abort();
    await running;
    // While "the agent is down" a chain of ours goes stale; the next proxy's first sync must remove it and not duplicate jumps.
    const stale = `${PREFIX}SVC-STALESTALE`;
    const o = await runCommand("ip", ["netns", "exec", HOST, "iptables-restore", "--noflush"], { input: `*nat\n:${stale} - [0:0]\n-A ${stale} -j RETURN\nCOMMIT\n`, timeoutMs: 20_000 });
    assert.equal(o.code, 0, o.stderr);
    const again = new AbortController();
    const restarted: SyncReport[] = [];
    const done = new Promise<void>((res) => {
      const second = new ServiceProxy({
        mode: "iptables",
        services,
        endpointSlices: slices,
        nodeName: "node-1",
        nodeIPs: [nodeIP()],
        clusterCidr: `10.183.${N}.0/24`,
        serviceCidr: `10.184.${N}.0/25`,
        tableSuffix: SUFFIX,
        minSyncPeriodMs: 0,
        logger: silentLogger,
        iptables: netnsIptables(HOST),
        conntrack: (args) => runCommand("ip", ["netns", "exec", HOST, "conntrack", ...args]),
        onSynced: (r) => {
          restarted.push(r);
          res();
        },
      });
      running = second.run(again.signal);
    });
    await done;
    again.abort();
    await running;
    assert.equal(restarted[0]?.full, true);
    assert.equal(restarted[0]?.error, undefined);
    const natAfter = await sh("ip", "netns", "exec", HOST, "iptables-save", "-t", "nat");
    assert.doesNotMatch(natAfter, /STALESTALE/);
    assert.equal(natAfter.split("\n").filter((l) => l.startsWith("-A PREROUTING ") && l.includes(`-j ${PREFIX}SERVICES`)).length, 1, "one jump, not two");
    assert.equal((await fetchFrom(podNs("c"), `http://10.184.${N}.11/`)).ok, true, "the sticky Service still answers");
    assert.notEqual(await hostIptables(), beforeProxy);
    assert.equal(await cleanupServiceProxy(SUFFIX, { nft: netnsNft(HOST), iptables: netnsIptables(HOST) }), undefined);
    assert.equal(await hostIptables(), beforeProxy, "our chains and jumps are gone, CNI's are untouched");
    assert.match(await sh("ip", "netns", "exec", HOST, "nft", "list", "tables"), new RegExp(`skiff_guard_${SUFFIX}`), "the service guard stays");
    assert.equal(await cleanupServiceProxy(SUFFIX, { nft: netnsNft(HOST), iptables: netnsIptables(HOST) }), undefined, "cleanup is idempotent");
  });
});
