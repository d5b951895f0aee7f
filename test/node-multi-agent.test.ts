/**
 * Several agents on one machine (issue 5): one `skiff server` on the host
 * and two `skiff agent --runtime runc` processes, each inside a network
 * namespace this test makes to act as its host, joined to the server's
 * address by a bridge the test makes (a private test-only /24, no default
 * route: nothing can leave the test's namespaces). Each agent has its own
 * data dir, kubelet port, cgroup root, pod bridge and netns prefix. Both
 * nodes register and get distinct podCIDRs; a pod on each runs, `kubectl
 * logs` and `kubectl exec` reach both through the API server, and the pods
 * reach each other by pod IP through the routes each agent installs to the
 * other node's podCIDR via its InternalIP, without NAT (the callee sees
 * the caller's pod IP).
 *
 * The agents enter only the network namespace (nsenter --net), not a mount
 * namespace of their own, so the mounts and named namespaces they make are
 * the host's and the host-side cleanup sees them.
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

/** Test-only ranges of this file (node-cluster.ts's tests use 10.199/10.198; these never meet them). */
const CLUSTER_CIDR = "10.194.0.0/16";
const SERVICE_CIDR = "10.193.0.0/16";

const id = randomBytes(3).toString("hex");
/** The "LAN" between the host and the two agent namespaces: 10.195.N.0/24, N per run and free on this machine. */
const lanOctet = freeLanOctet();
const lan = (host: number) => `10.195.${lanOctet}.${host}`;
const hostBridge = `skl${id}`;
const serverIP = lan(1);

function freeLanOctet(): number {
  for (;;) {
    const n = randomInt(1, 255);
    const used = spawnSync("ip", ["-4", "-o", "addr", "show", "to", `10.195.${n}.0/24`], { encoding: "utf8" }).stdout.trim();
    if (used === "") return n;
  }
}

interface Agent {
  readonly ns: string;
  readonly hostVeth: string;
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

/** The agent's network namespace, wired to the test bridge with its node IP; no default route. */
function makeAgentHost(i: number): Agent {
  const ns = `skh${id}-${i}`;
  const hostVeth = `skv${id}${i}`;
  const nodeIP = lan(2 + i);
  const dataDir = mkdtempSync(join(tmpdir(), "skiff-multi-"));
  const node = nodeIdentity();
  const kubeletConfig = writeKubeletConfig(dataDir, node);
  const a: Agent = { ns, hostVeth, nodeIP, node, dataDir, kubeletConfig, log: "" };
  // Recorded before anything is made, so the cleanup finds whatever a failure left.
  agents.push(a);
  run("ip", ["netns", "add", ns]);
  run("ip", ["link", "add", hostVeth, "type", "veth", "peer", "name", "lan0", "netns", ns]);
  run("ip", ["link", "set", hostVeth, "master", hostBridge, "up"]);
  run("ip", ["-n", ns, "addr", "add", `${nodeIP}/24`, "dev", "lan0"]);
  run("ip", ["-n", ns, "link", "set", "lan0", "up"]);
  run("ip", ["-n", ns, "link", "set", "lo", "up"]);
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
    if (spawnSync("ip", ["link", "show", a.hostVeth]).status === 0) out.push(`link ${a.hostVeth}`);
  }
  if (spawnSync("ip", ["link", "show", hostBridge]).status === 0) out.push(`link ${hostBridge}`);
  return out;
}

