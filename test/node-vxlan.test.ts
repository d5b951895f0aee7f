/**
 * VXLAN between nodes that share no network (issue 8, flannel's VXLAN
 * backend): one `skiff server` on the host and two `skiff agent --runtime
 * runc` processes, each inside a network namespace this test makes to act
 * as its host, on DIFFERENT subnets joined by a "router" namespace the test
 * makes (ip_forward=1): the host's /26, node A's /26 and node B's /26 of one
 * test-only /24. Each node's IP is behind a gateway for the other, so
 * host-gw cannot work; each agent makes its VXLAN device (VNI 1, UDP 8472),
 * publishes its VTEP in flannel's Node annotations, and reaches the other
 * node's podCIDR through the tunnel. A pod on A reaches a pod on B by pod
 * IP with its source address kept (no NAT), and a Service whose only
 * endpoint is on B. No default route anywhere: nothing leaves the test's
 * namespaces.
 *
 * The agents enter only the network namespace (nsenter --net), so the
 * mounts and named namespaces they make are the host's and the host-side
 * cleanup sees them.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes, randomInt } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { cgroupMountPoints, removeCgroupTree } from "../src/runtime/runc/cgroups.js";
import { ok, startTestServer, type TestServer } from "./support/cluster.js";
import { BUSYBOX_IMAGE, importBusybox, type NodeIdentity, nodeIdentity, writeKubeletConfig } from "./support/node-cluster.js";
import { repoRoot, stopProcess, waitForLog } from "./support/skiff.js";
import { eventually as pollUntil } from "./support/eventually.js";

const isRoot = process.getuid?.() === 0;
const main = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url));

/** Test-only ranges of this file (10.188/16 and 10.189/16 belong to it alone). */
const CLUSTER_CIDR = "10.188.0.0/17";
const SERVICE_CIDR = "10.188.128.0/17";

const id = randomBytes(3).toString("hex");
/**
 * Three subnets of 10.189.N.0/24 (N per run, free on this machine), all behind the router namespace:
 * the host's .0/26 (host .1, router .2), node A's .64/26 (router .65, node .66), node B's .128/26 (router .129, node .130).
 */
const lanOctet = freeLanOctet();
const lan = (host: number) => `10.189.${lanOctet}.${host}`;
const LAN_NET = `10.189.${lanOctet}.0/24`;
const routerNs = `skr${id}`;
const hostVeth = `skr${id}h`;
const serverIP = lan(1);

function freeLanOctet(): number {
  for (;;) {
    const n = randomInt(1, 255);
    const used = spawnSync("ip", ["-4", "-o", "addr", "show", "to", `10.189.${n}.0/24`], { encoding: "utf8" }).stdout.trim();
    if (used === "") return n;
  }
}

interface Agent {
  readonly ns: string;
  readonly nodeIP: string;
  readonly node: NodeIdentity;
  readonly dataDir: string;
  readonly kubeletConfig: string;
  proc?: ChildProcess;
  log: string;
}

