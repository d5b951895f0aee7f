/**
 * A one-node skiff server with its own real node (runc, conmon, CNI) for
 * end-to-end tests, isolated from anything else on the machine: its own
 * data dir, kubelet port, pod bridge, netns prefix, cgroup root, and
 * test-only cluster and Service ranges. `stop()` deletes every pod, stops
 * the server, removes the node's network and cgroups, and checks nothing
 * of it is left.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes, randomInt } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cgroupMountPoints, removeCgroupTree } from "../../src/runtime/runc/cgroups.js";
import { kubectlDir, type TestServer } from "./cluster.js";
import { skiff, skiffBackground, stopProcess, TEST_SERVER_FLAGS, waitForLog } from "./skiff.js";
import { buildTestImage } from "./test-images.js";

/** Test-only ranges: nothing of a real cluster on this machine uses them. */
export const TEST_CLUSTER_CIDR = "10.199.0.0/16";
export const TEST_SERVICE_CIDR = "10.198.0.0/16";

/** The busybox image every node server holds (imported, never pulled). */
export const BUSYBOX_IMAGE = "skiff.test/busybox:1";

/** Options of {@link startNodeServer}. */
export interface NodeServerOptions {
  /** More KubeletConfiguration lines (YAML, top level). */
  readonly kubeletConfig?: readonly string[];
  /** registries.yaml content for image pulls. */
  readonly registries?: string;
  readonly extraArgs?: readonly string[];
  /**
   * Networking tests: the node's own ranges and an address pods can reach
   * the host on. The address lives on an empty bridge the test makes (this
   * kernel has no dummy links), so it is local to the host and nothing sent
   * to it leaves the machine; the server binds there and it is the node IP.
   */
  readonly network?: { readonly clusterCidr: string; readonly serviceCidr: string; readonly hostAddress: string };
}

/** A running one-node server. */
export interface NodeServer extends TestServer {
  readonly nodeName: string;
  /** The node's pod bridge, netns prefix and cgroup root (to check cleanup). */
  readonly bridge: string;
  readonly netnsPrefix: string;
  readonly cgroupRoot: string;
  /** Polls `check` until it returns a value (not undefined), or fails naming `what`. */
  eventually<T>(what: string, check: () => T | undefined, ms?: number): Promise<T>;
}

/** Mount points at or under `dir`. */
function mountsUnder(dir: string): string[] {
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((l) => l.split(" ")[4] ?? "")
    .filter((m) => m === dir || m.startsWith(`${dir}/`));
}

/** The host names one test node uses, unique per call. */
export interface NodeIdentity {
  readonly nodeName: string;
  readonly bridge: string;
  readonly netnsPrefix: string;
  readonly cgroupRoot: string;
}

export function nodeIdentity(): NodeIdentity {
  const id = randomBytes(3).toString("hex");
  return { nodeName: `node-${id}`, bridge: `skt${id}`, netnsPrefix: `skt${id}-`, cgroupRoot: `/skiff-test-${id}` };
}

/** Imports the busybox test image into `dataDir`'s image store, as `skiff image import` does. */
export function importBusybox(dataDir: string): void {
  const image = buildTestImage({ name: BUSYBOX_IMAGE });
  try {
    const imported = skiff(["image", "import", "--data-dir", dataDir, image.path]);
    assert.equal(imported.status, 0, imported.stderr);
  } finally {
    image.cleanup();
  }
}

/** Writes the node's KubeletConfiguration (its own bridge, netns prefix, cgroup root) into `dataDir`; returns its path. */
export function writeKubeletConfig(dataDir: string, node: NodeIdentity, extra: readonly string[] = []): string {
  const file = join(dataDir, "kubelet.yaml");
  writeFileSync(
    file,
    [
      "apiVersion: kubelet.config.k8s.io/v1beta1",
      "kind: KubeletConfiguration",
      "nodeStatusUpdateFrequency: 2s",
      `cgroupRoot: ${node.cgroupRoot}`,
      "network:",
      `  bridgeName: ${node.bridge}`,
      `  netnsPrefix: ${node.netnsPrefix}`,
      ...extra,
      "",
    ].join("\n"),
  );
  return file;
}

