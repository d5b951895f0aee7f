import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { makeEndpoint, makeService, makeSlice } from "./fake-source.js";
import { deleteChainsScript, diffScript, fullScript } from "./nft-script.js";
import { buildServiceRules, emptyRules } from "./rules.js";

const ctx = { nodeName: "n1", nodeIPs: ["192.0.2.1"], clusterCidr: "10.42.0.0/16" };
const T = "skiff_proxy_t";
const svc = makeService("ns1", "svc1", "172.30.0.41", [{ name: "p80", port: 80, protocol: "TCP" }]);
const slice = (...ips: string[]) => makeSlice("ns1", "svc1-x", "svc1", [{ name: "p80", port: 80 }], ips.map((ip) => makeEndpoint(ip, "n1")));
const rules = (...ips: string[]) => buildServiceRules(svc, [slice(...ips)], ctx);
const SVC = "service-ULMVA6XW-ns1/svc1/tcp/p80";
const EP1 = "endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80";

describe("full script", () => {
  it("replaces the table in one transaction with upstream's base chains and maps", () => {
    const s = fullScript({ table: T, nodePorts: { matchAll: false, ips: ["192.0.2.1"] } }, [rules("10.180.0.1")]);
    const lines = s.split("\n");
    assert.deepEqual(lines.slice(0, 3), [`table ip ${T} {}`, `delete table ip ${T}`, `table ip ${T} {`]);
    assert.ok(lines.includes("  set nodeport-ips { type ipv4_addr; elements = { 192.0.2.1 }; }"));
    assert.ok(lines.includes('  map service-ips { type ipv4_addr . inet_proto . inet_service : verdict; elements = { 172.30.0.41 . tcp . 80 comment "ns1/svc1:p80" : goto service-ULMVA6XW-ns1/svc1/tcp/p80 }; }'));
    assert.ok(lines.includes("    type nat hook prerouting priority -100; policy accept;"));
    assert.ok(lines.includes("    type nat hook postrouting priority 100; policy accept;"));
    assert.ok(lines.includes("    type filter hook output priority -90; policy accept;"));
    assert.ok(lines.includes("    ip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports"));
    assert.ok(lines.includes(`  chain ${EP1} {`));
    const all = fullScript({ table: T, nodePorts: { matchAll: true }, serviceCidr: "10.43.0.0/16" }, []);
    assert.ok(all.includes("    fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @service-nodeports"));
    assert.ok(all.includes('    ip daddr 10.43.0.0/16 reject with icmp type admin-prohibited comment "Reject traffic to unallocated ClusterIPs"'));
    assert.ok(!all.includes("nodeport-ips"));
  });
});

