import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { NftSetSpec, PolicyRuleset } from "./compile.js";
import { deleteTableScript, diffScript, EMPTY_RULESET, fullScript, policyTableName } from "./nft-script.js";

const T = "skiff_policy_cni0";

function rs(sets: Record<string, NftSetSpec>, chains: Record<string, string[]>): PolicyRuleset {
  return { sets: new Map(Object.entries(sets)), chains: new Map(Object.entries(chains)) };
}
const ip = (...elements: string[]): NftSetSpec => ({ type: "ipv4_addr", interval: false, elements });
const ranges = (...elements: string[]): NftSetSpec => ({ type: "ipv4_addr", interval: true, elements });

const BASE = rs(
  { ingress_isolated: ip("10.0.0.2"), p1_pods: ip("10.0.0.2"), p1_i0_peers: ranges("10.0.0.3") },
  { pod_ingress: ["ip daddr @p1_pods jump p1_ingress", "reject"], p1_ingress: ["ip saddr @p1_i0_peers accept"] },
);

describe("policyTableName", () => {
  it("derives an nft-safe name from the bridge", () => {
    assert.equal(policyTableName("cni0"), "skiff_policy_cni0");
    assert.equal(policyTableName("skiff-br.1"), "skiff_policy_skiff_br_1");
  });
});

describe("fullScript", () => {
  it("replaces the table in one transaction: sets and chains first, base chains hooked last", () => {
    const s = fullScript(T, BASE).split("\n");
    assert.deepEqual(s.slice(0, 3), [`add table inet ${T}`, `delete table inet ${T}`, `add table inet ${T}`]);
    assert.ok(s.includes(`add set inet ${T} p1_i0_peers { type ipv4_addr; flags interval; }`));
    assert.ok(s.includes(`add element inet ${T} ingress_isolated { 10.0.0.2 }`));
    assert.ok(s.includes(`add rule inet ${T} p1_ingress ip saddr @p1_i0_peers accept`));
    assert.ok(s.includes(`add chain inet ${T} forward_to_pods { type filter hook forward priority filter; policy accept; }`));
    assert.ok(s.includes(`add chain inet ${T} input_from_pods { type filter hook input priority filter; policy accept; }`));
    assert.ok(s.indexOf(`add rule inet ${T} forward_to_pods ct state established,related accept`) < s.indexOf(`add rule inet ${T} forward_to_pods ip daddr @ingress_isolated jump pod_ingress`));
    assert.ok(s.indexOf(`add chain inet ${T} p1_ingress`) < s.indexOf(`add rule inet ${T} pod_ingress ip daddr @p1_pods jump p1_ingress`));
  });

  it("deletes the table harmlessly when it is missing", () => {
    assert.equal(deleteTableScript(T), `add table inet ${T}\ndelete table inet ${T}\n`);
  });
});

describe("diffScript", () => {
  it("is empty when nothing changed", () => {
    assert.equal(diffScript(T, BASE, BASE), "");
    assert.equal(diffScript(T, EMPTY_RULESET, EMPTY_RULESET), "");
  });

  it("turns pod churn into element adds and deletes only, deletes first", () => {
    const next = rs(
      { ingress_isolated: ip("10.0.0.2", "10.0.0.5"), p1_pods: ip("10.0.0.2", "10.0.0.5"), p1_i0_peers: ranges("10.0.0.3-10.0.0.4") },
      Object.fromEntries(BASE.chains) as Record<string, string[]>,
    );
    assert.equal(
      diffScript(T, BASE, next),
      [
        `add element inet ${T} ingress_isolated { 10.0.0.5 }`,
        `add element inet ${T} p1_pods { 10.0.0.5 }`,
        `delete element inet ${T} p1_i0_peers { 10.0.0.3 }`,
        `add element inet ${T} p1_i0_peers { 10.0.0.3-10.0.0.4 }`,
        "",
      ].join("\n"),
    );
  });

  it("rebuilds only a changed chain", () => {
    const next = rs(Object.fromEntries(BASE.sets), { pod_ingress: BASE.chains.get("pod_ingress") as string[], p1_ingress: ["ip saddr @p1_i0_peers meta l4proto tcp th dport 80 accept"] });
    assert.equal(diffScript(T, BASE, next), [`flush chain inet ${T} p1_ingress`, `add rule inet ${T} p1_ingress ip saddr @p1_i0_peers meta l4proto tcp th dport 80 accept`, ""].join("\n"));
  });

  it("removes a policy: unhooks it from the dispatch chain before deleting its chain and sets", () => {
    const next = rs({ ingress_isolated: ip() }, { pod_ingress: ["reject"] });
    assert.equal(
      diffScript(T, BASE, next),
      [
        `flush chain inet ${T} pod_ingress`,
        `flush chain inet ${T} p1_ingress`,
        `delete chain inet ${T} p1_ingress`,
        `delete set inet ${T} p1_pods`,
        `delete set inet ${T} p1_i0_peers`,
        `delete element inet ${T} ingress_isolated { 10.0.0.2 }`,
        `add rule inet ${T} pod_ingress reject`,
        "",
      ].join("\n"),
    );
  });

  it("adds a policy: sets and chains exist before the rules naming them", () => {
    const next = rs(
      { ...Object.fromEntries(BASE.sets), p2_pods: ip("10.0.0.2"), p2_e0_p0: { type: "ipv4_addr . inet_proto . inet_service", interval: false, elements: ["10.0.0.9 . tcp . 8080"] } },
      { ...(Object.fromEntries(BASE.chains) as Record<string, string[]>), pod_egress: ["ip saddr @p2_pods jump p2_egress", "reject"], p2_egress: ["ip daddr . meta l4proto . th dport @p2_e0_p0 accept"] },
    );
    const lines = diffScript(T, BASE, next).trim().split("\n");
    assert.deepEqual(lines, [
      `add set inet ${T} p2_pods { type ipv4_addr; }`,
      `add element inet ${T} p2_pods { 10.0.0.2 }`,
      `add set inet ${T} p2_e0_p0 { type ipv4_addr . inet_proto . inet_service; }`,
      `add element inet ${T} p2_e0_p0 { 10.0.0.9 . tcp . 8080 }`,
      `add chain inet ${T} pod_egress`,
      `add chain inet ${T} p2_egress`,
      `add rule inet ${T} pod_egress ip saddr @p2_pods jump p2_egress`,
      `add rule inet ${T} pod_egress reject`,
      `add rule inet ${T} p2_egress ip daddr . meta l4proto . th dport @p2_e0_p0 accept`,
    ]);
  });
});