const agents: Agent[] = [];
let server: TestServer | undefined;

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (exit ${r.status}): ${r.stderr}`);
  return r.stdout;
}

/** Runs a command inside agent `a`'s network namespace only. */
function inNs(a: Agent, cmd: string, args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync("nsenter", [`--net=/run/netns/${a.ns}`, "--", cmd, ...args], { encoding: "utf8", cwd: repoRoot, timeout: 120_000 });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function skiffArgs(args: string[]): string[] {
  return [process.execPath, "--import", "tsx", main, ...args];
}

/** The router namespace between the host and the agents' subnets; the host reaches the whole /24 through it. */
function makeRouter(): void {
  run("ip", ["netns", "add", routerNs]);
  run("ip", ["link", "add", hostVeth, "type", "veth", "peer", "name", "h0", "netns", routerNs]);
  run("ip", ["addr", "add", `${serverIP}/26`, "dev", hostVeth]);
  run("ip", ["link", "set", hostVeth, "up"]);
  run("ip", ["-n", routerNs, "addr", "add", `${lan(2)}/26`, "dev", "h0"]);
  run("ip", ["-n", routerNs, "link", "set", "h0", "up"]);
  run("ip", ["-n", routerNs, "link", "set", "lo", "up"]);
  run("ip", ["netns", "exec", routerNs, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1"]);
  // Goes with the link when the test deletes it.
  run("ip", ["route", "add", LAN_NET, "via", lan(2), "dev", hostVeth]);
}

/** Agent i's network namespace on its own /26 behind the router, with its node IP; only the test /24 is routed (via the router). */
function makeAgentHost(i: number): Agent {
  const ns = `skh${id}-${i}`;
  const routerSide = i === 0 ? "a0" : "b0";
  const base = i === 0 ? 64 : 128;
  const nodeIP = lan(base + 2);
  const dataDir = mkdtempSync(join(tmpdir(), "skiff-vxlan-"));
  const node = nodeIdentity();
  const kubeletConfig = writeKubeletConfig(dataDir, node);
  const a: Agent = { ns, nodeIP, node, dataDir, kubeletConfig, log: "" };
  // Recorded before anything is made, so the cleanup finds whatever a failure left.
  agents.push(a);
  run("ip", ["netns", "add", ns]);
  run("ip", ["-n", routerNs, "link", "add", routerSide, "type", "veth", "peer", "name", "lan0", "netns", ns]);
  run("ip", ["-n", routerNs, "addr", "add", `${lan(base + 1)}/26`, "dev", routerSide]);
  run("ip", ["-n", routerNs, "link", "set", routerSide, "up"]);
  run("ip", ["-n", ns, "addr", "add", `${nodeIP}/26`, "dev", "lan0"]);
  run("ip", ["-n", ns, "link", "set", "lan0", "up"]);
  run("ip", ["-n", ns, "link", "set", "lo", "up"]);
  run("ip", ["-n", ns, "route", "add", LAN_NET, "via", lan(base + 1), "dev", "lan0"]);
  return a;
}

function startAgent(a: Agent, token: string): void {
  const proc = spawn(
    "nsenter",
    [
      `--net=/run/netns/${a.ns}`,
      "--",
      ...skiffArgs([
        "agent",
        "--server",
        `https://${serverIP}:${server!.port}`,
        "--token",
        token,
        "--node-name",
        a.node.nodeName,
        "--node-ip",
        a.nodeIP,
        "--data-dir",
        a.dataDir,
        "--kubelet-port",
        "0",
        "--kubelet-config",
        a.kubeletConfig,
        "--cluster-cidr",
        CLUSTER_CIDR,
        "--service-cidr",
        SERVICE_CIDR,
      ]),
    ],
    { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] },
  );
  proc.stderr?.on("data", (d: Buffer) => {
    a.log += d.toString();
    if (a.log.length > 2_000_000) a.log = a.log.slice(-1_000_000);
  });
  a.proc = proc;
}

function mountsUnder(dir: string): string[] {
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((l) => l.split(" ")[4] ?? "")
    .filter((m) => m === dir || m.startsWith(`${dir}/`));
}

/** This file's waits are longer than the shared default. */
const eventually = <T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, ms = 90_000) => pollUntil(what, fn, ms);

function kubectl(args: string[]): { status: number; stdout: string; stderr: string } {
  return server!.kubectl(args);
}

function jsonpath(kind: string, name: string, path: string): string {
  return kubectl(["get", kind, name, "-o", `jsonpath=${path}`]).stdout.trim();
}

function applyPod(name: string, nodeName: string): void {
  const pod = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: "default", labels: { app: name } },
    spec: {
      nodeName,
      terminationGracePeriodSeconds: 1,
      containers: [
        {
          name: "web",
          image: BUSYBOX_IMAGE,
          imagePullPolicy: "Never",
          command: [
            "sh",
            "-c",
            [
              `echo "${name} up on $(hostname)"`,
              "mkdir -p /www/cgi-bin",
              `echo "pong from ${name}" > /www/index.html`,
              // Larger than one packet: full-size segments must fit the tunnel (MTU − 50) through path MTU discovery.
              "dd if=/dev/zero of=/www/big bs=1024 count=256 2>/dev/null",
              // A CGI answering with the caller's address as this pod sees it (NAT would show a node IP).
              `printf '#!/bin/sh\\necho Content-Type: text/plain\\necho\\necho "$REMOTE_ADDR"\\n' > /www/cgi-bin/peer`,
              "chmod +x /www/cgi-bin/peer",
              "exec httpd -f -p 8080 -h /www",
            ].join(" && "),
          ],
        },
      ],
    },
  };
  ok(server!.kubectl(["apply", "-f", "-"], { input: JSON.stringify(pod) }), `apply pod ${name}`);
}

