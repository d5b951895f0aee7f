/**
 * The service proxy's figures for `npm run bench:network`: a ServiceProxy
 * fed by in-memory ListerWatchers loads N Services with 10 endpoints each
 * into an nft table inside a throwaway network namespace, then ~100
 * EndpointSlice changes are made one at a time, each timed from the change
 * to its transaction being applied in the kernel (the proxy's sync report
 * for that Service). The same is then measured for the iptables mode (one
 * `iptables-restore --noflush` per sync) in a namespace of its own, as the
 * `proxyIptables*` fields. No traffic is sent; the namespaces (and so the
 * rules) are deleted at the end. Needs root.
 */
import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import type { Service } from "kubernetes-types/core/v1.js";
import type { EndpointSlice } from "kubernetes-types/discovery/v1.js";
import { silentLogger } from "../../src/machinery/log.js";
import { runCommand } from "../../src/network/cni/exec.js";
import { FakeSource, makeEndpoint, makeService, makeSlice } from "../../src/network/proxy/fake-source.js";
import { netnsIptables } from "../../src/network/proxy/iptables-runner.js";
import { netnsNft } from "../../src/network/nft-runner.js";
import { type ProxyMode, ServiceProxy, type SyncReport } from "../../src/network/proxy/service-proxy.js";

/** What {@link benchProxy} measured. */
export interface ProxyBenchResult {
  readonly proxyServices: number;
  readonly proxyEndpoints: number;
  /** From the proxy's start until the whole table was in the kernel (list, rules, one transaction). */
  readonly proxyFullLoadMs: number;
  /** The full load's own transaction: building the script and `nft -f -`. */
  readonly proxyFullSyncMs: number;
  /** EndpointSlice change → transaction applied, over `proxyChanges` changes. */
  readonly proxySyncP50Ms: number;
  readonly proxySyncP99Ms: number;
  readonly proxySyncMaxMs: number;
  readonly proxyChanges: number;
  /** Chains in the kernel table at the end (sanity: services + endpoints + base chains). */
  readonly proxyChainsInKernel: number;
  /** The same for the iptables mode (the same Services and changes). */
  readonly proxyIptablesFullLoadMs: number;
  readonly proxyIptablesFullSyncMs: number;
  readonly proxyIptablesSyncP50Ms: number;
  readonly proxyIptablesSyncP99Ms: number;
  readonly proxyIptablesSyncMaxMs: number;
  /** Chains of ours in the nat table at the end. */
  readonly proxyIptablesChainsInKernel: number;
}

