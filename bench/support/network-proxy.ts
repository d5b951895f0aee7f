/**
 * The service proxy's figures for `npm run bench:network`: a ServiceProxy
 * fed by in-memory ListerWatchers loads N Services with 10 endpoints each
 * into an nft table inside a throwaway network namespace, then ~100
 * EndpointSlice changes are made one at a time, each timed from the change
 * to its transaction being applied in the kernel (the proxy's sync report
 * for that Service). No traffic is sent; the namespace (and so the table)
 * is deleted at the end. Needs root.
 */
import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import type { Service } from "kubernetes-types/core/v1.js";
import type { EndpointSlice } from "kubernetes-types/discovery/v1.js";
import { silentLogger } from "../../src/machinery/log.js";
import { runCommand } from "../../src/network/cni/exec.js";
import { FakeSource, makeEndpoint, makeService, makeSlice } from "../../src/network/proxy/fake-source.js";
import { netnsNft } from "../../src/network/proxy/nft-runner.js";
import { ServiceProxy, type SyncReport } from "../../src/network/proxy/service-proxy.js";

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

/** Loads the Services and endpoints, measures the changes, removes everything. */
export async function benchProxy(opts: { smoke: boolean }): Promise<ProxyBenchResult> {
  const serviceCount = opts.smoke ? 50 : 1000;
  const perService = 10;
  const changeCount = opts.smoke ? 20 : 100;
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
      services,
      endpointSlices: slices,
      nodeName: "node-0",
      nodeIPs: ["10.182.255.1"],
      clusterCidr: "10.180.0.0/15",
      tableSuffix: "bench",
      minSyncPeriodMs: 0,
      logger: silentLogger,
      nft: netnsNft(netns),
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
    const list = await runCommand("ip", ["netns", "exec", netns, "nft", "list", "chains", "ip"]);
    const proxyChainsInKernel = list.stdout.split("\n").filter((l) => l.trim().startsWith("chain ")).length;
    const sorted = [...times].sort((a, b) => a - b);
    return {
      proxyServices: serviceCount,
      proxyEndpoints: serviceCount * perService,
      proxyFullLoadMs: round(proxyFullLoadMs),
      proxyFullSyncMs: round(proxyFullSyncMs),
      proxySyncP50Ms: round(percentile(sorted, 50)),
      proxySyncP99Ms: round(percentile(sorted, 99)),
      proxySyncMaxMs: round(sorted[sorted.length - 1] ?? 0),
      proxyChanges: times.length,
      proxyChainsInKernel,
    };
  } finally {
    abort.abort();
    await running;
    await runCommand("ip", ["netns", "del", netns]);
  }
}