/** Everything of the test's own left on the machine: empty when clean. */
function leftovers(): string[] {
  const out: string[] = [];
  const netns = run("ip", ["netns", "list"]);
  for (const a of agents) {
    for (const line of netns.split("\n")) if (line.startsWith(a.node.netnsPrefix) || line.startsWith(a.ns)) out.push(`netns ${line}`);
    for (const m of cgroupMountPoints()) if (existsSync(join(m, a.node.cgroupRoot))) out.push(`cgroup ${join(m, a.node.cgroupRoot)}`);
    for (const m of mountsUnder(a.dataDir)) out.push(`mount ${m}`);
  }
  for (const line of netns.split("\n")) if (line.startsWith(routerNs)) out.push(`netns ${line}`);
  if (spawnSync("ip", ["link", "show", hostVeth]).status === 0) out.push(`link ${hostVeth}`);
  if (run("ip", ["-4", "route", "show", "root", LAN_NET]).trim() !== "") out.push(`route ${LAN_NET}`);
  return out;
}

/** The VXLAN device agent `a` makes: `<pod bridge>.1` (flannel's `flannel.<VNI>`). */
const vxlanDevice = (a: Agent) => `${a.node.bridge}.1`;

interface VxlanLink {
  readonly mtu: number;
  readonly address: string;
  readonly linkinfo: { readonly info_kind: string; readonly info_data: { id: number; local: string; port: number; learning: boolean } };
  readonly addr_info: { family: string; local: string; prefixlen: number }[];
}

function vxlanLink(a: Agent): VxlanLink | undefined {
  const r = inNs(a, "ip", ["-j", "-d", "addr", "show", "dev", vxlanDevice(a)]);
  return r.status === 0 ? (JSON.parse(r.stdout) as VxlanLink[])[0] : undefined;
}

