/**
 * Several real agents on one machine: one `skiff server` on the host and
 * `skiff agent --runtime runc` processes, each inside a network namespace
 * the test makes to act as its host. How the host namespaces are wired to
 * the server is the caller's choice ({@link sharedLan}: one bridge, one
 * /24; {@link routedSubnets}: a router namespace, one /26 each), the rest
 * (namespaces, data dirs, node identities, the agents under nsenter, the
 * cleanup with `skiff agent --cleanup` inside each namespace, the check
 * that nothing is left) is shared here.
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
import { cgroupMountPoints, removeCgroupTree } from "../../src/runtime/runc/cgroups.js";
import { ok, startTestServer, type TestServer } from "./cluster.js";
import { eventually as pollUntil } from "./eventually.js";
import { BUSYBOX_IMAGE, importBusybox, type NodeIdentity, nodeIdentity, writeKubeletConfig } from "./node-cluster.js";
import { repoRoot, stopProcess, waitForLog } from "./skiff.js";

const main = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));

/** A command's outcome, as spawnSync reports it. */
export interface CommandResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs a command on the host; throws with its stderr when it fails, else returns its stdout. */
export function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (exit ${r.status}): ${r.stderr}`);
  return r.stdout;
}

/** The mount points at or below `dir` in the host's mount table. */
export function mountsUnder(dir: string): string[] {
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((l) => l.split(" ")[4] ?? "")
    .filter((m) => m === dir || m.startsWith(`${dir}/`));
}

/** A third octet N for which no address on this machine is in `${prefix}.N.0/24` (prefix like "10.195"). */
export function freeLanOctet(prefix: string): number {
  for (;;) {
    const n = randomInt(1, 255);
    const used = spawnSync("ip", ["-4", "-o", "addr", "show", "to", `${prefix}.${n}.0/24`], { encoding: "utf8" }).stdout.trim();
    if (used === "") return n;
  }
}

/** {@link pollUntil} with the longer default wait these tests need (several real nodes on a shared machine). */
export const eventually = <T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, ms = 90_000) => pollUntil(what, fn, ms);

/** One agent's host: its network namespace, node IP and node, and the agent process once started. */
export interface AgentHost {
  readonly ns: string;
  readonly nodeIP: string;
  readonly node: NodeIdentity;
  readonly dataDir: string;
  readonly kubeletConfig: string;
  /** Links the wiring made on the host for this agent (deleted after its namespace, checked by the leftovers). */
  readonly hostLinks: readonly string[];
  proc?: ChildProcess;
  /** The agent's stderr (the last MB or two). */
  log: string;
}

/**
 * How the host and the agents' namespaces are joined. `setUp` runs first
 * (the server's address must exist before the server starts, so its
 * serving certificate names it); `agentPlan` names agent `index`'s node IP
 * and host-side links before anything is made (so a failure part-way is
 * still cleaned up); `wireAgent` joins its fresh, empty namespace `ns`;
 * `tearDown` runs after every agent namespace is gone; `leftovers` names
 * what of the wiring is still on the machine.
 */
export interface LanWiring {
  /** The address the server binds and the agents dial. */
  readonly serverIP: string;
  setUp(): void;
  agentPlan(index: number): { nodeIP: string; hostLinks: string[] };
  wireAgent(index: number, ns: string): void;
  tearDown(): void;
  leftovers(netnsList: string): string[];
}

/**
 * One bridge on the host holding `${prefix}.${octet}.1/24` (the server),
 * each agent namespace on it through a veth with `.2+i`/24; no routes
 * beyond the /24, so nothing leaves the test's namespaces.
 */
export function sharedLan(o: { readonly prefix: string; readonly octet: number; readonly id: string }): LanWiring {
  const lan = (host: number) => `${o.prefix}.${o.octet}.${host}`;
  const bridge = `skl${o.id}`;
  return {
    serverIP: lan(1),
    setUp() {
      run("ip", ["link", "add", bridge, "type", "bridge"]);
      run("ip", ["addr", "add", `${lan(1)}/24`, "dev", bridge]);
      run("ip", ["link", "set", bridge, "up"]);
    },
    agentPlan: (i) => ({ nodeIP: lan(2 + i), hostLinks: [`skv${o.id}${i}`] }),
    wireAgent(i, ns) {
      const hostVeth = `skv${o.id}${i}`;
      const nodeIP = lan(2 + i);
      run("ip", ["link", "add", hostVeth, "type", "veth", "peer", "name", "lan0", "netns", ns]);
      run("ip", ["link", "set", hostVeth, "master", bridge, "up"]);
      run("ip", ["-n", ns, "addr", "add", `${nodeIP}/24`, "dev", "lan0"]);
      run("ip", ["-n", ns, "link", "set", "lan0", "up"]);
    },
    tearDown() {
      spawnSync("ip", ["link", "delete", bridge]);
    },
    leftovers() {
      return spawnSync("ip", ["link", "show", bridge]).status === 0 ? [`link ${bridge}`] : [];
    },
  };
}

/**
 * Different subnets of `${prefix}.${octet}.0/24` behind a router namespace
 * (ip_forward=1): the host's .0/26 (host .1, router .2), then agent i's
 * /26 at 64·(i+1) (router .+1, node .+2). Each side routes only the test
 * /24, via the router: no default route anywhere. Up to three agents.
 */
export function routedSubnets(o: { readonly prefix: string; readonly octet: number; readonly id: string }): LanWiring {
  const lan = (host: number) => `${o.prefix}.${o.octet}.${host}`;
  const lanNet = `${o.prefix}.${o.octet}.0/24`;
  const routerNs = `skr${o.id}`;
  const hostVeth = `skr${o.id}h`;
  return {
    serverIP: lan(1),
    setUp() {
      run("ip", ["netns", "add", routerNs]);
      run("ip", ["link", "add", hostVeth, "type", "veth", "peer", "name", "h0", "netns", routerNs]);
      run("ip", ["addr", "add", `${lan(1)}/26`, "dev", hostVeth]);
      run("ip", ["link", "set", hostVeth, "up"]);
      run("ip", ["-n", routerNs, "addr", "add", `${lan(2)}/26`, "dev", "h0"]);
      run("ip", ["-n", routerNs, "link", "set", "h0", "up"]);
      run("ip", ["-n", routerNs, "link", "set", "lo", "up"]);
      run("ip", ["netns", "exec", routerNs, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1"]);
      // Goes with the link when the test deletes it.
      run("ip", ["route", "add", lanNet, "via", lan(2), "dev", hostVeth]);
    },
    agentPlan(i) {
      if (i > 2) throw new Error(`routedSubnets has room for three agents, not ${i + 1}`);
      return { nodeIP: lan(64 * (i + 1) + 2), hostLinks: [] };
    },
    wireAgent(i, ns) {
      const routerSide = `${"abc"[i]}0`;
      const base = 64 * (i + 1);
      const nodeIP = lan(base + 2);
      run("ip", ["-n", routerNs, "link", "add", routerSide, "type", "veth", "peer", "name", "lan0", "netns", ns]);
      run("ip", ["-n", routerNs, "addr", "add", `${lan(base + 1)}/26`, "dev", routerSide]);
      run("ip", ["-n", routerNs, "link", "set", routerSide, "up"]);
      run("ip", ["-n", ns, "addr", "add", `${nodeIP}/26`, "dev", "lan0"]);
      run("ip", ["-n", ns, "link", "set", "lan0", "up"]);
      run("ip", ["-n", ns, "route", "add", lanNet, "via", lan(base + 1), "dev", "lan0"]);
    },
    tearDown() {
      spawnSync("ip", ["netns", "delete", routerNs]);
      spawnSync("ip", ["link", "delete", hostVeth]);
    },
    leftovers(netnsList) {
      const out: string[] = [];
      for (const line of netnsList.split("\n")) if (line.startsWith(routerNs)) out.push(`netns ${line}`);
      if (spawnSync("ip", ["link", "show", hostVeth]).status === 0) out.push(`link ${hostVeth}`);
      if (run("ip", ["-4", "route", "show", "root", lanNet]).trim() !== "") out.push(`route ${lanNet}`);
      return out;
    },
  };
}

/** What {@link AgentHosts} needs: the file's own ranges and wiring. */
export interface AgentHostsOptions {
  /** Unique per run: names the agent namespaces `skh<id>-<i>`. */
  readonly id: string;
  readonly clusterCIDR: string;
  readonly serviceCIDR: string;
  readonly wiring: LanWiring;
  /** Prefix of the agents' data dirs under the temp dir (a `skiff-` name). */
  readonly dataDirPrefix: string;
  readonly agents: number;
}

/** The server, its agents and their hosts; {@link AgentHosts.start} in `before`, {@link AgentHosts.cleanup} in `after`. */
export class AgentHosts {
  readonly agents: AgentHost[] = [];
  server: TestServer | undefined;

  constructor(private readonly o: AgentHostsOptions) {}

  /** Wires the LAN and the agent hosts, starts the server on the LAN and the agents, and resolves once every agent registered its node. */
  async start(): Promise<void> {
    this.o.wiring.setUp();
    for (let i = 0; i < this.o.agents; i++) this.makeAgentHost(i);
    for (const a of this.agents) importBusybox(a.dataDir);
    // Made after the wiring, so the serving certificate names the server's address.
    this.server = await startTestServer(["--bind-address", this.o.wiring.serverIP, "--cluster-cidr", this.o.clusterCIDR, "--service-cidr", this.o.serviceCIDR]);
    const token = readFileSync(join(this.server.dataDir, "token"), "utf8").trim();
    for (const a of this.agents) this.startAgent(a, token);
    await Promise.all(this.agents.map((a) => waitForLog(a.proc!, /msg="nodes registered"/, 120_000)));
  }

  private makeAgentHost(i: number): void {
    const ns = `skh${this.o.id}-${i}`;
    const dataDir = mkdtempSync(join(tmpdir(), this.o.dataDirPrefix));
    const node = nodeIdentity();
    const kubeletConfig = writeKubeletConfig(dataDir, node);
    const { nodeIP, hostLinks } = this.o.wiring.agentPlan(i);
    const a: AgentHost = { ns, nodeIP, node, dataDir, kubeletConfig, hostLinks, log: "" };
    // Recorded before anything is made, so the cleanup finds whatever a failure left.
    this.agents.push(a);
    run("ip", ["netns", "add", ns]);
    this.o.wiring.wireAgent(i, ns);
    run("ip", ["-n", ns, "link", "set", "lo", "up"]);
  }

  private startAgent(a: AgentHost, token: string): void {
    const proc = spawn(
      "nsenter",
      [
        `--net=/run/netns/${a.ns}`,
        "--",
        process.execPath,
        "--import",
        "tsx",
        main,
        "agent",
        "--server",
        `https://${this.o.wiring.serverIP}:${this.server!.port}`,
        "--token",
        token,
        "--node-name",
        a.node.nodeName,
        "--node-ip",
        a.nodeIP,
        "--kubelet-port",
        "0",
        ...this.nodeFlags(a),
      ],
      { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] },
    );
    proc.stderr?.on("data", (d: Buffer) => {
      a.log += d.toString();
      if (a.log.length > 2_000_000) a.log = a.log.slice(-1_000_000);
    });
    a.proc = proc;
  }

  /** The `skiff agent` flags naming agent `a`'s node state and ranges: what both the agent and its `--cleanup` need. */
  private nodeFlags(a: AgentHost): string[] {
    return ["--data-dir", a.dataDir, "--kubelet-config", a.kubeletConfig, "--cluster-cidr", this.o.clusterCIDR, "--service-cidr", this.o.serviceCIDR];
  }

  /** kubectl against the server (an arrow property, so tests may destructure it). */
  readonly kubectl = (args: string[], opts?: { input?: string }): CommandResult => this.server!.kubectl(args, opts);

  /** `kubectl get KIND NAME -o jsonpath=PATH`, trimmed (empty when it fails). */
  readonly jsonpath = (kind: string, name: string, path: string): string => this.kubectl(["get", kind, name, "-o", `jsonpath=${path}`]).stdout.trim();

  /**
   * Applies pod `name` (label app=NAME) bound to `nodeName`: busybox httpd on
   * 8080 serving "pong from NAME" at / and, at /cgi-bin/peer, the caller's
   * address as the pod sees it. `setup`: more shell commands, run in order
   * after the index page is written (e.g. more files to serve).
   */
  applyPod(name: string, nodeName: string, setup: readonly string[] = []): void {
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
                ...setup,
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
    ok(this.kubectl(["apply", "-f", "-"], { input: JSON.stringify(pod) }), `apply pod ${name}`);
  }

  /**
   * Waits until every agent's node is Ready, asserts its InternalIP is the
   * agent's node IP, that each podCIDR matches `podCIDR` and that the two
   * first differ; returns the podCIDRs in agent order.
   */
  async nodesReadyWithPodCIDRs(podCIDR: RegExp): Promise<string[]> {
    const cidrs: string[] = [];
    for (const a of this.agents) {
      await eventually(`node ${a.node.nodeName} Ready`, () => (this.jsonpath("node", a.node.nodeName, "{.status.conditions[?(@.type=='Ready')].status}") === "True" ? true : undefined));
      assert.equal(this.jsonpath("node", a.node.nodeName, "{.status.addresses[?(@.type=='InternalIP')].address}"), a.nodeIP);
      cidrs.push(this.jsonpath("node", a.node.nodeName, "{.spec.podCIDR}"));
    }
    for (const c of cidrs) assert.match(c, podCIDR);
    assert.notEqual(cidrs[0], cidrs[1]);
    return cidrs;
  }

  /**
   * Applies one {@link AgentHosts.applyPod} pod per agent, named
   * `${prefix}-<i>`, waits until each is Running and asserts its pod IP is
   * in its node's podCIDR; `whenRunning` adds the caller's checks of each
   * pod then. Returns the pods and their IPs, in agent order.
   */
  async podOnEachNode(
    prefix: string,
    setup: readonly string[] = [],
    whenRunning: (p: { name: string; agent: AgentHost }) => void = () => {},
  ): Promise<{ pods: { name: string; agent: AgentHost }[]; ips: string[] }> {
    const pods = this.agents.map((a, i) => ({ name: `${prefix}-${i}`, agent: a }));
    for (const p of pods) this.applyPod(p.name, p.agent.node.nodeName, setup);
    const ips: string[] = [];
    for (const p of pods) {
      await eventually(`pod ${p.name} Running`, () => (this.jsonpath("pod", p.name, "{.status.phase}") === "Running" ? true : undefined));
      const podIP = this.jsonpath("pod", p.name, "{.status.podIP}");
      const cidr = this.jsonpath("node", p.agent.node.nodeName, "{.spec.podCIDR}");
      assert.equal(podIP.split(".").slice(0, 3).join("."), cidr.split(".").slice(0, 3).join("."), `${p.name}'s IP ${podIP} is in its node's ${cidr}`);
      whenRunning(p);
      ips.push(podIP);
    }
    return { pods, ips };
  }

  /**
   * Makes Service `name` (port 80 → 8080) selecting pod `backend`, lets
   * `checkClusterIP` look at its ClusterIP, and asserts pod `client`
   * reaches it by ClusterIP, short name and FQDN (answer "pong from
   * BACKEND"); then deletes it.
   */
  async serviceReachableFrom(name: string, client: string, backend: string, checkClusterIP: (ip: string) => void = () => {}): Promise<void> {
    const svc = { apiVersion: "v1", kind: "Service", metadata: { name, namespace: "default" }, spec: { selector: { app: backend }, ports: [{ port: 80, targetPort: 8080 }] } };
    ok(this.kubectl(["apply", "-f", "-"], { input: JSON.stringify(svc) }), "apply service");
    const clusterIP = this.jsonpath("service", name, "{.spec.clusterIP}");
    checkClusterIP(clusterIP);
    for (const target of [clusterIP, name, `${name}.default.svc.cluster.local`]) {
      const out = await eventually(`${client} → http://${target}/`, () => {
        const r = this.kubectl(["exec", client, "--", "timeout", "5", "wget", "-q", "-O", "-", `http://${target}/`]);
        return r.status === 0 ? r.stdout : undefined;
      });
      assert.equal(out.trim(), `pong from ${backend}`);
    }
    ok(this.kubectl(["delete", "service", name]), "delete service");
  }

  /** Runs a command inside agent `a`'s network namespace only. */
  readonly inNs = (a: AgentHost, cmd: string, args: string[]): CommandResult => {
    const r = spawnSync("nsenter", [`--net=/run/netns/${a.ns}`, "--", cmd, ...args], { encoding: "utf8", cwd: repoRoot, timeout: 120_000 });
    return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  };

  /**
   * Deletes the pods, stops the agents and the server, runs each agent's own
   * `skiff agent --cleanup` in its namespace (sandboxes, bridges, devices,
   * rules, routes), then `afterAgentCleanup` (the caller's checks of what
   * that cleanup must have removed, as problems), removes cgroups, mounts,
   * data dirs, namespaces and the wiring. Then asserts there were no
   * problems and that {@link AgentHosts.leftovers} is empty.
   */
  async cleanup(afterAgentCleanup: (a: AgentHost) => string[] = () => []): Promise<void> {
    const problems: string[] = [];
    if (this.server) this.kubectl(["delete", "pods", "--all", "--grace-period", "1", "--wait=true", "--timeout", "60s"]);
    for (const a of this.agents) if (a.proc) await stopProcess(a.proc);
    await this.server?.stop();
    for (const a of this.agents) {
      if (!existsSync(`/run/netns/${a.ns}`)) {
        rmSync(a.dataDir, { recursive: true, force: true });
        continue;
      }
      const r = this.inNs(a, process.execPath, [
        "--import",
        "tsx",
        main,
        "agent",
        "--cleanup",
        ...this.nodeFlags(a),
      ]);
      if (r.status !== 0) problems.push(`skiff agent --cleanup for ${a.node.nodeName}: ${r.stderr}`);
      problems.push(...afterAgentCleanup(a));
      removeCgroupTree(a.node.cgroupRoot);
      for (const m of mountsUnder(a.dataDir).reverse()) spawnSync("umount", ["-l", m]);
      rmSync(a.dataDir, { recursive: true, force: true });
      spawnSync("ip", ["netns", "delete", a.ns]);
      for (const l of a.hostLinks) spawnSync("ip", ["link", "delete", l]);
    }
    this.o.wiring.tearDown();
    const left = this.leftovers();
    assert.deepEqual(problems, []);
    assert.deepEqual(left, [], "everything the test made is gone");
  }

  /** Everything of the test's own left on the machine: empty when clean. */
  leftovers(): string[] {
    const out: string[] = [];
    const netns = run("ip", ["netns", "list"]);
    for (const a of this.agents) {
      for (const line of netns.split("\n")) if (line.startsWith(a.node.netnsPrefix) || line.startsWith(a.ns)) out.push(`netns ${line}`);
      for (const m of cgroupMountPoints()) if (existsSync(join(m, a.node.cgroupRoot))) out.push(`cgroup ${join(m, a.node.cgroupRoot)}`);
      for (const m of mountsUnder(a.dataDir)) out.push(`mount ${m}`);
      for (const l of a.hostLinks) if (spawnSync("ip", ["link", "show", l]).status === 0) out.push(`link ${l}`);
    }
    out.push(...this.o.wiring.leftovers(netns));
    return out;
  }
}

/** A fresh run id (6 hex digits) for the names of one test run's namespaces and links. */
export const runId = (): string => randomBytes(3).toString("hex");