/** One mode's figures. */
interface ModeResult {
  readonly fullLoadMs: number;
  readonly fullSyncMs: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly changes: number;
  readonly chains: number;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

const round = (n: number) => Math.round(n * 10) / 10;

/** Service i's ClusterIP (10.182/16) and endpoint j's pod IP (10.180/16, 10.181/16): addresses only written into rules. */
function clusterIP(i: number): string {
  return `10.182.${Math.floor(i / 250)}.${(i % 250) + 1}`;
}
function podIP(i: number, j: number): string {
  const n = i * 10 + j;
  return `10.${180 + Math.floor(n / 65_000)}.${Math.floor((n % 65_000) / 250)}.${(n % 250) + 1}`;
}

const perService = 10;

/** Loads the Services and endpoints in both modes, measures the changes, removes everything. */
export async function benchProxy(opts: { smoke: boolean }): Promise<ProxyBenchResult> {
  const serviceCount = opts.smoke ? 50 : 1000;
  const changeCount = opts.smoke ? 20 : 100;
  const nft = await benchMode("nftables", serviceCount, changeCount);
  const ipt = await benchMode("iptables", serviceCount, changeCount);
  return {
    proxyServices: serviceCount,
    proxyEndpoints: serviceCount * perService,
    proxyFullLoadMs: nft.fullLoadMs,
    proxyFullSyncMs: nft.fullSyncMs,
    proxySyncP50Ms: nft.p50,
    proxySyncP99Ms: nft.p99,
    proxySyncMaxMs: nft.max,
    proxyChanges: nft.changes,
    proxyChainsInKernel: nft.chains,
    proxyIptablesFullLoadMs: ipt.fullLoadMs,
    proxyIptablesFullSyncMs: ipt.fullSyncMs,
    proxyIptablesSyncP50Ms: ipt.p50,
    proxyIptablesSyncP99Ms: ipt.p99,
    proxyIptablesSyncMaxMs: ipt.max,
    proxyIptablesChainsInKernel: ipt.chains,
  };
}

async function benchMode(mode: ProxyMode, serviceCount: number, changeCount: number): Promise<ModeResult> {
  const netns = `skiff-b-proxy-${randomBytes(3).toString("hex")}`;
  const add = await runCommand("ip", ["netns", "add", netns]);
  if (add.code !== 0) throw new Error(`ip netns add ${netns}: ${add.stderr.trim() || add.error}`);
  const abort = new AbortController();
  let running: Promise<void> | undefined;
  try {
    const services = new FakeSource<Service>();
    const slices = new FakeSource<EndpointSlice>();
    const sliceFor = (i: number, generation: number) =>
      makeSlice(
        "bench",
        `svc-${i}-abcde`,
        `svc-${i}`,
        [{ name: "http", port: 8080 }],
        Array.from({ length: perService }, (_, j) =>
          // Each change makes one endpoint of the Service (un)ready, as a pod restart does.
          makeEndpoint(podIP(i, j), `node-${j % 3}`, { ready: !(j === generation % perService && generation > 0), serving: true, terminating: false }),
        ),
      );
    for (let i = 0; i < serviceCount; i++) {
      services.set(makeService("bench", `svc-${i}`, clusterIP(i), [{ name: "http", port: 80, protocol: "TCP" }]));
      slices.set(sliceFor(i, 0));
    }
    const reports: SyncReport[] = [];
    let wake: (() => void) | undefined;
    const proxy = new ServiceProxy({
      mode,
      services,
      endpointSlices: slices,
      nodeName: "node-0",
      nodeIPs: ["10.182.255.1"],
      clusterCidr: "10.180.0.0/15",
      tableSuffix: "bench",
      minSyncPeriodMs: 0,
      logger: silentLogger,
      nft: netnsNft(netns),
      iptables: netnsIptables(netns),
      conntrack: async () => ({ code: 0, stdout: "", stderr: "" }),
      onSynced: (r) => {
        reports.push(r);
        wake?.();
      },
    });
    const next = async (pred: (r: SyncReport) => boolean, since: number): Promise<SyncReport> => {
      for (;;) {
        const r = reports.slice(since).find((x) => x.error !== undefined || pred(x));
        if (r?.error !== undefined) throw new Error(`proxy sync failed: ${r.error}`);
        if (r) return r;
        await new Promise<void>((res) => {
          wake = res;
        });
      }
    };
    const t0 = performance.now();
    running = proxy.run(abort.signal);
    const full = await next((r) => r.full, 0);
    const proxyFullLoadMs = performance.now() - t0;
    const proxyFullSyncMs = full.appliedAt - full.startedAt;
    const times: number[] = [];
    for (let c = 1; c <= changeCount; c++) {
      const i = (c * 7919) % serviceCount;
      const key = `bench/svc-${i}`;
      const since = reports.length;
      const start = performance.now();
      slices.set(sliceFor(i, c));
      await next((r) => r.services.includes(key), since);
      times.push(performance.now() - start);
    }
    const sorted = [...times].sort((a, b) => a - b);
    return {
      fullLoadMs: round(proxyFullLoadMs),
      fullSyncMs: round(proxyFullSyncMs),
      p50: round(percentile(sorted, 50)),
      p99: round(percentile(sorted, 99)),
      max: round(sorted[sorted.length - 1] ?? 0),
      changes: times.length,
      chains: await chainsInKernel(mode, netns),
    };
  } finally {
    abort.abort();
    await running;
    await runCommand("ip", ["netns", "del", netns]);
  }
}

async function chainsInKernel(mode: ProxyMode, netns: string): Promise<number> {
  if (mode === "nftables") {
    const list = await runCommand("ip", ["netns", "exec", netns, "nft", "list", "chains", "ip"]);
    return list.stdout.split("\n").filter((l) => l.trim().startsWith("chain ")).length;
  }
  const save = await runCommand("ip", ["netns", "exec", netns, "iptables-save", "-t", "nat"]);
  return save.stdout.split("\n").filter((l) => l.startsWith(":SKIFF-")).length;
}