describe("diff script", () => {
  it("is empty when nothing changed", () => {
    assert.deepEqual(diffScript(T, [{ old: rules("10.180.0.1"), new: rules("10.180.0.1") }]), { script: "", changes: 0, staleChains: [], addedChains: [] });
  });

  it("adds an endpoint: one new chain, the service chain refilled, no map element touched", () => {
    const d = diffScript(T, [{ old: rules("10.180.0.1"), new: rules("10.180.0.1", "10.180.0.2") }]);
    const ep2 = d.addedChains[0] as string;
    assert.match(ep2, /^endpoint-[A-Z2-7]{8}-ns1\/svc1\/tcp\/p80__10\.180\.0\.2\/80$/);
    assert.equal(
      d.script,
      [
        `add chain ip ${T} ${ep2}`,
        `flush chain ip ${T} ${SVC}`,
        `add rule ip ${T} ${SVC} ip daddr 172.30.0.41 tcp dport 80 ip saddr != 10.42.0.0/16 jump mark-for-masquerade`,
        `add rule ip ${T} ${SVC} numgen random mod 2 vmap { 0 : goto ${EP1}, 1 : goto ${ep2} }`,
        `add rule ip ${T} ${ep2} ip saddr 10.180.0.2 jump mark-for-masquerade`,
        `add rule ip ${T} ${ep2} meta l4proto tcp dnat to 10.180.0.2:80`,
        "",
      ].join("\n"),
    );
    assert.equal(d.changes, 2);
  });

  it("removes the last endpoint: the service turns to the reject map, its chains go stale", () => {
    const d = diffScript(T, [{ old: rules("10.180.0.1"), new: rules() }]);
    assert.equal(
      d.script,
      [
        `flush chain ip ${T} ${SVC}`,
        `flush chain ip ${T} ${EP1}`,
        `delete element ip ${T} service-ips { 172.30.0.41 . tcp . 80 }`,
        `add element ip ${T} no-endpoint-services { 172.30.0.41 . tcp . 80 comment "ns1/svc1:p80" : goto reject-chain }`,
        "",
      ].join("\n"),
    );
    assert.deepEqual(d.staleChains, [SVC, EP1]);
    assert.equal(deleteChainsScript(T, d.staleChains), `delete chain ip ${T} ${SVC}\ndelete chain ip ${T} ${EP1}\n`);
  });

  it("replaces a map element whose verdict changed (delete, then add)", () => {
    const local = makeService("ns1", "svc1", "172.30.0.41", [{ name: "p80", port: 80 }], { internalTrafficPolicy: "Local" });
    const d = diffScript(T, [{ old: rules("10.180.0.1"), new: buildServiceRules(local, [slice("10.180.0.1")], ctx) }]);
    const lines = d.script.split("\n");
    const del = lines.indexOf(`delete element ip ${T} service-ips { 172.30.0.41 . tcp . 80 }`);
    const add = lines.findIndex((l) => l.startsWith(`add element ip ${T} service-ips { 172.30.0.41 . tcp . 80 comment "ns1/svc1:p80" : goto local-`));
    assert.ok(del >= 0 && add > del, d.script);
  });

  it("re-creates an affinity set whose timeout changed, refilling the chains that name it first", () => {
    const sticky = (t: number) =>
      buildServiceRules(
        makeService("ns1", "svc1", "172.30.0.41", [{ name: "p80", port: 80 }], { sessionAffinity: "ClientIP", sessionAffinityConfig: { clientIP: { timeoutSeconds: t } } }),
        [slice("10.180.0.1")],
        ctx,
      );
    const lines = diffScript(T, [{ old: sticky(60), new: sticky(120) }]).script.split("\n");
    const set = "affinity-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80";
    const flushEp = lines.indexOf(`flush chain ip ${T} ${EP1}`);
    const del = lines.indexOf(`delete set ip ${T} ${set}`);
    const add = lines.indexOf(`add set ip ${T} ${set} { type ipv4_addr; flags dynamic,timeout; timeout 120s; }`);
    const rule = lines.indexOf(`add rule ip ${T} ${EP1} update @${set} { ip saddr }`);
    assert.ok(flushEp >= 0 && flushEp < del && del < add && add < rule, lines.join("\n"));
    assert.ok(lines.includes(`flush chain ip ${T} ${SVC}`));
  });

  it("cuts element comments to the 128 characters nft accepts", () => {
    const long = makeService("n".repeat(63), "s".repeat(63), "10.43.0.1", [{ name: "p".repeat(15), port: 80 }]);
    const d = diffScript(T, [{ old: emptyRules(), new: buildServiceRules(long, [], ctx) }]);
    const comment = /comment "([^"]*)"/.exec(d.script)?.[1] ?? "";
    assert.equal(comment.length, 128);
    assert.ok(`${"n".repeat(63)}/${"s".repeat(63)}:${"p".repeat(15)}`.startsWith(comment));
  });

  it("deletes everything a deleted service owned", () => {
    const d = diffScript(T, [{ old: rules("10.180.0.1"), new: emptyRules() }]);
    assert.ok(d.script.includes(`delete element ip ${T} cluster-ips { 172.30.0.41 }`));
    assert.ok(d.script.includes(`delete element ip ${T} service-ips { 172.30.0.41 . tcp . 80 }`));
    assert.deepEqual(d.staleChains, [SVC, EP1]);
  });
});
