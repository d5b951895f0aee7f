import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Service } from "kubernetes-types/core/v1.js";
import type { EndpointSlice } from "kubernetes-types/discovery/v1.js";
import { silentLogger } from "../../machinery/log.js";
import { FakeSource, makeEndpoint, makeService, makeSlice } from "./fake-source.js";
import { IptablesBackend } from "./iptables-backend.js";
import { base32Hash, endpointChain, iptablesChainPrefix, MAX_CHAIN_NAME, servicePortChains } from "./iptables-names.js";
import { iptablesRulesFromModels } from "./iptables-rules.js";
import type { IptablesRunner } from "./iptables-runner.js";
import { cleanupRestore, fullRestore, type IptablesConfig, incrementalRestore, parseSaved } from "./iptables-script.js";
import { serviceModel } from "./model.js";
import { chooseProxyMode, parseProxyMode } from "./proxy-mode.js";
import { ServiceProxy, type SyncReport } from "./service-proxy.js";

const P = "SKIFF-T3ST-";
const ctx = { prefix: P, nodeIPs: ["192.0.2.1"], clusterCidr: "10.42.0.0/16" };
const cfg: IptablesConfig = { prefix: P, node: "n1, bridge cni0", nodePorts: { matchAll: false, ips: ["192.0.2.1"] } };
const p80 = { namespace: "ns1", name: "svc1", port: "p80", protocol: "tcp" };
const H = base32Hash("ns1/svc1:p80tcp", 13);

function rules(svc: Service, slices: EndpointSlice[]) {
  return iptablesRulesFromModels(serviceModel(svc, slices, { nodeName: "n1" }), ctx);
}
const svc1 = (spec: Service["spec"] = {}, status?: Service["status"]) =>
  makeService("ns1", "svc1", "172.30.0.41", [{ name: "p80", port: 80, protocol: "TCP", targetPort: 8080, ...(spec?.type === "NodePort" || spec?.type === "LoadBalancer" ? { nodePort: 30080 } : {}) }], spec, status);
const slice1 = (...eps: ReturnType<typeof makeEndpoint>[]) => makeSlice("ns1", "svc1-a", "svc1", [{ name: "p80", port: 80 }], eps);

describe("iptables chain names", () => {
  it("use upstream's hashes behind a per-node prefix, within iptables' 28 characters", () => {
    // Upstream's proxier tests name these KUBE-SVC-XPGD46QRK7WJZT7O and KUBE-SEP-SXIVWICOYRO3J4NJ.
    assert.equal(base32Hash("ns1/svc1:p80tcp", 16), "XPGD46QRK7WJZT7O");
    assert.equal(endpointChain(P, p80, "10.180.0.1:80"), `${P}SEP-SXIVWICOYRO3J`);
    assert.equal(servicePortChains(P, p80).svc, `${P}SVC-XPGD46QRK7WJZ`);
    assert.match(iptablesChainPrefix("cni0"), /^SKIFF-[A-Z2-7]{4}-$/);
    assert.notEqual(iptablesChainPrefix("cni0"), iptablesChainPrefix("cni1"));
    const long = { namespace: "a".repeat(63), name: "b".repeat(63), port: "c".repeat(15), protocol: "sctp" };
    const c = servicePortChains(iptablesChainPrefix("x"), long);
    for (const n of [c.svc, c.svl, c.ext, c.fw, endpointChain(iptablesChainPrefix("x"), long, "10.0.0.1:65535"), `${P}EXTERNAL-SERVICES`]) {
      assert.ok(n.length <= MAX_CHAIN_NAME, n);
    }
  });
});