describe("VXLAN between nodes on different subnets", { skip: isRoot ? false : "needs root (network namespaces, runc)" }, () => {
  before(async () => {
    makeRouter();
    const a0 = makeAgentHost(0);
    const a1 = makeAgentHost(1);
    for (const a of [a0, a1]) importBusybox(a.dataDir);
    // Made after the host link, so the serving certificate names its address.
    server = await startTestServer(["--bind-address", serverIP, "--cluster-cidr", CLUSTER_CIDR, "--service-cidr", SERVICE_CIDR]);
    const token = readFileSync(join(server.dataDir, "token"), "utf8").trim();
    for (const a of agents) startAgent(a, token);
    await Promise.all(agents.map((a) => waitForLog(a.proc!, /msg="nodes registered"/, 120_000)));
  });

  after(async () => {
    const problems: string[] = [];
    if (server) kubectl(["delete", "pods", "--all", "--grace-period", "1", "--wait=true", "--timeout", "60s"]);
    for (const a of agents) if (a.proc) await stopProcess(a.proc);
    await server?.stop();
    for (const a of agents) {
      if (!existsSync(`/run/netns/${a.ns}`)) {
        rmSync(a.dataDir, { recursive: true, force: true });
        continue;
      }
      // The agent's own cleanup, in its namespace: sandboxes, bridges, the VXLAN device, rules, routes.
      const r = inNs(a, process.execPath, [
        "--import",
        "tsx",
        main,
        "agent",
        "--cleanup",
        "--data-dir",
        a.dataDir,
        "--kubelet-config",
        a.kubeletConfig,
        "--cluster-cidr",
        CLUSTER_CIDR,
        "--service-cidr",
        SERVICE_CIDR,
      ]);
      if (r.status !== 0) problems.push(`skiff agent --cleanup for ${a.node.nodeName}: ${r.stderr}`);
      if (inNs(a, "ip", ["link", "show", vxlanDevice(a)]).status === 0) problems.push(`skiff agent --cleanup left ${vxlanDevice(a)} in ${a.ns}`);
      const routes = inNs(a, "ip", ["-4", "route", "show", "root", CLUSTER_CIDR]).stdout.trim();
      if (routes !== "") problems.push(`skiff agent --cleanup left cluster routes in ${a.ns}: ${routes}`);
      removeCgroupTree(a.node.cgroupRoot);
      for (const m of mountsUnder(a.dataDir).reverse()) spawnSync("umount", ["-l", m]);
      rmSync(a.dataDir, { recursive: true, force: true });
      spawnSync("ip", ["netns", "delete", a.ns]);
    }
    spawnSync("ip", ["netns", "delete", routerNs]);
    spawnSync("ip", ["link", "delete", hostVeth]);
    const left = leftovers();
    assert.deepEqual(problems, []);
    assert.deepEqual(left, [], "everything the test made is gone");
  });

  it("registers both nodes Ready, with distinct podCIDRs inside the cluster CIDR", async () => {
    const cidrs: string[] = [];
    for (const a of agents) {
      await eventually(`node ${a.node.nodeName} Ready`, () => (jsonpath("node", a.node.nodeName, "{.status.conditions[?(@.type=='Ready')].status}") === "True" ? true : undefined));
      assert.equal(jsonpath("node", a.node.nodeName, "{.status.addresses[?(@.type=='InternalIP')].address}"), a.nodeIP);
      cidrs.push(jsonpath("node", a.node.nodeName, "{.spec.podCIDR}"));
    }
    for (const c of cidrs) assert.match(c, /^10\.188\.\d+\.0\/24$/);
    assert.notEqual(cidrs[0], cidrs[1]);
    // The premise: each node's IP is behind a gateway for the other (host-gw's `via` would be refused).
    const get = JSON.parse(inNs(agents[0]!, "ip", ["-j", "route", "get", agents[1]!.nodeIP]).stdout) as { gateway?: string }[];
    assert.equal(get[0]?.gateway, lan(65));
  });

  it("makes a VXLAN device on each node and publishes its VTEP in flannel's Node annotations", async () => {
    for (const a of agents) {
      const cidr = jsonpath("node", a.node.nodeName, "{.spec.podCIDR}");
      const link = await eventually(`${vxlanDevice(a)} in ${a.ns}`, () => {
        const l = vxlanLink(a);
        return l?.addr_info.some((x) => x.family === "inet") ? l : undefined;
      });
      assert.equal(link.linkinfo.info_kind, "vxlan");
      assert.deepEqual(
        { id: link.linkinfo.info_data.id, local: link.linkinfo.info_data.local, port: link.linkinfo.info_data.port, learning: link.linkinfo.info_data.learning },
        { id: 1, local: a.nodeIP, port: 8472, learning: false },
      );
      const lanMtu = (JSON.parse(inNs(a, "ip", ["-j", "link", "show", "dev", "lan0"]).stdout) as { mtu: number }[])[0]!.mtu;
      assert.equal(link.mtu, lanMtu - 50);
      assert.deepEqual(
        link.addr_info.filter((x) => x.family === "inet").map((x) => `${x.local}/${x.prefixlen}`),
        [`${cidr.split("/")[0]}/32`],
        "the first address of the podCIDR, as /32",
      );
      const annotations = await eventually(`${a.node.nodeName}'s flannel annotations`, () => {
        const r = kubectl(["get", "node", a.node.nodeName, "-o", "json"]);
        const ann = (JSON.parse(r.stdout) as { metadata: { annotations?: Record<string, string> } }).metadata.annotations ?? {};
        return ann["flannel.alpha.coreos.com/backend-type"] !== undefined ? ann : undefined;
      });
      assert.equal(annotations["flannel.alpha.coreos.com/backend-type"], "vxlan");
      assert.deepEqual(JSON.parse(annotations["flannel.alpha.coreos.com/backend-data"] ?? ""), { VNI: 1, VtepMAC: link.address });
      assert.equal(annotations["flannel.alpha.coreos.com/public-ip"], a.nodeIP);
    }
  });

  it("reaches the other node's podCIDR through the tunnel: neighbour, forwarding entry and onlink route (no host-gw route)", async () => {
    for (const [a, other] of [
      [agents[0]!, agents[1]!],
      [agents[1]!, agents[0]!],
    ] as const) {
      const cidr = jsonpath("node", other.node.nodeName, "{.spec.podCIDR}");
      const gw = cidr.split("/")[0]!;
      const mac = vxlanLink(other)!.address;
      const dev = vxlanDevice(a);
      await eventually(`route to ${cidr} over ${dev} in ${a.ns}`, () => {
        const r = inNs(a, "ip", ["-4", "route", "show", cidr]).stdout.trim();
        return r === `${cidr} via ${gw} dev ${dev} onlink` ? true : undefined;
      });
      assert.match(inNs(a, "ip", ["neigh", "show", "dev", dev, gw]).stdout, new RegExp(`^${gw.replaceAll(".", "\\.")} lladdr ${mac} PERMANENT`));
      assert.match(inNs(a, "bridge", ["fdb", "show", "dev", dev]).stdout, new RegExp(`^${mac} dst ${other.nodeIP.replaceAll(".", "\\.")} self permanent`, "m"));
      assert.doesNotMatch(inNs(a, "ip", ["-4", "route", "show"]).stdout, new RegExp(`via ${other.nodeIP.replaceAll(".", "\\.")}`), "no host-gw route");
    }
    assert.equal(run("ip", ["-4", "route", "show", "root", CLUSTER_CIDR]).trim(), "", "the host's own routing table is untouched");
  });

  it("runs a pod on each node; they reach each other by pod IP across the tunnel, keeping the source pod IP", async () => {
    const pods = agents.map((a, i) => ({ name: `vxlan-${id}-${i}`, agent: a }));
    for (const p of pods) applyPod(p.name, p.agent.node.nodeName);
    const ips: string[] = [];
    for (const p of pods) {
      await eventually(`pod ${p.name} Running`, () => (jsonpath("pod", p.name, "{.status.phase}") === "Running" ? true : undefined));
      const podIP = jsonpath("pod", p.name, "{.status.podIP}");
      const cidr = jsonpath("node", p.agent.node.nodeName, "{.spec.podCIDR}");
      assert.equal(podIP.split(".").slice(0, 3).join("."), cidr.split(".").slice(0, 3).join("."), `${p.name}'s IP ${podIP} is in its node's ${cidr}`);
      ips.push(podIP);
    }
    for (const [from, toIndex] of [
      [pods[0]!, 1],
      [pods[1]!, 0],
    ] as const) {
      const to = pods[toIndex]!;
      const out = await eventually(`${from.name} → ${to.name}`, () => {
        // No -T: this busybox's wget crashes on it; timeout bounds the call.
        const r = kubectl(["exec", from.name, "--", "timeout", "5", "wget", "-q", "-O", "-", `http://${ips[toIndex]}:8080/`]);
        return r.status === 0 ? r.stdout : undefined;
      });
      assert.equal(out.trim(), `pong from ${to.name}`);
      const peer = ok(kubectl(["exec", from.name, "--", "timeout", "5", "wget", "-q", "-O", "-", `http://${ips[toIndex]}:8080/cgi-bin/peer`]), `${from.name} → ${to.name} peer`);
      // httpd listens dual-stack: an IPv4 caller shows as [::ffff:a.b.c.d].
      assert.equal(peer.trim().replace(/^\[::ffff:(.*)\]$/, "$1"), ips[pods.indexOf(from)], "pod-to-pod traffic across the tunnel keeps the source pod IP (no NAT)");
      const big = ok(kubectl(["exec", from.name, "--", "sh", "-c", `timeout 20 wget -q -O - http://${ips[toIndex]}:8080/big | wc -c`]), `${from.name} → ${to.name} 256 KiB`);
      assert.equal(big.trim(), String(256 * 1024), "a transfer of many full-size packets crosses the tunnel whole");
    }
  });

  it("lets a pod on one node reach a Service whose only endpoint is on the other, by ClusterIP and by name", async () => {
    const [client, backend] = [`vxlan-${id}-0`, `vxlan-${id}-1`];
    const svc = { apiVersion: "v1", kind: "Service", metadata: { name: `svc-${id}`, namespace: "default" }, spec: { selector: { app: backend }, ports: [{ port: 80, targetPort: 8080 }] } };
    ok(server!.kubectl(["apply", "-f", "-"], { input: JSON.stringify(svc) }), "apply service");
    const clusterIP = jsonpath("service", `svc-${id}`, "{.spec.clusterIP}");
    assert.match(clusterIP, /^10\.188\.(1[2-9]\d|2[0-5]\d)\.\d+$/);
    for (const target of [clusterIP, `svc-${id}`, `svc-${id}.default.svc.cluster.local`]) {
      const out = await eventually(`${client} → http://${target}/`, () => {
        const r = kubectl(["exec", client, "--", "timeout", "5", "wget", "-q", "-O", "-", `http://${target}/`]);
        return r.status === 0 ? r.stdout : undefined;
      });
      assert.equal(out.trim(), `pong from ${backend}`);
    }
    ok(kubectl(["delete", "service", `svc-${id}`]), "delete service");
  });
});
