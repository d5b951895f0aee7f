/**
 * NetworkPolicy enforcement against the real kernel: a test "host" network
 * namespace with a bridge and three "pod" namespaces on it (veth pairs),
 * each running busybox httpd, and a NetworkPolicyEnforcer fed by in-memory
 * ListerWatchers whose nft runs inside the host namespace. Every check is
 * a real TCP connection from one pod namespace to another.
 * Addresses: 10.185.N.0/24, N per run and free on this machine.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes, randomInt } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import type { Namespace, Pod } from "kubernetes-types/core/v1.js";
import type { NetworkPolicy } from "kubernetes-types/networking/v1.js";
import type { KubeList, KubeObject, ListerWatcher } from "../../client/resource-client.js";
import { systemTimers } from "../../client/timers.js";
import type { WatchEvent } from "../../client/watch.js";
import { silentLogger } from "../../machinery/log.js";
import { runCommand } from "../cni/exec.js";
import { compilePolicies, type NftSetSpec, type PolicyRuleset } from "./compile.js";
import { NetworkPolicyEnforcer, type NftRunner } from "./enforcer.js";
import { diffScript, fullScript } from "./nft-script.js";

const isRoot = process.getuid?.() === 0;
const id = randomBytes(3).toString("hex");
const NODE = `node-${id}`;
const hostNs = `skiff-t-nph-${id}`;
const bridge = `sknp${id}`;

function freeOctet(): number {
  for (;;) {
    const n = randomInt(1, 255);
    if (spawnSync("ip", ["-4", "-o", "addr", "show", "to", `10.185.${n}.0/24`], { encoding: "utf8" }).stdout.trim() === "") return n;
  }
}
const octet = freeOctet();
const addr = (host: number) => `10.185.${octet}.${host}`;
/** A "ClusterIP" outside the pod subnet (so pods send it to their gateway), DNATed to web inside the host namespace only. */
const VIP = `10.186.${octet}.10`;

interface TestPod {
  readonly name: string;
  readonly namespace: string;
  readonly labels: Record<string, string>;
  readonly ip: string;
  readonly netns: string;
}
const web: TestPod = { name: "web", namespace: "prod", labels: { app: "web" }, ip: addr(2), netns: `skiff-t-npw-${id}` };
const client: TestPod = { name: "client", namespace: "prod", labels: { app: "client" }, ip: addr(3), netns: `skiff-t-npc-${id}` };
// Same label as `client`, other namespace: only a namespaceSelector tells them apart.
const outsider: TestPod = { name: "outsider", namespace: "dev", labels: { app: "client" }, ip: addr(4), netns: `skiff-t-npo-${id}` };
const testPods = [web, client, outsider];