describe("iptables rules of a Service", () => {
  it("load balance a ClusterIP with statistic over KUBE-SEP chains that masquerade hairpin traffic", () => {
    const r = rules(svc1(), [slice1(makeEndpoint("10.180.0.1", "n1"), makeEndpoint("10.180.0.2", "n2"))]);
    const sep1 = endpointChain(P, p80, "10.180.0.1:80");
    const sep2 = endpointChain(P, p80, "10.180.0.2:80");
    assert.deepEqual(r.natShared, [`-A ${P}SERVICES -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41/32 --dport 80 -j ${P}SVC-${H}`]);
    assert.deepEqual(r.filterShared, []);
    assert.deepEqual(Object.fromEntries(r.natChains), {
      [`${P}SVC-${H}`]: [
        `-A ${P}SVC-${H} -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41/32 --dport 80 ! -s 10.42.0.0/16 -j ${P}MARK-MASQ`,
        `-A ${P}SVC-${H} -m comment --comment "ns1/svc1:p80 -> 10.180.0.1:80" -m statistic --mode random --probability 0.5000000000 -j ${sep1}`,
        `-A ${P}SVC-${H} -m comment --comment "ns1/svc1:p80 -> 10.180.0.2:80" -j ${sep2}`,
      ],
      [sep1]: [
        `-A ${sep1} -m comment --comment "ns1/svc1:p80" -s 10.180.0.1/32 -j ${P}MARK-MASQ`,
        `-A ${sep1} -m comment --comment "ns1/svc1:p80" -m tcp -p tcp -j DNAT --to-destination 10.180.0.1:80`,
      ],
      [sep2]: [
        `-A ${sep2} -m comment --comment "ns1/svc1:p80" -s 10.180.0.2/32 -j ${P}MARK-MASQ`,
        `-A ${sep2} -m comment --comment "ns1/svc1:p80" -m tcp -p tcp -j DNAT --to-destination 10.180.0.2:80`,
      ],
    });
  });

  it("keeps ClientIP affinity with a recent list per endpoint", () => {
    const r = rules(svc1({ sessionAffinity: "ClientIP", sessionAffinityConfig: { clientIP: { timeoutSeconds: 600 } } }), [slice1(makeEndpoint("10.180.0.1", "n1"))]);
    const sep = endpointChain(P, p80, "10.180.0.1:80");
    const svc = r.natChains.get(`${P}SVC-${H}`) ?? [];
    assert.equal(svc[1], `-A ${P}SVC-${H} -m comment --comment "ns1/svc1:p80" -m recent --name ${sep} --mask 255.255.255.255 --rsource --rcheck --seconds 600 --reap -j ${sep}`);
    assert.equal(
      r.natChains.get(sep)?.[1],
      `-A ${sep} -m comment --comment "ns1/svc1:p80" -m recent --set --name ${sep} --mask 255.255.255.255 --rsource -m tcp -p tcp -j DNAT --to-destination 10.180.0.1:80`,
    );
  });

  it("rejects a Service without endpoints in filter, and drops when a Local policy has no local endpoint", () => {
    const none = rules(svc1({ type: "NodePort" }), []);
    assert.deepEqual(none.natChains.size, 0);
    assert.deepEqual(none.natShared, []);
    assert.deepEqual(none.filterShared, [
      `-A ${P}SERVICES -m comment --comment "ns1/svc1:p80 has no endpoints" -m tcp -p tcp -d 172.30.0.41/32 --dport 80 -j REJECT`,
      `-A ${P}EXTERNAL-SERVICES -m comment --comment "ns1/svc1:p80 has no endpoints" -m addrtype --dst-type LOCAL -m tcp -p tcp --dport 30080 -j REJECT`,
    ]);
    const remote = rules(svc1({ type: "NodePort", externalTrafficPolicy: "Local" }), [slice1(makeEndpoint("10.180.0.2", "n2"))]);
    assert.deepEqual(remote.filterShared, [
      `-A ${P}EXTERNAL-SERVICES -m comment --comment "ns1/svc1:p80 has no local endpoints" -m addrtype --dst-type LOCAL -m tcp -p tcp --dport 30080 -j DROP`,
    ]);
    // Pods and the node itself still reach it through the Cluster policy.
    assert.deepEqual(remote.natChains.get(`${P}EXT-${H}`), [
      `-A ${P}EXT-${H} -m comment --comment "pod traffic for ns1/svc1:p80 external destinations" -s 10.42.0.0/16 -j ${P}SVC-${H}`,
      `-A ${P}EXT-${H} -m comment --comment "masquerade LOCAL traffic for ns1/svc1:p80 external destinations" -m addrtype --src-type LOCAL -j ${P}MARK-MASQ`,
      `-A ${P}EXT-${H} -m comment --comment "route LOCAL traffic for ns1/svc1:p80 external destinations" -m addrtype --src-type LOCAL -j ${P}SVC-${H}`,
    ]);
  });

  it("sends NodePorts through KUBE-EXT, masqueraded under the Cluster policy", () => {
    const r = rules(svc1({ type: "NodePort" }), [slice1(makeEndpoint("10.180.0.1", "n1"))]);
    assert.ok(r.natShared.includes(`-A ${P}NODEPORTS -m comment --comment "ns1/svc1:p80" -m tcp -p tcp --dport 30080 -j ${P}EXT-${H}`));
    assert.deepEqual(r.natChains.get(`${P}EXT-${H}`), [
      `-A ${P}EXT-${H} -m comment --comment "masquerade traffic for ns1/svc1:p80 external destinations" -j ${P}MARK-MASQ`,
      `-A ${P}EXT-${H} -j ${P}SVC-${H}`,
    ]);
  });

  it("filters load-balancer sources through KUBE-FW and drops the rest in KUBE-PROXY-FIREWALL", () => {
    const r = rules(svc1({ type: "LoadBalancer", loadBalancerSourceRanges: ["203.0.113.0/24", "192.0.2.0/24"] }, { loadBalancer: { ingress: [{ ip: "198.51.100.7" }] } }), [
      slice1(makeEndpoint("10.180.0.1", "n1")),
    ]);
    assert.ok(r.natShared.includes(`-A ${P}SERVICES -m comment --comment "ns1/svc1:p80 loadbalancer IP" -m tcp -p tcp -d 198.51.100.7/32 --dport 80 -j ${P}FW-${H}`));
    assert.deepEqual(r.natChains.get(`${P}FW-${H}`), [
      `-A ${P}FW-${H} -m comment --comment "ns1/svc1:p80 loadbalancer IP" -s 203.0.113.0/24 -j ${P}EXT-${H}`,
      `-A ${P}FW-${H} -m comment --comment "ns1/svc1:p80 loadbalancer IP" -s 192.0.2.0/24 -j ${P}EXT-${H}`,
      // The node (192.0.2.1) is in a range: its own connections come from the load-balancer IP.
      `-A ${P}FW-${H} -m comment --comment "ns1/svc1:p80 loadbalancer IP" -s 198.51.100.7/32 -j ${P}EXT-${H}`,
    ]);
    assert.deepEqual(r.filterShared, [
      `-A ${P}PROXY-FIREWALL -m comment --comment "ns1/svc1:p80 traffic not accepted by ${P}FW-${H}" -m tcp -p tcp -d 198.51.100.7/32 --dport 80 -j DROP`,
    ]);
  });
});