describe("several agents on one machine, each in its own network namespace", { skip: isRoot ? false : "needs root (network namespaces, runc)" }, () => {
  before(async () => {
    run("ip", ["link", "add", hostBridge, "type", "bridge"]);
    run("ip", ["addr", "add", `${serverIP}/24`, "dev", hostBridge]);
    run("ip", ["link", "set", hostBridge, "up"]);
    const a0 = makeAgentHost(0);
    const a1 = makeAgentHost(1);
    for (const a of [a0, a1]) importBusybox(a.dataDir);
    // Made after the bridge, so the serving certificate names its address.
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
      // The agent's own cleanup, in its namespace: sandboxes, bridges, rules, routes.
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
      removeCgroupTree(a.node.cgroupRoot);
      for (const m of mountsUnder(a.dataDir).reverse()) spawnSync("umount", ["-l", m]);
      rmSync(a.dataDir, { recursive: true, force: true });
      spawnSync("ip", ["netns", "delete", a.ns]);
      spawnSync("ip", ["link", "delete", a.hostVeth]);
    }
    spawnSync("ip", ["link", "delete", hostBridge]);
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
    for (const c of cidrs) assert.match(c, /^10\.194\.\d+\.0\/24$/);
    assert.notEqual(cidrs[0], cidrs[1]);
  });

  it("routes each node's podCIDR via the other's InternalIP inside each agent's namespace (and not on the host)", async () => {
    for (const [a, other] of [
      [agents[0]!, agents[1]!],
      [agents[1]!, agents[0]!],
    ] as const) {
      const cidr = jsonpath("node", other.node.nodeName, "{.spec.podCIDR}");
      await eventually(`route to ${cidr} in ${a.ns}`, () => {
        const r = inNs(a, "ip", ["-4", "route", "show", cidr]);
        return r.stdout.includes(`via ${other.nodeIP}`) ? true : undefined;
      });
      const unreachable = inNs(a, "ip", ["-4", "route", "show", "type", "unreachable"]).stdout;
      assert.match(unreachable, /10\.194\.0\.0\/16/, "the rest of the cluster CIDR is unreachable");
    }
    assert.equal(run("ip", ["-4", "route", "show", "root", CLUSTER_CIDR]).trim(), "", "the host's own routing table is untouched");
  });

  it("runs a pod on each node; logs and exec reach both through the API server; pods reach each other by pod IP", async () => {
    const pods = agents.map((a, i) => ({ name: `multi-${id}-${i}`, agent: a }));
    for (const p of pods) applyPod(p.name, p.agent.node.nodeName);
    const ips: string[] = [];
    for (const p of pods) {
      await eventually(`pod ${p.name} Running`, () => (jsonpath("pod", p.name, "{.status.phase}") === "Running" ? true : undefined));
      const podIP = jsonpath("pod", p.name, "{.status.podIP}");
      const cidr = jsonpath("node", p.agent.node.nodeName, "{.spec.podCIDR}");
      assert.equal(podIP.split(".").slice(0, 3).join("."), cidr.split(".").slice(0, 3).join("."), `${p.name}'s IP ${podIP} is in its node's ${cidr}`);
      assert.equal(jsonpath("pod", p.name, "{.status.hostIP}"), p.agent.nodeIP);
      ips.push(podIP);
    }
    for (const p of pods) {
      const logs = await eventually(`logs of ${p.name}`, () => {
        const r = kubectl(["logs", p.name]);
        return r.status === 0 && r.stdout.includes("up on") ? r.stdout : undefined;
      });
      assert.match(logs, new RegExp(`${p.name} up on ${p.name}`));
      assert.equal(ok(kubectl(["exec", p.name, "--", "cat", "/www/index.html"]), `exec in ${p.name}`).trim(), `pong from ${p.name}`);
    }
    for (const [from, toIndex] of [
      [pods[0]!, 1],
      [pods[1]!, 0],
    ] as const) {
      const to = pods[toIndex]!;
      // No -T: this busybox's wget crashes on it; kubectl's own timeout bounds the call.
      const out = ok(kubectl(["exec", from.name, "--", "wget", "-q", "-O", "-", `http://${ips[toIndex]}:8080/`]), `${from.name} → ${to.name}`);
      assert.equal(out.trim(), `pong from ${to.name}`);
      const peer = ok(kubectl(["exec", from.name, "--", "wget", "-q", "-O", "-", `http://${ips[toIndex]}:8080/cgi-bin/peer`]), `${from.name} → ${to.name} peer`);
      // httpd listens dual-stack: an IPv4 caller shows as [::ffff:a.b.c.d].
      assert.equal(peer.trim().replace(/^\[::ffff:(.*)\]$/, "$1"), ips[pods.indexOf(from)], "pod-to-pod traffic across nodes keeps the source pod IP (no NAT)");
    }
  });

  it("lets a pod on one node reach a Service whose only endpoint is on the other, by ClusterIP and by name", async () => {
    const [client, backend] = [`multi-${id}-0`, `multi-${id}-1`];
    const svc = { apiVersion: "v1", kind: "Service", metadata: { name: `svc-${id}`, namespace: "default" }, spec: { selector: { app: backend }, ports: [{ port: 80, targetPort: 8080 }] } };
    ok(server!.kubectl(["apply", "-f", "-"], { input: JSON.stringify(svc) }), "apply service");
    const clusterIP = jsonpath("service", `svc-${id}`, "{.spec.clusterIP}");
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