/** The ids of the containers the node's runc still has (running or stopped), from its own runc root. */
export function nodeContainers(dataDir: string): string[] {
  const root = join(dataDir, "agent", "runtime", "runc");
  if (!existsSync(root)) return [];
  const r = spawnSync("runc", ["--root", root, "list", "-q"], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.split("\n").filter((l) => l !== "") : [];
}

/** Removes what a stopped node left on the host (containers, network, cgroups, mounts) and its data dir; asserts the network cleanup worked. */
export function cleanupNode(
  dataDir: string,
  node: NodeIdentity,
  kubeletConfig: string,
  ranges: { readonly clusterCidr: string; readonly serviceCidr: string } = { clusterCidr: TEST_CLUSTER_CIDR, serviceCidr: TEST_SERVICE_CIDR },
): void {
  // Containers outlive their agent by design (it adopts them on restart): a test's node ends with its own.
  const root = join(dataDir, "agent", "runtime", "runc");
  for (const id of nodeContainers(dataDir)) spawnSync("runc", ["--root", root, "delete", "--force", id]);
  const cleanup = skiff(["agent", "--cleanup", "--data-dir", dataDir, "--kubelet-config", kubeletConfig, "--cluster-cidr", ranges.clusterCidr, "--service-cidr", ranges.serviceCidr]);
  removeCgroupTree(node.cgroupRoot);
  for (const m of mountsUnder(dataDir).reverse()) spawnSync("umount", ["-l", m]);
  rmSync(dataDir, { recursive: true, force: true });
  assert.equal(cleanup.status, 0, `skiff agent --cleanup failed:\n${cleanup.stderr}`);
}

/** Starts a server with its node and waits until the node is Ready. */
export async function startNodeServer(opts: NodeServerOptions = {}): Promise<NodeServer> {
  const dataDir = mkdtempSync(join(tmpdir(), "skiff-node-"));
  const node = nodeIdentity();
  const { nodeName, bridge, netnsPrefix, cgroupRoot } = node;
  importBusybox(dataDir);
  const kubeletConfig = writeKubeletConfig(dataDir, node, opts.kubeletConfig);
  const registries = opts.registries ? join(dataDir, "registries.yaml") : undefined;
  if (registries) writeFileSync(registries, opts.registries!);
  const flags = TEST_SERVER_FLAGS.filter((f) => f !== "--disable-agent");
  const ranges = opts.network ?? ownTestRanges();
  const hostLink = opts.network ? addHostAddress(`${bridge}h`, opts.network.hostAddress) : undefined;
  const nodeIP = opts.network?.hostAddress ?? "127.0.0.1";
  const proc = skiffBackground([
    "server",
    ...flags,
    "--data-dir",
    dataDir,
    "--disable-snapshots",
    "--node-name",
    nodeName,
    "--node-ip",
    nodeIP,
    ...(opts.network ? ["--bind-address", nodeIP] : []),
    "--kubelet-port",
    "0",
    "--kubelet-config",
    kubeletConfig,
    "--cluster-cidr",
    ranges.clusterCidr,
    "--service-cidr",
    ranges.serviceCidr,
    ...(registries ? ["--private-registry", registries] : []),
    ...(opts.extraArgs ?? []),
  ]);
  let log = "";
  proc.stderr?.on("data", (d: Buffer) => {
    log += d.toString();
    if (log.length > 4_000_000) log = log.slice(-2_000_000);
  });
  let line: string;
  try {
    line = await waitForLog(proc, /msg="API server listening"/);
  } catch (err) {
    await stopProcess(proc);
    if (hostLink) spawnSync("ip", ["link", "del", hostLink]);
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  const port = Number(/port=(\d+)/.exec(line)![1]);
  const kubeconfig = join(dataDir, "kubeconfig.yaml");
  const dir = kubectlDir();
  const kubectl: TestServer["kubectl"] = (args, o = {}) => {
    const bin = o.version ? join(dir, `kubectl.${o.version}`) : "kubectl";
    const r = spawnSync(bin, ["--kubeconfig", kubeconfig, ...args], { encoding: "utf8", input: o.input, timeout: 90_000, env: { ...process.env, KUBECONFIG: kubeconfig, ...o.env } });
    return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  };
  async function eventually<T>(what: string, check: () => T | undefined, ms = 60_000): Promise<T> {
    const end = Date.now() + ms;
    let last: T | undefined;
    while (Date.now() < end) {
      last = check();
      if (last !== undefined) return last;
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.fail(`timed out waiting for ${what}\n--- server log (tail) ---\n${log.slice(-6000)}`);
  }
  const server: NodeServer = {
    dataDir,
    kubeconfig,
    port,
    process: proc,
    nodeName,
    bridge,
    netnsPrefix,
    cgroupRoot,
    kubectl,
    eventually,
    async stop() {
      // Pods first, so their containers, mounts and namespaces go the way a user's would.
      kubectl(["delete", "pods", "--all", "--all-namespaces", "--grace-period", "1", "--wait=true", "--timeout", "60s"]);
      await stopProcess(proc);
      if (hostLink) spawnSync("ip", ["link", "del", hostLink]);
      cleanupNode(dataDir, node, kubeletConfig, ranges);
    },
  };
  try {
    await eventually("the node to be Ready", () => {
      const r = kubectl(["get", "node", nodeName, "-o", "jsonpath={.status.conditions[?(@.type=='Ready')].status}"]);
      return r.stdout.trim() === "True" ? true : undefined;
    });
  } catch (err) {
    await server.stop().catch(() => undefined);
    throw err;
  }
  return server;
}

/**
 * A /24 of the test cluster range and one of the test Service range for one
 * node server, free on this machine: node tests run side by side, and two
 * nodes with one pod range (or one Service range, each with its own service
 * proxy) would route and DNAT each other's traffic. The node gets the whole
 * pod /24 (the node IPAM hands out /24s).
 */
function ownTestRanges(): { clusterCidr: string; serviceCidr: string } {
  for (;;) {
    const n = randomInt(0, 256);
    const clusterCidr = `10.199.${n}.0/24`;
    const used = spawnSync("ip", ["-4", "route", "show", "root", clusterCidr], { encoding: "utf8" }).stdout.trim();
    if (used === "") return { clusterCidr, serviceCidr: `10.198.${n}.0/24` };
  }
}

/** Puts `address`/32 on a new empty bridge `name` (up), so the host owns it; returns the link name. */
export function addHostAddress(name: string, address: string): string {
  for (const args of [["link", "add", name, "type", "bridge"], ["addr", "add", `${address}/32`, "dev", name], ["link", "set", name, "up"]]) {
    const r = spawnSync("ip", args, { encoding: "utf8" });
    if (r.status !== 0) {
      spawnSync("ip", ["link", "del", name]);
      throw new Error(`ip ${args.join(" ")}: ${r.stderr}`);
    }
  }
  return name;
}

/** What of a node's host state is left (netns, bridge, cgroups, mounts): empty when clean. */
export function nodeLeftovers(s: Pick<NodeServer, "netnsPrefix" | "bridge" | "cgroupRoot" | "dataDir">): string[] {
  const out: string[] = [];
  const netns = spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout;
  for (const line of netns.split("\n")) if (line.startsWith(s.netnsPrefix)) out.push(`netns ${line}`);
  if (spawnSync("ip", ["link", "show", s.bridge], { encoding: "utf8" }).status === 0) out.push(`bridge ${s.bridge}`);
  for (const m of cgroupMountPoints()) if (existsSync(join(m, s.cgroupRoot))) out.push(`cgroup ${join(m, s.cgroupRoot)}`);
  for (const m of mountsUnder(s.dataDir)) out.push(`mount ${m}`);
  return out;
}
