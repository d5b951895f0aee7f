/**
 * CniPodNetwork against the real plugins, as root: namespaces, the bridge,
 * host-local, portmap, iptables and routes for real. Everything uses
 * test-only names and CIDRs (cluster 10.197.0.0/16, podCIDR 10.197.7.0/24,
 * services 10.196.0.0/16, apart from the node tests' ranges, which run
 * alongside and would make cleanup keep the shared routes) so a cluster on
 * this machine is never touched,
 * and traffic goes only to loopback, to the test's own namespaces, or into
 * the test's service/cluster ranges after checking they end on this host.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { get } from "node:http";
import { connect } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { cleanupNodeNetwork } from "./cleanup.js";
import { CniPodNetwork, type CniPodNetworkOptions, REQUIRED_PLUGINS } from "./cni-pod-network.js";
import { deleteNodeRoute, replaceNodeRoute } from "./node-routes.js";
import { findPlugin } from "./plugin-exec.js";
import { guardTableName } from "./service-guard.js";
import type { PodNetworkRequest } from "./types.js";

const DEFAULT_BIN = ["/usr/lib/cni", "/opt/cni/bin"];
const isRoot = process.getuid?.() === 0;
const missing = REQUIRED_PLUGINS.filter((p) => findPlugin(p, DEFAULT_BIN) === undefined);
const tools = ["ip", "iptables-save", "nft", "busybox"].filter((t) => spawnSync("sh", ["-c", `command -v ${t}`]).status !== 0);
const skip = !isRoot
  ? "needs root (network namespaces, bridges, iptables)"
  : missing.length > 0
    ? `needs the CNI plugins ${missing.join(", ")} (Debian containernetworking-plugins)`
    : tools.length > 0
      ? `needs ${tools.join(", ")}`
      : false;

const tag = randomBytes(2).toString("hex");
const CLUSTER = "10.197.0.0/16";
const POD_CIDR = "10.197.7.0/24";
const GATEWAY = "10.197.7.1";
const SERVICE = "10.196.0.0/16";

function sh(cmd: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 30_000 });
  return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

function sandboxId(): string {
  return randomBytes(32).toString("hex");
}

function req(id: string, name: string, portMappings: PodNetworkRequest["portMappings"] = []): PodNetworkRequest {
  return { sandboxId: id, podName: name, podNamespace: "default", podUid: `uid-${name}`, portMappings };
}

/** The device `ip route get` picks for `addr`, or undefined when there is no route (unreachable). */
function routeDev(addr: string): string | undefined {
  const r = sh("ip", ["-j", "route", "get", addr]);
  if (r.status !== 0) return undefined;
  return (JSON.parse(r.stdout) as { dev?: string }[])[0]?.dev;
}

function natRulesFor(networkName: string, id?: string): string[] {
  const needle = id === undefined ? `name: \\"${networkName}\\"` : `name: \\"${networkName}\\" id: \\"${id}\\"`;
  return sh("iptables-save", ["-t", "nat"])
    .stdout.split("\n")
    .filter((l) => l.includes(needle));
}

function ipamReservations(stateDir: string, networkName: string): string[] {
  const d = join(stateDir, "ipam", networkName);
  if (!existsSync(d)) return [];
  return readdirSync(d).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f));
}

/** Connects to host:port and resolves with the error code (or "connected"). */
function tryConnect(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    s.setTimeout(5000, () => {
      s.destroy();
      resolve("timeout");
    });
    s.on("connect", () => {
      s.destroy();
      resolve("connected");
    });
    s.on("error", (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

function httpGet(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const r = get({ host, port, path: "/index.html", timeout: 5000 }, (res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString()));
      res.on("end", () => resolve(body));
    });
    r.on("timeout", () => r.destroy(new Error("timeout")));
    r.on("error", reject);
  });
}

