import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ContainerPort, Namespace, Pod } from "kubernetes-types/core/v1.js";
import type { NetworkPolicy } from "kubernetes-types/networking/v1.js";
import { compilePolicies, DENY_RULE, EGRESS_ISOLATED_SET, effectivePolicyTypes, INGRESS_ISOLATED_SET, type PolicyInputs, policyId } from "./compile.js";

const NODE = "n1";

function pod(ns: string, name: string, ip: string | undefined, labels: Record<string, string>, extra: { node?: string; ports?: ContainerPort[]; hostNetwork?: boolean; phase?: string } = {}): Pod {
  return {
    metadata: { namespace: ns, name, labels },
    spec: { nodeName: extra.node ?? NODE, hostNetwork: extra.hostNetwork, containers: [{ name: "c", ports: extra.ports }] },
    status: { phase: extra.phase ?? "Running", podIP: ip, podIPs: ip ? [{ ip }] : undefined },
  };
}

function ns(name: string, labels: Record<string, string> = {}): Namespace {
  return { metadata: { name, labels: { "kubernetes.io/metadata.name": name, ...labels } } };
}

function np(namespace: string, name: string, spec: NetworkPolicy["spec"]): NetworkPolicy {
  return { metadata: { namespace, name }, spec };
}

const PODS = [
  pod("prod", "web", "10.1.0.2", { app: "web" }, { ports: [{ name: "http", containerPort: 8080 }, { name: "dns", containerPort: 53, protocol: "UDP" }] }),
  pod("prod", "web2", "10.1.0.5", { app: "web" }, { ports: [{ name: "http", containerPort: 9090 }] }),
  pod("prod", "client", "10.1.0.3", { app: "client" }),
  pod("dev", "client", "10.1.0.4", { app: "client" }),
  pod("prod", "remote-web", "10.1.1.2", { app: "web" }, { node: "n2", ports: [{ name: "http", containerPort: 7070 }] }),
  pod("prod", "host", "192.168.0.1", { app: "web" }, { hostNetwork: true }),
  pod("prod", "done", "10.1.0.9", { app: "web" }, { phase: "Succeeded" }),
  pod("prod", "pending", undefined, { app: "web" }),
];
const NAMESPACES = [ns("prod", { team: "prod" }), ns("dev", { team: "dev" })];

function compile(policies: NetworkPolicy[], over: Partial<PolicyInputs> = {}) {
  return compilePolicies({ pods: PODS, namespaces: NAMESPACES, policies, nodeName: NODE, ...over });
}

function elements(c: ReturnType<typeof compile>, set: string): readonly string[] | undefined {
  return c.ruleset.sets.get(set)?.elements;
}

describe("effectivePolicyTypes", () => {
  it("defaults to Ingress, plus Egress when there are egress rules; explicit types win", () => {
    assert.deepEqual(effectivePolicyTypes(np("a", "b", { podSelector: {} })), { ingress: true, egress: false });
    assert.deepEqual(effectivePolicyTypes(np("a", "b", { podSelector: {}, egress: [{}] })), { ingress: true, egress: true });
    assert.deepEqual(effectivePolicyTypes(np("a", "b", { podSelector: {}, ingress: [{}], policyTypes: ["Egress"] })), { ingress: false, egress: true });
  });
});

