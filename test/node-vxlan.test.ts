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
import { after, before, describe, it } from "node:test";
import { type AgentHost, AgentHosts, eventually, freeLanOctet, routedSubnets, run, runId } from "./support/agent-hosts.js";
import { ok } from "./support/cluster.js";

const isRoot = process.getuid?.() === 0;

/** Test-only ranges of this file (10.188/16 and 10.189/16 belong to it alone). */
const CLUSTER_CIDR = "10.188.0.0/17";
const SERVICE_CIDR = "10.188.128.0/17";

const id = runId();
/**
 * Three subnets of 10.189.N.0/24 (N per run, free on this machine), all behind the router namespace:
 * the host's .0/26 (host .1, router .2), node A's .64/26 (router .65, node .66), node B's .128/26 (router .129, node .130).
 */
const lanOctet = freeLanOctet("10.189");
const lan = (host: number) => `10.189.${lanOctet}.${host}`;
const hosts = new AgentHosts({
  id,
  clusterCIDR: CLUSTER_CIDR,
  serviceCIDR: SERVICE_CIDR,
  wiring: routedSubnets({ prefix: "10.189", octet: lanOctet, id }),
  dataDirPrefix: "skiff-vxlan-",
  agents: 2,
});
const { agents, inNs, kubectl, jsonpath } = hosts;

/** The VXLAN device agent `a` makes: `<pod bridge>.1` (flannel's `flannel.<VNI>`). */
const vxlanDevice = (a: AgentHost) => `${a.node.bridge}.1`;

interface VxlanLink {
  readonly mtu: number;
  readonly address: string;
  readonly linkinfo: { readonly info_kind: string; readonly info_data: { id: number; local: string; port: number; learning: boolean } };
  readonly addr_info: { family: string; local: string; prefixlen: number }[];
}

function vxlanLink(a: AgentHost): VxlanLink | undefined {
  const r = inNs(a, "ip", ["-j", "-d", "addr", "show", "dev", vxlanDevice(a)]);
  return r.status === 0 ? (JSON.parse(r.stdout) as VxlanLink[])[0] : undefined;
}

describe("VXLAN between nodes on different subnets", { skip: isRoot ? false : "needs root (network namespaces, runc)" }, () => {
  before(() => hosts.start());

  after(async () => {
    await hosts.cleanup((a) => {
      // The agent's own cleanup removes the VXLAN device and the routes to the other nodes too.
      const found: string[] = [];
      if (inNs(a, "ip", ["link", "show", vxlanDevice(a)]).status === 0) found.push(`skiff agent --cleanup left ${vxlanDevice(a)} in ${a.ns}`);
      const routes = inNs(a, "ip", ["-4", "route", "show", "root", CLUSTER_CIDR]).stdout.trim();
      if (routes !== "") found.push(`skiff agent --cleanup left cluster routes in ${a.ns}: ${routes}`);
      return found;
    });
  });

  it("registers both nodes Ready, with distinct podCIDRs inside the cluster CIDR", async () => {
    await hosts.nodesReadyWithPodCIDRs(/^10\.188\.\d+\.0\/24$/);
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
    const { pods, ips } = await hosts.podOnEachNode(`vxlan-${id}`, [
      // Larger than one packet: full-size segments must fit the tunnel (MTU − 50) through path MTU discovery.
      "dd if=/dev/zero of=/www/big bs=1024 count=256 2>/dev/null",
    ]);
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
    await hosts.serviceReachableFrom(`svc-${id}`, `vxlan-${id}-0`, `vxlan-${id}-1`, (clusterIP) => assert.match(clusterIP, /^10\.188\.(1[2-9]\d|2[0-5]\d)\.\d+$/));
  });
});