describe("iptables-restore input", () => {
  const withEps = rules(svc1({ type: "NodePort" }), [slice1(makeEndpoint("10.180.0.1", "n1"), makeEndpoint("10.180.0.2", "n1"))]);
  const oneEp = rules(svc1({ type: "NodePort" }), [slice1(makeEndpoint("10.180.0.2", "n1"))]);
  const saved = {
    filter: parseSaved(
      [
        "*filter",
        ":INPUT ACCEPT [0:0]",
        `:${P}SERVICES - [0:0]`,
        `:${P}OLD - [0:0]`,
        ":CNI-FORWARD - [0:0]",
        `-A INPUT -m conntrack --ctstate NEW -m comment --comment "old (skiff node n1, bridge cni0)" -j ${P}PROXY-FIREWALL`,
        "-A FORWARD -m comment --comment \"CNI firewall plugin rules\" -j CNI-FORWARD",
        `-A ${P}SERVICES -j ${P}OLD`,
        "COMMIT",
      ].join("\n"),
      P,
    ),
    nat: parseSaved(["*nat", ":PREROUTING ACCEPT [0:0]", "-A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT", "COMMIT"].join("\n"), P),
  };

  it("finds only our chains and our jump rules in iptables-save output", () => {
    assert.deepEqual(saved.filter, {
      chains: [`${P}SERVICES`, `${P}OLD`],
      jumps: [`-A INPUT -m conntrack --ctstate NEW -m comment --comment "old (skiff node n1, bridge cni0)" -j ${P}PROXY-FIREWALL`],
    });
    assert.deepEqual(saved.nat, { chains: [], jumps: [] });
  });

  it("rewrites all of ours on a full restore: stale chains deleted, jumps deleted and inserted again", () => {
    const text = fullRestore(cfg, new Map([["ns1/svc1", withEps]]), saved);
    const lines = text.split("\n");
    const filter = lines.slice(0, lines.indexOf("COMMIT") + 1);
    assert.equal(filter[0], "*filter");
    assert.ok(filter.includes(`:${P}OLD - [0:0]`) && filter.includes(`-X ${P}OLD`), "a stale chain is flushed, then deleted");
    assert.ok(filter.indexOf(`-D INPUT -m conntrack --ctstate NEW -m comment --comment "old (skiff node n1, bridge cni0)" -j ${P}PROXY-FIREWALL`) < filter.indexOf(`-X ${P}OLD`));
    assert.ok(!filter.some((l) => l.includes("CNI-")), "other programs' rules are left alone");
    assert.deepEqual(
      filter.filter((l) => l.startsWith("-I ")),
      [
        `-I OUTPUT 1 -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals (skiff node n1, bridge cni0)" -j ${P}SERVICES`,
        `-I OUTPUT 1 -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall (skiff node n1, bridge cni0)" -j ${P}PROXY-FIREWALL`,
        `-I FORWARD 1 -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals (skiff node n1, bridge cni0)" -j ${P}EXTERNAL-SERVICES`,
        `-I FORWARD 1 -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals (skiff node n1, bridge cni0)" -j ${P}SERVICES`,
        `-I FORWARD 1 -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall (skiff node n1, bridge cni0)" -j ${P}PROXY-FIREWALL`,
        `-I INPUT 1 -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals (skiff node n1, bridge cni0)" -j ${P}EXTERNAL-SERVICES`,
        `-I INPUT 1 -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall (skiff node n1, bridge cni0)" -j ${P}PROXY-FIREWALL`,
      ],
    );
    const nat = lines.slice(lines.indexOf("*nat"));
    assert.ok(nat.includes(`-A ${P}POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully`));
    assert.ok(nat.includes(`-A ${P}MARK-MASQ -j MARK --or-mark 0x4000`));
    // The NodePort jump is the last rule of KUBE-SERVICES.
    const svcRules = nat.filter((l) => l.startsWith(`-A ${P}SERVICES `));
    assert.equal(svcRules.at(-1), `-A ${P}SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -d 192.0.2.1/32 -j ${P}NODEPORTS`);
    assert.ok(nat.includes(`:${P}SVC-${H} - [0:0]`));
    assert.equal(nat.at(-2), "COMMIT");
  });

  it("listens on every local address, 127.0.0.1 too, with matchAll, and guards localnet as upstream", () => {
    const text = fullRestore({ ...cfg, nodePorts: { matchAll: true }, serviceCidr: "172.30.0.0/16" }, new Map([["ns1/svc1", withEps]]), { filter: { chains: [], jumps: [] }, nat: { chains: [], jumps: [] } });
    assert.match(text, /-m addrtype --dst-type LOCAL -j SKIFF-T3ST-NODEPORTS\n/);
    assert.match(text, /-A SKIFF-T3ST-FIREWALL -d 127\.0\.0\.0\/8 ! -s 127\.0\.0\.0\/8 .* -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP/);
    assert.match(text, /-I INPUT 1 -m comment --comment "kubernetes firewall for dropping marked packets \(skiff node n1, bridge cni0\)" -j SKIFF-T3ST-FIREWALL/);
    assert.match(text, /-A SKIFF-T3ST-SERVICES -d 172\.30\.0\.0\/16 .* -j REJECT --reject-with icmp-admin-prohibited/);
  });

  it("refills only changed Service chains incrementally and deletes unused ones", () => {
    const sep1 = endpointChain(P, p80, "10.180.0.1:80");
    const sep2 = endpointChain(P, p80, "10.180.0.2:80");
    const r = incrementalRestore(cfg, new Map([["ns1/svc1", withEps]]), new Map([["ns1/svc1", oneEp]]));
    const lines = r.text.split("\n");
    assert.ok(lines.includes(`:${P}SVC-${H} - [0:0]`), "the service chain changed");
    assert.ok(lines.includes(`:${P}NODEPORTS - [0:0]`) && lines.includes(`:${P}SERVICES - [0:0]`), "shared chains are rebuilt");
    assert.ok(!lines.includes(`:${sep2} - [0:0]`), "an unchanged endpoint chain is left alone");
    assert.ok(!lines.includes(`:${P}EXT-${H} - [0:0]`));
    assert.ok(lines.includes(`:${sep1} - [0:0]`) && lines.includes(`-X ${sep1}`));
    assert.ok(!lines.some((l) => l.startsWith("-I ") || l.startsWith("-D ")), "jump rules are not touched");
    assert.equal(r.changes, 2);
    const gone = incrementalRestore(cfg, new Map([["ns1/svc1", withEps]]), new Map());
    assert.equal(gone.changes, 4);
    assert.doesNotMatch(gone.text, /^-A .*ns1\/svc1/m);
  });

  it("cleans up exactly what iptables-save shows of ours", () => {
    assert.equal(cleanupRestore({ filter: { chains: [], jumps: [] }, nat: { chains: [], jumps: [] } }), undefined);
    assert.equal(
      cleanupRestore(saved),
      [
        "*filter",
        `:${P}SERVICES - [0:0]`,
        `:${P}OLD - [0:0]`,
        `-D INPUT -m conntrack --ctstate NEW -m comment --comment "old (skiff node n1, bridge cni0)" -j ${P}PROXY-FIREWALL`,
        `-X ${P}SERVICES`,
        `-X ${P}OLD`,
        "COMMIT",
        "",
      ].join("\n"),
    );
  });
});

