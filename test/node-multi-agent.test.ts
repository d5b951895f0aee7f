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
import { after, before, describe, it } from "node:test";
import { AgentHosts, eventually, freeLanOctet, run, runId, sharedLan } from "./support/agent-hosts.js";
import { ok } from "./support/cluster.js";

const isRoot = process.getuid?.() === 0;

/** Test-only ranges of this file (node-cluster.ts's tests use 10.199/10.198; these never meet them). */
const CLUSTER_CIDR = "10.194.0.0/16";
const SERVICE_CIDR = "10.193.0.0/16";

const id = runId();
/** The "LAN" between the host and the two agent namespaces: 10.195.N.0/24, N per run and free on this machine. */
const hosts = new AgentHosts({
  id,
  clusterCIDR: CLUSTER_CIDR,
  serviceCIDR: SERVICE_CIDR,
  wiring: sharedLan({ prefix: "10.195", octet: freeLanOctet("10.195"), id }),
  dataDirPrefix: "skiff-multi-",
  agents: 2,
});
const { agents, inNs, kubectl, jsonpath } = hosts;

describe("several agents on one machine, each in its own network namespace", { skip: isRoot ? false : "needs root (network namespaces, runc)" }, () => {
  before(() => hosts.start());

  after(() => hosts.cleanup());

  it("registers both nodes Ready, with distinct podCIDRs inside the cluster CIDR", async () => {
    await hosts.nodesReadyWithPodCIDRs(/^10\.194\.\d+\.0\/24$/);
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
    const { pods, ips } = await hosts.podOnEachNode(`multi-${id}`, [], (p) => assert.equal(jsonpath("pod", p.name, "{.status.hostIP}"), p.agent.nodeIP));
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
    await hosts.serviceReachableFrom(`svc-${id}`, `multi-${id}-0`, `multi-${id}-1`);
  });
});