async function untilOk<T>(what: string, fn: () => Promise<T>): Promise<T> {
  let last: unknown;
  for (let i = 0; i < 50; i++) {
    try {
      return await fn();
    } catch (err) {
      last = err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`${what}: ${String(last)}`);
}

describe("CniPodNetwork with the real CNI plugins", { skip }, () => {
  let stateDir: string;
  let opts: CniPodNetworkOptions;
  let net: CniPodNetwork;
  const children: ChildProcess[] = [];
  const tmpDirs: string[] = [];

  before(() => {
    stateDir = mkdtempSync("/tmp/skiff-cni-state-");
    opts = {
      stateDir,
      netnsPrefix: `skiff-t${tag}-`,
      bridgeName: `skt${tag}0`,
      serviceBridgeName: `sktsvc${tag}`,
      clusterCidr: CLUSTER,
      serviceCidr: SERVICE,
    };
    net = new CniPodNetwork(opts);
  });

  after(async () => {
    for (const c of children) if (c.pid !== undefined && c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    await cleanupNodeNetwork(opts);
    rmSync(stateDir, { recursive: true, force: true });
    for (const d of tmpDirs) rmSync(d, { recursive: true, force: true });
  });

  it("is not ready, and sets nothing up, until the podCIDR is known", async () => {
    assert.deepEqual(net.condition(), {
      type: "NetworkReady",
      status: false,
      reason: "NetworkPluginNotReady",
      message: "Network plugin returns error: cni plugin not initialized",
    });
    const id = sandboxId();
    const res = await net.setUp(req(id, "early"));
    assert.ok(!res.ok);
    assert.equal(res.error.code, "FailedPrecondition");
    assert.match(res.error.message, /cni plugin not initialized/);
    assert.ok(!existsSync(`/run/netns/${opts.netnsPrefix}${id.slice(0, 12)}`));
    assert.deepEqual(net.recordedSandboxes(), []);
    const outside = await net.setPodCidr("10.42.7.0/24");
    assert.ok(!outside.ok);
    assert.match(outside.error.message, /not inside the cluster CIDR 10\.197\.0\.0\/16/);
  });

  it("reports a missing plugin in the condition", async () => {
    const empty = mkdtempSync("/tmp/skiff-cni-nobin-");
    tmpDirs.push(empty);
    const bare = new CniPodNetwork({ ...opts, binDirs: [empty] });
    const res = await bare.setPodCidr(POD_CIDR);
    assert.ok(!res.ok);
    assert.equal(bare.condition().status, false);
    assert.match(bare.condition().message ?? "", /^Network plugin returns error: failed to find plugin "bridge" in path \[/);
  });

  it("routes the service CIDR to an empty local bridge and the cluster CIDR nowhere", async () => {
    const res = await net.setPodCidr(POD_CIDR);
    assert.ok(res.ok, JSON.stringify(res));
    assert.deepEqual(net.condition(), { type: "NetworkReady", status: true });
    assert.equal(routeDev("10.196.5.5"), opts.serviceBridgeName);
    assert.equal(routeDev("10.197.9.9"), undefined, "another node's range is unreachable");
    // The bridge has no ports: nothing can leave through it.
    assert.equal(sh("ip", ["-j", "link", "show", "master", opts.serviceBridgeName!]).stdout.trim(), "[]");
    assert.match(sh("nft", ["list", "table", "ip", guardTableName(opts.serviceBridgeName!)]).stdout, /ip daddr 10\.196\.0\.0\/16 reject/);
    // Only now that both are known to end here: a connect fails at once, locally.
    assert.equal(await tryConnect("10.196.5.5", 80), "EHOSTUNREACH");
    assert.equal(await tryConnect("10.197.9.9", 80), "EHOSTUNREACH");
    assert.equal(sh("cat", ["/proc/sys/net/ipv4/ip_forward"]).stdout.trim(), "1");
  });

  let a: { id: string; ip: string; ns: string };
  let b: { id: string; ip: string; ns: string };

  it("gives two sandboxes distinct IPs in the podCIDR that reach each other and the host", async () => {
    const ids = [sandboxId(), sandboxId()];
    const [ra, rb] = [await net.setUp(req(ids[0]!, "a")), await net.setUp(req(ids[1]!, "b"))];
    assert.ok(ra.ok && rb.ok, JSON.stringify([ra, rb]));
    a = { id: ids[0]!, ip: ra.value.ips[0]!, ns: `${opts.netnsPrefix}${ids[0]!.slice(0, 12)}` };
    b = { id: ids[1]!, ip: rb.value.ips[0]!, ns: `${opts.netnsPrefix}${ids[1]!.slice(0, 12)}` };
    assert.equal(ra.value.netnsPath, `/run/netns/${a.ns}`);
    assert.ok(existsSync(ra.value.netnsPath));
    assert.notEqual(a.ip, b.ip);
    for (const ip of [a.ip, b.ip]) assert.match(ip, /^10\.197\.7\.\d+$/);
    assert.notEqual(a.ip, GATEWAY);
    // eth0 carries the address and lo is up (the loopback plugin ran).
    assert.match(sh("ip", ["netns", "exec", a.ns, "ip", "-4", "addr", "show", "eth0"]).stdout, new RegExp(`inet ${a.ip.replaceAll(".", "\\.")}/24`));
    assert.match(sh("ip", ["netns", "exec", a.ns, "ip", "link", "show", "lo"]).stdout, /UP/);
    assert.equal(routeDev(a.ip), opts.bridgeName);
    const ping = (ns: string | undefined, ip: string) =>
      ns === undefined ? sh("busybox", ["ping", "-c1", "-W2", ip]) : sh("ip", ["netns", "exec", ns, "busybox", "ping", "-c1", "-W2", ip]);
    assert.equal(ping(a.ns, b.ip).status, 0, ping(a.ns, b.ip).stdout);
    assert.equal(ping(b.ns, a.ip).status, 0);
    assert.equal(ping(undefined, a.ip).status, 0, "the host reaches a pod");
    assert.equal(ping(a.ns, GATEWAY).status, 0, "a pod reaches its gateway");
    assert.equal(natRulesFor(opts.bridgeName!, a.id).length > 0, true, "bridge ipMasq rules tagged with the sandbox");
  });

  it("setUp is idempotent and attachment() finds what was set up", async () => {
    const again = await net.setUp(req(a.id, "a"));
    assert.ok(again.ok);
    assert.deepEqual(again.value.ips, [a.ip]);
    assert.deepEqual(await net.attachment(a.id), { netnsPath: `/run/netns/${a.ns}`, ips: [a.ip] });
    assert.equal(await net.attachment(sandboxId()), undefined);
    assert.equal(ipamReservations(stateDir, opts.bridgeName!).length, 2);
    const check = await net.check(a.id);
    assert.ok(check.ok, JSON.stringify(check));
  });

  it("maps a hostPort to a pod, on 127.0.0.1 and on the node's gateway address", async () => {
    const id = sandboxId();
    const hostPort = 30000 + Math.floor(Math.random() * 2000);
    const res = await net.setUp(req(id, "web", [{ protocol: "TCP", containerPort: 8080, hostPort }]));
    assert.ok(res.ok, JSON.stringify(res));
    const ns = `${opts.netnsPrefix}${id.slice(0, 12)}`;
    const www = mkdtempSync("/tmp/skiff-cni-www-");
    tmpDirs.push(www);
    const token = `hello-${tag}-${randomBytes(4).toString("hex")}`;
    writeFileSync(join(www, "index.html"), token);
    const httpd = spawn("ip", ["netns", "exec", ns, "busybox", "httpd", "-f", "-p", "8080", "-h", www], { stdio: "ignore" });
    children.push(httpd);
    const podIp = res.value.ips[0]!;
    assert.equal(await untilOk("httpd in the pod", () => httpGet(podIp, 8080)), token);
    // portmap DNATs local destinations; for 127.0.0.1 it sets route_localnet on the bridge and masquerades.
    assert.equal(await httpGet("127.0.0.1", hostPort), token);
    assert.equal(await httpGet(GATEWAY, hostPort), token);
    assert.equal(sh("cat", [`/proc/sys/net/ipv4/conf/${opts.bridgeName}/route_localnet`]).stdout.trim(), "1");
    assert.ok(natRulesFor(opts.bridgeName!, id).some((l) => l.startsWith("-A CNI-HOSTPORT-DNAT")));
    httpd.kill("SIGKILL");
    const down = await net.tearDown(id);
    assert.ok(down.ok, JSON.stringify(down));
    assert.deepEqual(natRulesFor(opts.bridgeName!, id), [], "portmap and masquerade rules are gone");
    assert.equal(await tryConnect("127.0.0.1", hostPort), "ECONNREFUSED");
  });

  it("a new CniPodNetwork on the same stateDir (agent restart) finds and tears down an old sandbox", async () => {
    const restarted = new CniPodNetwork(opts);
    assert.deepEqual(await restarted.attachment(b.id), { netnsPath: `/run/netns/${b.ns}`, ips: [b.ip] });
    assert.ok(restarted.recordedSandboxes().includes(b.id));
    const down = await restarted.tearDown(b.id);
    assert.ok(down.ok, JSON.stringify(down));
    assert.ok(!existsSync(`/run/netns/${b.ns}`));
    assert.deepEqual(natRulesFor(opts.bridgeName!, b.id), []);
    assert.ok(!ipamReservations(stateDir, opts.bridgeName!).includes(b.ip), "the IP is released");
    assert.equal(await restarted.attachment(b.id), undefined);
    assert.ok((await restarted.tearDown(b.id)).ok, "tearDown is idempotent");
    assert.ok((await net.tearDown(sandboxId())).ok, "tearing down an unknown sandbox succeeds");
  });

  it("a failing plugin leaves nothing behind: no namespace, no IP, no rules, no record", async () => {
    const bin = mkdtempSync("/tmp/skiff-cni-failbin-");
    tmpDirs.push(bin);
    // A portmap that refuses ADD (DEL succeeds, as a real plugin's would): the bridge has already run by then.
    writeFileSync(
      join(bin, "portmap"),
      `#!/bin/sh\ncat >/dev/null\n[ "$CNI_COMMAND" = ADD ] || exit 0\necho '{"cniVersion":"1.0.0","code":11,"msg":"injected failure"}'\nexit 1\n`,
    );
    chmodSync(join(bin, "portmap"), 0o755);
    const failing = new CniPodNetwork({ ...opts, binDirs: [bin, ...DEFAULT_BIN] });
    assert.ok((await failing.setPodCidr(POD_CIDR)).ok);
    const before = ipamReservations(stateDir, opts.bridgeName!).sort();
    const id = sandboxId();
    const res = await failing.setUp(req(id, "doomed", [{ protocol: "TCP", containerPort: 80, hostPort: 31999 }]));
    assert.ok(!res.ok);
    assert.equal(res.error.message, `failed to setup network for sandbox "${id}": plugin type="portmap" name="${opts.bridgeName}" failed (add): injected failure`);
    assert.ok(!existsSync(`/run/netns/${opts.netnsPrefix}${id.slice(0, 12)}`));
    assert.deepEqual(ipamReservations(stateDir, opts.bridgeName!).sort(), before);
    assert.deepEqual(natRulesFor(opts.bridgeName!, id), []);
    assert.ok(!failing.recordedSandboxes().includes(id));
    assert.equal(await failing.attachment(id), undefined);
  });

  it("rejects what it cannot wire, before touching anything", async () => {
    const bad = await net.setUp(req(sandboxId(), "bad", [{ protocol: "TCP", containerPort: 80, hostPort: 70000 }]));
    assert.ok(!bad.ok);
    assert.equal(bad.error.code, "InvalidArgument");
    const badId = await net.setUp(req("../etc", "bad"));
    assert.ok(!badId.ok);
    assert.equal(badId.error.code, "InvalidArgument");
  });

  it("cleanupNodeNetwork leaves no namespace, bridge, route, rule or chain behind", async () => {
    // A stray namespace named like ours whose record is gone, and a route to another node.
    const stray = `${opts.netnsPrefix}0123456789ab`;
    assert.equal(sh("ip", ["netns", "add", stray]).status, 0);
    // Another node's podCIDR via its node IP (the gateway stands in for a node address here; nothing is sent).
    assert.equal(await replaceNodeRoute("10.197.8.0/24", GATEWAY), undefined);
    assert.equal(routeDev("10.197.8.5"), opts.bridgeName);
    assert.equal(await deleteNodeRoute("10.197.8.0/24", GATEWAY), undefined);
    assert.equal(routeDev("10.197.8.5"), undefined, "back to unreachable");
    assert.equal(await deleteNodeRoute("10.197.8.0/24", GATEWAY), undefined, "deleting is idempotent");
    assert.equal(await replaceNodeRoute("10.197.8.0/24", GATEWAY), undefined);
    const res = await cleanupNodeNetwork(opts);
    assert.ok(res.ok, JSON.stringify(res));
    const netns = sh("ip", ["netns", "list"]).stdout;
    assert.ok(!netns.includes(opts.netnsPrefix!), netns);
    for (const link of [opts.bridgeName!, opts.serviceBridgeName!]) assert.notEqual(sh("ip", ["link", "show", link]).status, 0, `${link} is gone`);
    const routes = sh("ip", ["-4", "route", "show"]).stdout;
    assert.ok(!/10\.19[67]\./.test(routes), routes);
    assert.deepEqual(natRulesFor(opts.bridgeName!), []);
    const nat = sh("iptables-save", ["-t", "nat"]).stdout;
    assert.ok(!/^:CNI-HOSTPORT-DNAT/m.test(nat) || /^-A CNI-HOSTPORT-DNAT/m.test(nat), "portmap's shared chains go when no mapping is left");
    assert.notEqual(sh("nft", ["list", "table", "ip", guardTableName(opts.serviceBridgeName!)]).status, 0, "guard table gone");
    assert.deepEqual(ipamReservations(stateDir, opts.bridgeName!), []);
    assert.deepEqual(new CniPodNetwork(opts).recordedSandboxes(), []);
    assert.ok((await cleanupNodeNetwork(opts)).ok, "cleanup is idempotent");
  });
});