describe("iptables backend", () => {
  function fakeRunner(saveText: Record<string, string> = {}) {
    const restores: string[] = [];
    const sysctls: string[] = [];
    let fail = false;
    const runner: IptablesRunner = {
      restore: async (input) => {
        restores.push(input);
        return fail ? "iptables-restore: line 3 failed" : undefined;
      },
      save: async (t) => ({ text: saveText[t] ?? `*${t}\nCOMMIT\n` }),
      sysctl: async (n, v) => void sysctls.push(`${n}=${v}`),
    };
    return { runner, restores, sysctls, failNext: () => (fail = true), ok: () => (fail = false) };
  }
  const models = (svc: Service, eps: EndpointSlice[]) => serviceModel(svc, eps, { nodeName: "n1" });

  it("restores everything first, then only what changed; a failure leaves the last applied state for the next full sync", async () => {
    const f = fakeRunner();
    const b = new IptablesBackend({ config: { ...cfg, nodePorts: { matchAll: true } }, rules: ctx, iptables: f.runner, logger: silentLogger });
    assert.deepEqual(await b.sync(new Map([["ns1/svc1", models(svc1(), [slice1(makeEndpoint("10.180.0.1", "n1"))])]]), true), { changes: 1 });
    assert.equal(f.restores.length, 1);
    assert.match(f.restores[0] ?? "", /^-I PREROUTING 1 /m);
    assert.deepEqual(f.sysctls, ["net.ipv4.conf.all.route_localnet=1"]);
    assert.deepEqual(await b.sync(new Map(), false), { changes: 0 });
    assert.equal(f.restores.length, 1, "nothing recomputed, nothing sent");
    f.failNext();
    const r = await b.sync(new Map([["ns1/svc1", []]]), false);
    assert.equal(r.error, "iptables-restore: line 3 failed");
    f.ok();
    const again = await b.sync(new Map([["ns1/svc1", []]]), false);
    assert.equal(again.changes, 2, "the failed change is still to do: SVC and SEP chains deleted");
    assert.deepEqual(f.sysctls.length, 1, "route_localnet is set once");
  });
});