describe("compilePolicies", () => {
  it("without policies isolates nothing and keeps the deny rules unreachable", () => {
    const c = compile([]);
    assert.deepEqual(elements(c, INGRESS_ISOLATED_SET), []);
    assert.deepEqual(elements(c, EGRESS_ISOLATED_SET), []);
    assert.deepEqual(c.ruleset.chains.get("pod_ingress"), [DENY_RULE]);
    assert.deepEqual(c.warnings, []);
  });

  it("isolates only this node's running pods with an IP that the policy selects, host-network pods never", () => {
    const c = compile([np("prod", "deny", { podSelector: { matchLabels: { app: "web" } }, policyTypes: ["Ingress", "Egress"] })]);
    assert.deepEqual(elements(c, INGRESS_ISOLATED_SET), ["10.1.0.2", "10.1.0.5"]);
    assert.deepEqual(elements(c, EGRESS_ISOLATED_SET), ["10.1.0.2", "10.1.0.5"]);
    // No rules: nothing to jump to, everything ends at the reject.
    assert.deepEqual(c.ruleset.chains.get("pod_ingress"), [DENY_RULE]);
    assert.equal(c.ruleset.sets.has(`${policyId("prod", "deny")}_pods`), false);
  });

  it("an empty podSelector selects the whole namespace", () => {
    const c = compile([np("dev", "deny", { podSelector: {} })]);
    assert.deepEqual(elements(c, INGRESS_ISOLATED_SET), ["10.1.0.4"]);
    assert.deepEqual(elements(c, EGRESS_ISOLATED_SET), []);
  });

  it("allows the union of every selecting policy: one jump per policy, each to its own chain", () => {
    const a = policyId("prod", "a");
    const b = policyId("prod", "b");
    const c = compile([
      np("prod", "b", { podSelector: { matchLabels: { app: "web" } }, ingress: [{ ports: [{ port: 80 }] }] }),
      np("prod", "a", { podSelector: {}, ingress: [{ from: [{ podSelector: { matchLabels: { app: "client" } } }] }] }),
    ]);
    assert.deepEqual(c.ruleset.chains.get("pod_ingress"), [
      `ip daddr @${a}_pods jump ${a}_ingress comment "prod/a"`,
      `ip daddr @${b}_pods jump ${b}_ingress comment "prod/b"`,
      DENY_RULE,
    ]);
    assert.deepEqual(elements(c, `${a}_pods`), ["10.1.0.2", "10.1.0.3", "10.1.0.5"]);
    assert.deepEqual(elements(c, `${b}_pods`), ["10.1.0.2", "10.1.0.5"]);
    assert.deepEqual(c.ruleset.chains.get(`${a}_ingress`), [`ip saddr @${a}_i0_peers accept`]);
    assert.deepEqual(c.ruleset.chains.get(`${b}_ingress`), ["meta l4proto tcp th dport 80 accept"]);
  });

  it("resolves peers: podSelector in the policy's namespace, namespaceSelector, both, ipBlock minus except", () => {
    const id = policyId("prod", "p");
    const c = compile([
      np("prod", "p", {
        podSelector: { matchLabels: { app: "web" } },
        ingress: [
          { from: [{ podSelector: { matchLabels: { app: "client" } } }] },
          { from: [{ namespaceSelector: { matchLabels: { team: "dev" } } }] },
          { from: [{ namespaceSelector: {}, podSelector: { matchLabels: { app: "web" } } }] },
          { from: [{ ipBlock: { cidr: "192.0.2.0/24", except: ["192.0.2.128/25"] } }, { podSelector: { matchLabels: { app: "client" } } }] },
          {},
        ],
      }),
    ]);
    assert.deepEqual(elements(c, `${id}_i0_peers`), ["10.1.0.3"]);
    assert.deepEqual(elements(c, `${id}_i1_peers`), ["10.1.0.4"]);
    // Pods anywhere in the cluster, on any node; never host-network or finished ones.
    assert.deepEqual(elements(c, `${id}_i2_peers`), ["10.1.0.2", "10.1.0.5", "10.1.1.2"]);
    assert.deepEqual(elements(c, `${id}_i3_peers`), ["10.1.0.3", "192.0.2.0/25"]);
    assert.deepEqual(c.ruleset.chains.get(`${id}_ingress`), [
      `ip saddr @${id}_i0_peers accept`,
      `ip saddr @${id}_i1_peers accept`,
      `ip saddr @${id}_i2_peers accept`,
      `ip saddr @${id}_i3_peers accept`,
      "accept",
    ]);
  });

  it("matches namespaces the informer has not delivered yet by their name label only", () => {
    const id = policyId("prod", "p");
    const spec = { podSelector: {}, ingress: [{ from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "dev" } } }] }] };
    assert.deepEqual(elements(compile([np("prod", "p", spec)], { namespaces: [] }), `${id}_i0_peers`), ["10.1.0.4"]);
    const team = { podSelector: {}, ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: "dev" } } }] }] };
    assert.deepEqual(elements(compile([np("prod", "p", team)], { namespaces: [] }), `${id}_i0_peers`), []);
  });

  it("compiles ports: numbers, ranges, protocols, protocol only", () => {
    const id = policyId("prod", "p");
    const c = compile([
      np("prod", "p", {
        podSelector: {},
        ingress: [{ ports: [{ port: 80 }, { protocol: "UDP", port: 5000, endPort: 5100 }, { protocol: "SCTP" }, { port: 443, endPort: 443 }] }],
      }),
    ]);
    assert.deepEqual(c.ruleset.chains.get(`${id}_ingress`), [
      "meta l4proto tcp th dport 80 accept",
      "meta l4proto udp th dport 5000-5100 accept",
      "meta l4proto sctp accept",
      "meta l4proto tcp th dport 443 accept",
    ]);
  });

  it("resolves a named ingress port against each selected local pod's containerPorts (name and protocol)", () => {
    const id = policyId("prod", "p");
    const c = compile([np("prod", "p", { podSelector: { matchLabels: { app: "web" } }, ingress: [{ from: [{ podSelector: {} }], ports: [{ port: "http" }, { protocol: "UDP", port: "dns" }, { port: "dns" }] }] })]);
    assert.deepEqual(c.ruleset.chains.get(`${id}_ingress`), [
      `ip saddr @${id}_i0_peers ip daddr . meta l4proto . th dport @${id}_i0_p0 accept`,
      `ip saddr @${id}_i0_peers ip daddr . meta l4proto . th dport @${id}_i0_p1 accept`,
      `ip saddr @${id}_i0_peers ip daddr . meta l4proto . th dport @${id}_i0_p2 accept`,
    ]);
    assert.deepEqual(elements(c, `${id}_i0_p0`), ["10.1.0.2 . tcp . 8080", "10.1.0.5 . tcp . 9090"]);
    assert.deepEqual(elements(c, `${id}_i0_p1`), ["10.1.0.2 . udp . 53"]);
    // "dns" is a UDP port: a TCP named port of that name resolves to nothing.
    assert.deepEqual(elements(c, `${id}_i0_p2`), []);
  });

  it("resolves a named egress port against every destination pod of the cluster", () => {
    const id = policyId("prod", "p");
    const c = compile([np("prod", "p", { podSelector: { matchLabels: { app: "client" } }, egress: [{ ports: [{ port: "http" }] }] })]);
    assert.deepEqual(elements(c, EGRESS_ISOLATED_SET), ["10.1.0.3"]);
    assert.deepEqual(elements(c, INGRESS_ISOLATED_SET), ["10.1.0.3"]);
    assert.deepEqual(c.ruleset.chains.get("pod_egress")?.[0], `ip saddr @${id}_pods jump ${id}_egress comment "prod/p"`);
    assert.deepEqual(elements(c, `${id}_e0_p0`), ["10.1.0.2 . tcp . 8080", "10.1.0.5 . tcp . 9090", "10.1.1.2 . tcp . 7070"]);
  });

  it("keeps every rule's text when pods come and go: churn only changes set elements", () => {
    const policies = [np("prod", "p", { podSelector: { matchLabels: { app: "web" } }, ingress: [{ from: [{ podSelector: { matchLabels: { app: "client" } } }], ports: [{ port: "http" }] }] })];
    const before = compile(policies);
    const after = compile(policies, { pods: [...PODS, pod("prod", "client2", "10.1.0.7", { app: "client" }), pod("prod", "web3", "10.1.0.8", { app: "web" }, { ports: [{ name: "http", containerPort: 1 }] })] });
    assert.deepEqual([...after.ruleset.chains], [...before.ruleset.chains]);
    const id = policyId("prod", "p");
    assert.deepEqual(elements(after, `${id}_i0_peers`), ["10.1.0.3", "10.1.0.7"]);
    assert.deepEqual(elements(after, `${id}_i0_p0`), ["10.1.0.2 . tcp . 8080", "10.1.0.5 . tcp . 9090", "10.1.0.8 . tcp . 1"]);
  });

  it("reports what it cannot enforce instead of guessing", () => {
    const id = policyId("prod", "p");
    const c = compile([
      np("prod", "p", {
        podSelector: {},
        ingress: [
          { from: [{ ipBlock: { cidr: "fd00::/64" } }, { ipBlock: { cidr: "10.9.0.0/16", except: ["bogus"] } }], ports: [{ protocol: "ICMP", port: 1 }, { port: 90, endPort: 80 }] },
          { from: [{}] },
          { from: [{ podSelector: { matchExpressions: [{ key: "a", operator: "Bogus" }] } }] },
        ],
      }),
    ]);
    assert.deepEqual(c.warnings, [
      "NetworkPolicy prod/p: spec.ingress[0].from[0].ipBlock.cidr: IPv6 CIDR fd00::/64 is not supported (skiff's pod network is IPv4 only); the peer matches nothing",
      "NetworkPolicy prod/p: spec.ingress[0].from[1].ipBlock.except[0]: invalid CIDR address: bogus; ignored",
      'NetworkPolicy prod/p: spec.ingress[0].ports[0]: unsupported protocol "ICMP": supported values: "SCTP", "TCP", "UDP"',
      "NetworkPolicy prod/p: spec.ingress[0].ports[1]: endPort 80 is less than port 90; the entry allows nothing",
      "NetworkPolicy prod/p: spec.ingress[1].from[0]: must specify a peer (podSelector, namespaceSelector or ipBlock); the peer matches nothing",
      'NetworkPolicy prod/p: spec.ingress[2].from[0].podSelector: "Bogus" is not a valid label selector operator; it selects nothing',
    ]);
    assert.deepEqual(elements(c, `${id}_i0_peers`), ["10.9.0.0/16"]);
    assert.deepEqual(elements(c, `${id}_i1_peers`), []);
    // Both port entries were dropped: the rule allows nothing rather than every port.
    assert.deepEqual(c.ruleset.chains.get(`${id}_ingress`), [`ip saddr @${id}_i1_peers accept`, `ip saddr @${id}_i2_peers accept`]);
  });
});