let rv = 0;
/** Objects listed once, then the watch events the test pushes. */
class FakeSource<T extends KubeObject> implements ListerWatcher<T> {
  readonly #queue: WatchEvent<T>[] = [];
  #wake: (() => void) | undefined;
  constructor(readonly initial: T[]) {}
  async list(): Promise<KubeList<T>> {
    return { metadata: { resourceVersion: String(rv) }, items: this.initial };
  }
  push(type: "ADDED" | "MODIFIED" | "DELETED", object: T): void {
    object.metadata = { ...object.metadata, resourceVersion: String(++rv) };
    this.#queue.push({ type, object });
    this.#wake?.();
  }
  async *watch(_opts: unknown, signal?: AbortSignal): AsyncIterable<WatchEvent<T>> {
    signal?.addEventListener("abort", () => this.#wake?.(), { once: true });
    while (!signal?.aborted) {
      while (this.#queue.length > 0) yield this.#queue.shift()!;
      await new Promise<void>((r) => (this.#wake = r));
    }
  }
}

function podObject(p: TestPod): Pod {
  return {
    metadata: { name: p.name, namespace: p.namespace, labels: p.labels, uid: `${p.name}-${id}`, resourceVersion: String(++rv) },
    spec: { nodeName: NODE, containers: [{ name: "c", image: "busybox", ports: [{ name: "http", containerPort: 8080 }] }] },
    status: { phase: "Running", podIP: p.ip, podIPs: [{ ip: p.ip }] },
  };
}

function policy(name: string, namespace: string, spec: NetworkPolicy["spec"]): NetworkPolicy {
  return { metadata: { name, namespace, resourceVersion: String(++rv) }, spec };
}

function sh(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  assert.equal(r.status, 0, `${cmd} ${args.join(" ")}: ${r.stderr}`);
}

/** Whether `from` gets the page served on `to:port` (a refused, rejected or timed-out connection is false). */
async function reaches(fromNs: string, to: string, port: number): Promise<boolean> {
  const o = await runCommand("ip", ["netns", "exec", fromNs, "busybox", "nc", "-w", "3", to, String(port)], { input: "GET / HTTP/1.0\r\n\r\n", timeoutMs: 10_000 });
  return o.stdout.includes(`served-${id}`);
}

/** Polls until the connection outcome is `want` (the rules land asynchronously), then asserts it. */
async function expectReach(what: string, fromNs: string, to: string, port: number, want: boolean): Promise<void> {
  let got = !want;
  for (let i = 0; i < 20; i++) {
    got = await reaches(fromNs, to, port);
    if (got === want) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(got, want, `${what}: expected ${want ? "reachable" : "blocked"}`);
}

async function until(what: string, check: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(check(), what);
}

describe("NetworkPolicy enforcement in the kernel", { skip: isRoot ? false : "needs root (network namespaces, nftables)" }, () => {
  const servers: ChildProcess[] = [];
  let wwwDir = "";
  const pods = new FakeSource<Pod>(testPods.map(podObject));
  const namespaces = new FakeSource<Namespace>([
    { metadata: { name: "prod", labels: { "kubernetes.io/metadata.name": "prod", team: "prod" }, resourceVersion: "1" } },
    { metadata: { name: "dev", labels: { "kubernetes.io/metadata.name": "dev", team: "dev" }, resourceVersion: "1" } },
  ]);
  const policies = new FakeSource<NetworkPolicy>([]);
  const nft: NftRunner = async (script) => {
    const o = await runCommand("ip", ["netns", "exec", hostNs, "nft", "-f", "-"], { input: script });
    return o.code === 0 ? undefined : `nft: ${o.stderr.trim()}`;
  };
  const enforcer = new NetworkPolicyEnforcer({ pods, namespaces, networkPolicies: policies, nodeName: NODE, tableSuffix: bridge, logger: silentLogger, timers: systemTimers, nft });
  const stop = new AbortController();
  let running: Promise<void> | undefined;

  before(async () => {
    wwwDir = mkdtempSync("/tmp/skiff-np-www-");
    writeFileSync(`${wwwDir}/index.html`, `served-${id}\n`);
    sh("ip", ["netns", "add", hostNs]);
    // Bridged IPv4 meets the forward hook only with this set, per network namespace (node-routes.ts sets it on a node).
    sh("ip", ["netns", "exec", hostNs, "sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=1"]);
    sh("ip", ["netns", "exec", hostNs, "sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    sh("ip", ["-n", hostNs, "link", "add", bridge, "type", "bridge"]);
    sh("ip", ["-n", hostNs, "addr", "add", `${addr(1)}/24`, "dev", bridge]);
    sh("ip", ["-n", hostNs, "link", "set", bridge, "up"]);
    for (const [i, p] of testPods.entries()) {
      sh("ip", ["netns", "add", p.netns]);
      const hostSide = `vnp${id}${i}`;
      sh("ip", ["-n", hostNs, "link", "add", hostSide, "type", "veth", "peer", "name", "eth0", "netns", p.netns]);
      sh("ip", ["-n", hostNs, "link", "set", hostSide, "master", bridge, "up"]);
      sh("ip", ["-n", p.netns, "addr", "add", `${p.ip}/24`, "dev", "eth0"]);
      sh("ip", ["-n", p.netns, "link", "set", "eth0", "up"]);
      sh("ip", ["-n", p.netns, "link", "set", "lo", "up"]);
      sh("ip", ["-n", p.netns, "route", "add", "default", "via", addr(1)]);
      for (const port of [80, 8080]) {
        servers.push(spawn("ip", ["netns", "exec", p.netns, "busybox", "httpd", "-f", "-p", String(port), "-h", wwwDir], { stdio: "ignore" }));
      }
    }
    // A service of the node itself (a host-network server), to check egress to the node.
    servers.push(spawn("ip", ["netns", "exec", hostNs, "busybox", "httpd", "-f", "-p", "80", "-h", wwwDir], { stdio: "ignore" }));
    // What the service proxy does: a virtual IP DNATed to web in prerouting, so the forward hook sees web as the destination.
    const dnat = [
      "table ip skiff_t_dnat {",
      "  chain prerouting { type nat hook prerouting priority dstnat; policy accept;",
      `    ip daddr ${VIP} tcp dport 80 dnat to ${web.ip}:80`,
      "  }",
      "}",
      "",
    ].join("\n");
    const o = await runCommand("ip", ["netns", "exec", hostNs, "nft", "-f", "-"], { input: dnat });
    assert.equal(o.code, 0, o.stderr);
    running = enforcer.run(stop.signal);
    await until("the first sync", () => enforcer.syncCount > 0);
  });

  after(async () => {
    stop.abort();
    await running;
    const err = await enforcer.cleanup();
    for (const s of servers) if (s.pid !== undefined && s.exitCode === null) process.kill(s.pid, "SIGKILL");
    for (const p of testPods) spawnSync("ip", ["netns", "del", p.netns]);
    spawnSync("ip", ["netns", "del", hostNs]);
    rmSync(wwwDir, { recursive: true, force: true });
    assert.equal(err, undefined);
  });

  /** Pushes a policy event and waits for the transaction it causes. */
  async function change(type: "ADDED" | "MODIFIED" | "DELETED", p: NetworkPolicy): Promise<void> {
    const before = enforcer.syncCount;
    policies.push(type, p);
    await until(`the sync after ${type} ${p.metadata?.name}`, () => enforcer.syncCount > before);
  }

  it("allows everything while no policy selects a pod", async () => {
    await expectReach("client → node:80", client.netns, addr(1), 80, true);
    await expectReach("client → web:80", client.netns, web.ip, 80, true);
    await expectReach("outsider → VIP:80 (DNAT to web)", outsider.netns, VIP, 80, true);
    await expectReach("outsider → web:80", outsider.netns, web.ip, 80, true);
    const listed = spawnSync("ip", ["netns", "exec", hostNs, "nft", "list", "table", "inet", enforcer.table], { encoding: "utf8" });
    assert.equal(listed.status, 0, listed.stderr);
    assert.match(listed.stdout, /hook forward/);
  });

  it("a deny-all ingress policy blocks every pod but not the node itself", async () => {
    await change("ADDED", policy("deny", "prod", { podSelector: { matchLabels: { app: "web" } }, policyTypes: ["Ingress"] }));
    await expectReach("client → web:80", client.netns, web.ip, 80, false);
    await expectReach("outsider → web:80", outsider.netns, web.ip, 80, false);
    await expectReach("node → web:80 (probes)", hostNs, web.ip, 80, true);
    // Not isolated for egress, nor is the outsider for ingress.
    await expectReach("web → outsider:80", web.netns, outsider.ip, 80, true);
  });

  it("a podSelector peer allows only the matching pods of the policy's namespace", async () => {
    await change("ADDED", policy("from-client", "prod", { podSelector: { matchLabels: { app: "web" } }, ingress: [{ from: [{ podSelector: { matchLabels: { app: "client" } } }] }] }));
    await expectReach("client → web:80", client.netns, web.ip, 80, true);
    await expectReach("outsider (app=client in dev) → web:80", outsider.netns, web.ip, 80, false);
    // Through the DNAT, as a Service: the policy judges the backend pod, and the reply is un-NATed on the bridge.
    await expectReach("client → VIP:80 (DNAT to web)", client.netns, VIP, 80, true);
    await expectReach("outsider → VIP:80 (DNAT to web)", outsider.netns, VIP, 80, false);
  });

  it("a namespaceSelector peer allows the pods of the matching namespaces", async () => {
    await change("DELETED", policy("from-client", "prod", { podSelector: {} }));
    await change("ADDED", policy("from-dev", "prod", { podSelector: { matchLabels: { app: "web" } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: "dev" } } }] }] }));
    await expectReach("outsider → web:80", outsider.netns, web.ip, 80, true);
    await expectReach("client → web:80", client.netns, web.ip, 80, false);
  });

  it("a port rule (a named port) allows that port only", async () => {
    await change("DELETED", policy("from-dev", "prod", { podSelector: {} }));
    await change("ADDED", policy("http-only", "prod", { podSelector: { matchLabels: { app: "web" } }, ingress: [{ ports: [{ protocol: "TCP", port: "http" }] }] }));
    await expectReach("client → web:8080 (named port http)", client.netns, web.ip, 8080, true);
    await expectReach("client → web:80", client.netns, web.ip, 80, false);
    await expectReach("outsider → web:8080", outsider.netns, web.ip, 8080, true);
  });

  it("egress deny with an allowed ipBlock (minus an except) lets only that block out, and ingress is still checked", async () => {
    await change(
      "ADDED",
      policy("client-egress", "prod", {
        podSelector: { matchLabels: { app: "client" } },
        policyTypes: ["Egress"],
        egress: [{ to: [{ ipBlock: { cidr: `10.185.${octet}.0/24`, except: [`${outsider.ip}/32`, `${addr(1)}/32`] } }] }],
      }),
    );
    await expectReach("client → web:8080 (in the block; web allows http)", client.netns, web.ip, 8080, true);
    // Egress allows it, web's ingress does not: an egress accept must not skip the ingress check.
    await expectReach("client → web:80 (in the block; web denies 80)", client.netns, web.ip, 80, false);
    await expectReach("client → outsider:80 (the except)", client.netns, outsider.ip, 80, false);
    // Egress to the node itself is checked too (input hook); the node's own traffic to the pod is not.
    await expectReach("client → node:80 (an except)", client.netns, addr(1), 80, false);
    await expectReach("node → client:80", hostNs, client.ip, 80, true);
    await expectReach("outsider → client:80 (replies of ingress are not egress)", outsider.netns, client.ip, 80, true);
    await expectReach("web → outsider:80 (not isolated for egress)", web.netns, outsider.ip, 80, true);
  });

  it("a pod that stops matching leaves the policy's sets (pod churn)", async () => {
    const before = enforcer.syncCount;
    pods.push("MODIFIED", { ...podObject(client), metadata: { ...podObject(client).metadata, labels: { app: "former-client" } } });
    await until("the sync after the label change", () => enforcer.syncCount > before);
    await expectReach("former client → outsider:80 (no longer egress-isolated)", client.netns, outsider.ip, 80, true);
    await expectReach("former client → web:80 (web's ingress still denies 80)", client.netns, web.ip, 80, false);
  });

  it("removing the policies restores traffic", async () => {
    await change("DELETED", policy("client-egress", "prod", { podSelector: {} }));
    await change("DELETED", policy("http-only", "prod", { podSelector: {} }));
    await change("DELETED", policy("deny", "prod", { podSelector: {} }));
    await expectReach("client → web:80", client.netns, web.ip, 80, true);
    await expectReach("outsider → web:80", outsider.netns, web.ip, 80, true);
    const listed = spawnSync("ip", ["netns", "exec", hostNs, "nft", "list", "table", "inet", enforcer.table], { encoding: "utf8" });
    assert.doesNotMatch(listed.stdout, /chain p[0-9a-f]{16}_/, "no policy chains left");
  });

  it("the kernel takes every rule form and incremental transactions that merge and split ranges", async () => {
    const table = `skiff_policy_scratch${id}`;
    const every = compilePolicies({
      nodeName: NODE,
      pods: testPods.map(podObject),
      namespaces: [],
      policies: [
        policy("all-forms", "prod", {
          podSelector: {},
          policyTypes: ["Ingress", "Egress"],
          ingress: [
            { from: [{ podSelector: {} }, { ipBlock: { cidr: "192.0.2.0/24", except: ["192.0.2.64/26"] } }], ports: [{ port: 80 }, { protocol: "UDP", port: 5000, endPort: 5100 }, { protocol: "SCTP" }, { port: "http" }] },
          ],
          egress: [{ to: [{ namespaceSelector: {}, podSelector: { matchExpressions: [{ key: "app", operator: "Exists" }] } }], ports: [{ port: "http" }] }, {}],
        }),
      ],
    });
    assert.deepEqual(every.warnings, []);
    assert.equal(await nft(fullScript(table, every.ruleset)), undefined);
    const withPeers = (elements: string[]): PolicyRuleset => {
      const sets = new Map<string, NftSetSpec>(every.ruleset.sets);
      sets.set("scratch_peers", { type: "ipv4_addr", interval: true, elements });
      return { sets, chains: every.ruleset.chains };
    };
    // Two addresses, then the range joining them (one transaction deletes both and adds the range), then split again.
    const steps = [["10.185.0.2", "10.185.0.4"], ["10.185.0.2-10.185.0.4"], ["10.185.0.2", "10.185.0.4/31"], []];
    let applied: PolicyRuleset = every.ruleset;
    for (const elements of steps) {
      const next = withPeers(elements);
      const script = diffScript(table, applied, next);
      assert.equal(await nft(script), undefined, script);
      applied = next;
    }
    const listed = spawnSync("ip", ["netns", "exec", hostNs, "nft", "list", "set", "inet", table, "scratch_peers"], { encoding: "utf8" });
    assert.equal(listed.status, 0, listed.stderr);
    assert.doesNotMatch(listed.stdout, /elements/);
    assert.equal(await nft(`delete table inet ${table}\n`), undefined);
  });
});