describe("proxy mode", () => {
  it("parses --proxy-mode and falls back to iptables only when none was asked for", async () => {
    assert.equal(parseProxyMode("iptables"), "iptables");
    assert.throws(() => parseProxyMode("ipvs"), /invalid --proxy-mode "ipvs": must be one of nftables, iptables/);
    const broken = async () => "cannot run nft: spawn nft ENOENT";
    assert.equal(await chooseProxyMode(undefined, silentLogger, async () => undefined), "nftables");
    assert.equal(await chooseProxyMode(undefined, silentLogger, broken), "iptables");
    assert.equal(await chooseProxyMode("nftables", silentLogger, broken), "nftables");
  });
});

describe("ServiceProxy in iptables mode", () => {
  it("removes the nftables mode's leftover table, restores everything first and then only changes", async () => {
    const services = new FakeSource<Service>();
    const slices = new FakeSource<EndpointSlice>();
    services.set(svc1({ type: "NodePort" }));
    slices.set(slice1(makeEndpoint("10.180.0.1", "n1")));
    const nftScripts: string[] = [];
    const restores: string[] = [];
    const reports: SyncReport[] = [];
    let wake: (() => void) | undefined;
    const proxy = new ServiceProxy({
      mode: "iptables",
      services,
      endpointSlices: slices,
      nodeName: "n1",
      nodeIPs: ["192.0.2.1"],
      clusterCidr: "10.42.0.0/16",
      tableSuffix: "cni0",
      minSyncPeriodMs: 0,
      logger: silentLogger,
      nft: async (script) => void nftScripts.push(script),
      iptables: {
        restore: async (input) => void restores.push(input),
        save: async (t) => ({ text: `*${t}\nCOMMIT\n` }),
        sysctl: async () => undefined,
      },
      conntrack: async () => ({ code: 0, stdout: "", stderr: "" }),
      onSynced: (r) => {
        reports.push(r);
        wake?.();
      },
    });
    const until = async (n: number) => {
      while (reports.length < n) await new Promise<void>((res) => (wake = res));
    };
    const abort = new AbortController();
    const running = proxy.run(abort.signal);
    await until(1);
    assert.deepEqual(nftScripts, ["table ip skiff_proxy_cni0 {}\ndelete table ip skiff_proxy_cni0\n"]);
    assert.equal(reports[0]?.full, true);
    const prefix = iptablesChainPrefix("cni0");
    assert.match(restores[0] ?? "", new RegExp(`^-I PREROUTING 1 -m comment --comment "kubernetes service portals \\(skiff node n1, bridge cni0\\)" -j ${prefix}SERVICES$`, "m"));
    // Upstream's iptables default: NodePorts on every local address, 127.0.0.1 included.
    assert.match(restores[0] ?? "", new RegExp(`-m addrtype --dst-type LOCAL -j ${prefix}NODEPORTS`));
    slices.set(slice1(makeEndpoint("10.180.0.2", "n1")));
    await until(2);
    abort.abort();
    await running;
    assert.equal(reports[1]?.full, false);
    assert.deepEqual(reports[1]?.services, ["ns1/svc1"]);
    assert.doesNotMatch(restores[1] ?? "", /^-[ID] /m, "jump rules are only touched on full restores");
    assert.match(restores[1] ?? "", new RegExp(`^-X ${prefix}SEP-`, "m"));
    assert.equal(proxy.backendDescription, `iptables chains ${prefix}* (filter, nat)`);
  });
});
