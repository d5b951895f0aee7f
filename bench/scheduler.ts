/**
 * `npm run bench:scheduler`: a real `skiff server` (its scheduler in the
 * loop, the controller manager off) driven over HTTPS, as upstream's
 * scheduler_perf SchedulingBasic: Node objects are created through the API
 * (no kubelet), then pods, and a bench-side watch sees each binding. One
 * JSON line:
 *
 *   basic: N nodes, P pods (5,000 / 10,000): pods/s from the first to the
 *     last binding seen, p50/p99 latency from a pod's create reply to its
 *     binding arriving on the watch, the Scheduled events written (one per
 *     pod; a scheduler that falls behind drops them) and how long after the
 *     last binding the last one appeared; server CPU includes writing them;
 *   affinity: required pod anti-affinity (one per hostname per group) and a
 *     zone topology spread on 1,000 nodes: pods/s;
 *   retry: server CPU per unschedulable-pod retry with --retry-running
 *     pods (20,000) running: the basic pods, topped up with pods created
 *     already bound (spec.nodeName) over the same nodes; the retried pods
 *     fit nowhere and are retried by node label changes;
 *   server RSS after each phase; per phase, the server's CPU split by
 *   thread (main = the API server, busiestWorker = the components worker
 *   in these phases, other = V8 helpers, SQLite checkpointer, ...).
 *
 * Flags: --smoke (tiny sizes, for CI), --nodes N, --pods N, --affinity-nodes N,
 * --affinity-pods N, --retry-pods N, --retry-rounds N, --retry-running N, --clients N,
 * --server-main FILE (a built main.js; by default the run builds the sources first, as `npx skiff` runs plain
 * JavaScript, except with --smoke or --from-source, which run them under tsx),
 * --server-cpu-prof DIR, --server-log FILE, --server-node-args "ARGS" (extra node
 * flags for the server, e.g. V8 GC settings), --phases basic,affinity,retry.
 * Progress goes to standard error; only the JSON line to standard output.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { buildSkiff } from "./support/build.js";
import { Client, readKubeconfig, type Stream } from "./support/https-client.js";
import { type Child, rssMB, startSkiffServer } from "./support/processes.js";

const { values } = parseArgs({
  options: {
    smoke: { type: "boolean", default: false },
    nodes: { type: "string" },
    pods: { type: "string" },
    "affinity-nodes": { type: "string" },
    "affinity-pods": { type: "string" },
    "retry-pods": { type: "string" },
    "retry-rounds": { type: "string" },
    "retry-running": { type: "string" },
    clients: { type: "string", default: "32" },
    phases: { type: "string", default: "basic,affinity,retry" },
    "server-main": { type: "string" },
    "from-source": { type: "boolean" },
    "server-cpu-prof": { type: "string" },
    "server-node-args": { type: "string" },
    "server-log": { type: "string" },
  },
});
const smoke = values.smoke!;
const numNodes = Number(values.nodes ?? (smoke ? 50 : 5000));
const numPods = Number(values.pods ?? (smoke ? 200 : 10_000));
const affinityNodes = Number(values["affinity-nodes"] ?? (smoke ? 20 : 1000));
const affinityPods = Number(values["affinity-pods"] ?? (smoke ? 40 : 2000));
const retryPods = Number(values["retry-pods"] ?? (smoke ? 10 : 200));
const retryRounds = Number(values["retry-rounds"] ?? (smoke ? 2 : 10));
const retryRunning = Number(values["retry-running"] ?? (smoke ? 300 : 20_000));
const clients = Number(values.clients);
const phases = new Set(values.phases!.split(","));

const say = (msg: string) => process.stderr.write(`bench:scheduler ${msg}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (n: number, d = 1) => Math.round(n * 10 ** d) / 10 ** d;
const pct = (sorted: number[], p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! : Number.NaN);
const CLK_TCK = 100;

/** Server CPU seconds (user + system) from /proc. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/** CPU seconds of each thread of a process, by thread id. */
function threadCpu(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const fields = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8").split(") ")[1]!.split(" ");
      out.set(Number(tid), (Number(fields[11]) + Number(fields[12])) / CLK_TCK);
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return out;
}

/** Per-thread CPU since `before`: the main thread, the busiest other thread, and the rest. */
function threadSplit(pid: number, before: Map<number, number>): { main: number; busiestWorker: number; other: number } {
  const deltas = [...threadCpu(pid)].map(([tid, s]) => [tid, s - (before.get(tid) ?? 0)] as const);
  const main = deltas.find(([tid]) => tid === pid)?.[1] ?? 0;
  const others = deltas.filter(([tid]) => tid !== pid).map(([, s]) => s).sort((a, b) => b - a);
  const busiest = others[0] ?? 0;
  return { main: round(main, 2), busiestWorker: round(busiest, 2), other: round(others.slice(1).reduce((a, b) => a + b, 0), 2) };
}

async function pool<T>(items: readonly T[], n: number, f: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    for (let i = next++; i < items.length; i = next++) await f(items[i]!);
  }));
}

function node(name: string, zone: string, cpu = "32", pods = "110"): string {
  const capacity = { cpu, memory: "128Gi", pods };
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Node",
    metadata: { name, labels: { "kubernetes.io/hostname": name, "topology.kubernetes.io/zone": zone, pool: "bench" } },
    status: { capacity, allocatable: capacity, conditions: [{ type: "Ready", status: "True" }] },
  });
}

function pod(ns: string, name: string, extra: Record<string, unknown> = {}, labels: Record<string, string> = {}): string {
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: ns, labels },
    spec: { containers: [{ name: "c", image: "registry.local/bench:1", resources: { requests: { cpu: "100m", memory: "128Mi" } } }], ...extra },
  });
}

/** Watches a namespace's pods and resolves each pod's binding time. */
class BindingWatch {
  readonly boundAt = new Map<string, number>();
  private stream?: Stream;
  private waiter?: { n: number; resolve: () => void };

  constructor(private readonly c: Client, private readonly ns: string) {}

  async start(): Promise<void> {
    // Only bound pods (the server filters: one event per pod, not the pending pod's ADDED as well),
    // and no JSON.parse per event: the bench's own CPU must not be what is measured.
    const path = `/api/v1/namespaces/${this.ns}/pods?watch=1&resourceVersion=0&fieldSelector=${encodeURIComponent("spec.nodeName!=")}&allowWatchBookmarks=false`;
    this.stream = this.c.stream(path, (line) => {
      if (!line.includes('"nodeName":"')) return;
      const name = /"metadata":\{"name":"([^"]+)"/.exec(line)?.[1] ?? /"name":"([^"]+)"/.exec(line)?.[1];
      if (name && !this.boundAt.has(name)) {
        this.boundAt.set(name, performance.now());
        if (this.waiter && this.boundAt.size >= this.waiter.n) this.waiter.resolve();
      }
    });
    await this.stream.response;
  }

  /** Resolves once `n` pods are bound, or rejects after `timeoutMs` without progress. */
  async waitFor(n: number, timeoutMs = 120_000): Promise<void> {
    if (this.boundAt.size >= n) return;
    let last = this.boundAt.size;
    let lastAt = performance.now();
    await new Promise<void>((resolveWait, reject) => {
      this.waiter = { n, resolve: resolveWait };
      const t = setInterval(() => {
        if (this.boundAt.size !== last) {
          last = this.boundAt.size;
          lastAt = performance.now();
        } else if (performance.now() - lastAt > timeoutMs) {
          clearInterval(t);
          reject(new Error(`only ${this.boundAt.size}/${n} pods bound; no progress for ${timeoutMs / 1000}s`));
        }
      }, 500);
      const done = this.waiter.resolve;
      this.waiter.resolve = () => {
        clearInterval(t);
        done();
      };
    });
  }

  close(): void {
    this.stream?.close();
  }
}

/** The number of Events in a namespace (one cheap LIST: limit=1 and its remainingItemCount). */
async function eventCount(c: Client, ns: string): Promise<number> {
  const r = await c.send("GET", `/apis/events.k8s.io/v1/namespaces/${ns}/events?limit=1`);
  if (r.status !== 200) throw new Error(`list events: HTTP ${r.status}`);
  const list = JSON.parse(r.body.toString()) as { items: unknown[]; metadata?: { remainingItemCount?: number } };
  return list.items.length + (list.metadata?.remainingItemCount ?? 0);
}

/**
 * Waits until `want` Events exist in `ns` (the scheduler writes one per
 * binding, after it), or the count stops growing for `quietMs`; returns the
 * count and how long after `since` it was reached.
 */
async function waitForEvents(c: Client, ns: string, want: number, since: number, quietMs = 10_000): Promise<{ events: number; lagSeconds: number }> {
  let last = -1;
  let lastChange = performance.now();
  for (;;) {
    const n = await eventCount(c, ns);
    if (n !== last) {
      last = n;
      lastChange = performance.now();
    }
    if (n >= want || performance.now() - lastChange > quietMs) return { events: n, lagSeconds: round((lastChange - since) / 1000, 2) };
    await sleep(250);
  }
}

async function must(c: Client, method: string, path: string, body: string, want: number): Promise<void> {
  const r = await c.send(method, path, { body });
  if (r.status !== want) throw new Error(`${method} ${path}: HTTP ${r.status}: ${r.body.toString().slice(0, 300)}`);
}

async function createNodes(c: Client, names: string[], zones: number, cpu?: string, pods?: string): Promise<void> {
  await pool(names, clients, (n) => must(c, "POST", "/api/v1/nodes", node(n, `zone-${Number(n.split("-").pop()) % zones}`, cpu, pods), 201));
}

/** Creates pods from `clients` loops; returns per-pod create-reply times. */
async function createPods(c: Client, ns: string, names: string[], body: (name: string) => string): Promise<Map<string, number>> {
  const created = new Map<string, number>();
  await pool(names, clients, async (name) => {
    await must(c, "POST", `/api/v1/namespaces/${ns}/pods`, body(name), 201);
    created.set(name, performance.now());
  });
  return created;
}

function throughput(watch: BindingWatch, created: Map<string, number>): { podsPerSec: number; p50Ms: number; p99Ms: number; seconds: number } {
  const bound = [...watch.boundAt.entries()].filter(([n]) => created.has(n));
  const times = bound.map(([, t]) => t).sort((a, b) => a - b);
  const firstCreate = Math.min(...created.values());
  const seconds = (times[times.length - 1]! - firstCreate) / 1000;
  const lat = bound.map(([n, t]) => Math.max(0, t - created.get(n)!)).sort((a, b) => a - b);
  return { podsPerSec: Math.round(bound.length / seconds), p50Ms: round(pct(lat, 50)), p99Ms: round(pct(lat, 99)), seconds: round(seconds, 2) };
}

const result: Record<string, unknown> = { bench: "scheduler", smoke, nodes: numNodes, pods: numPods, basic: null, affinity: null, retry: null, rssMB: {} };
const dir = mkdtempSync(join(tmpdir(), "skiff-bench-sched-"));
let server: Child | undefined;
/**
 * What the server runs: a build of the sources (plain JavaScript, as `npx skiff` runs; tsx's loader and its
 * transform's helpers would add to every CPU figure), or the sources under tsx with --from-source (the smoke
 * run's default: no compile step).
 */
let serverMain: string | undefined;
if (values["server-main"]) serverMain = resolve(values["server-main"]);
else if (!(values["from-source"] ?? smoke)) {
  say("building the sources");
  try {
    serverMain = buildSkiff(join(dir, "build"));
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
/** A fresh server in its own data dir, and a client for it. */
async function freshServer(name: string): Promise<{ server: Child; c: Client }> {
  const prof = values["server-cpu-prof"];
  const srv = await startSkiffServer(join(dir, name), {
    main: serverMain,
    nodeArgs: [...(prof ? ["--cpu-prof", `--cpu-prof-dir=${resolve(prof)}`] : []), ...(values["server-node-args"]?.split(" ").filter((a) => a !== "") ?? [])],
    // As upstream's scheduler_perf: no controller manager, so no ServiceAccount admission either.
    extraArgs: ["--disable", "controller-manager", "--disable-admission-plugins", "ServiceAccount"],
    logFile: values["server-log"] ? resolve(values["server-log"]) : undefined,
  });
  return { server: srv, c: new Client(readKubeconfig((srv as Child & { kubeconfig: string }).kubeconfig), clients) };
}

try {
  let { server: current, c } = await freshServer("skiff");
  server = current;
  let pid = current.pid;
  const rss = result.rssMB as Record<string, number>;
  await sleep(1000);
  rss.idle = rssMB(pid).rss;

  if (phases.has("basic")) {
    await must(c, "POST", "/api/v1/namespaces", JSON.stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name: "basic" } }), 201);
    say(`creating ${numNodes} nodes`);
    await createNodes(c, Array.from({ length: numNodes }, (_, i) => `node-${i}`), 3);
    await sleep(smoke ? 500 : 2000);
    const watch = new BindingWatch(c, "basic");
    await watch.start();
    say(`creating ${numPods} pods`);
    const cpu0 = cpuSeconds(pid);
    const threads0 = threadCpu(pid);
    const bench0 = process.cpuUsage();
    const created = await createPods(c, "basic", Array.from({ length: numPods }, (_, i) => `p-${i}`), (n) => pod("basic", n));
    await watch.waitFor(numPods);
    const t = throughput(watch, created);
    // Every binding is followed by a Scheduled event; the CPU counted includes writing them.
    const ev = await waitForEvents(c, "basic", numPods, Math.max(...watch.boundAt.values()));
    const benchCpu = process.cpuUsage(bench0);
    result.basic = {
      ...t,
      scheduledEvents: ev.events,
      eventsLagSeconds: ev.lagSeconds,
      serverCpuSeconds: round(cpuSeconds(pid) - cpu0, 2),
      serverThreads: threadSplit(pid, threads0),
      benchCpuSeconds: round((benchCpu.user + benchCpu.system) / 1e6, 2),
    };
    watch.close();
    rss.withBasicPods = rssMB(pid).rss;
    say(`basic: ${JSON.stringify(result.basic)}`);
  }

  if (phases.has("retry")) {
    // Pods that fit nowhere (a selector no node has), retried each time a node label changes.
    await must(c, "POST", "/api/v1/namespaces", JSON.stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name: "retry" } }), 201);
    // The node whose label changes trigger the retries: a basic node, or one of its own.
    const target = phases.has("basic") && numNodes > 0 ? "node-0" : "retry-node-0";
    if (target === "retry-node-0") await createNodes(c, [target], 1);
    // Top the running pods up to --retry-running, created bound (as a kubelet-less cluster keeps them) over the basic nodes.
    const running = phases.has("basic") ? numPods : 0;
    const extra = Math.max(0, retryRunning - running);
    if (extra > 0) {
      await must(c, "POST", "/api/v1/namespaces", JSON.stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name: "running" } }), 201);
      const hosts = phases.has("basic") && numNodes > 0 ? numNodes : 0;
      if (hosts === 0) await createNodes(c, Array.from({ length: Math.ceil(extra / 100) }, (_, i) => `running-node-${i}`), 3);
      say(`creating ${extra} bound pods (${running + extra} running)`);
      await createPods(c, "running", Array.from({ length: extra }, (_, i) => `run-${i}`), (n) => {
        const i = Number(n.split("-")[1]);
        return pod("running", n, { nodeName: hosts > 0 ? `node-${i % hosts}` : `running-node-${Math.floor(i / 100)}` });
      });
    }
    await createPods(c, "retry", Array.from({ length: retryPods }, (_, i) => `r-${i}`), (n) => pod("retry", n, { nodeSelector: { nowhere: "true" } }));
    await sleep(3000);
    const cpu0 = cpuSeconds(pid);
    const threads0 = threadCpu(pid);
    for (let round_ = 0; round_ < retryRounds; round_++) {
      const r = await c.send("PATCH", `/api/v1/nodes/${target}`, {
        body: JSON.stringify({ metadata: { labels: { "bench-round": String(round_) } } }),
        headers: { "Content-Type": "application/merge-patch+json" },
      });
      if (r.status !== 200) throw new Error(`label node: HTTP ${r.status}`);
      // Each label change moves every unschedulable pod back for a retry; backoff is 1 s, then doubling.
      await sleep(smoke ? 1500 : 11_000);
    }
    const cpu = cpuSeconds(pid) - cpu0;
    result.retry = {
      pods: retryPods,
      rounds: retryRounds,
      runningPods: running + extra,
      serverCpuSeconds: round(cpu, 2),
      serverThreads: threadSplit(pid, threads0),
      cpuMsPerRetry: round((cpu * 1000) / (retryPods * retryRounds), 2),
    };
    say(`retry: ${JSON.stringify(result.retry)}`);
  }

  if (phases.has("affinity")) {
    // The scenario is a cluster of 1,000 nodes: a fresh server, not the basic phase's 5,000 nodes and 10,000 pods.
    if (phases.has("basic") || phases.has("retry")) {
      await current.stop();
      ({ server: current, c } = await freshServer("skiff-affinity"));
      server = current;
      pid = current.pid;
    }
    await must(c, "POST", "/api/v1/namespaces", JSON.stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name: "affinity" } }), 201);
    say(`creating ${affinityNodes} affinity nodes`);
    const names = Array.from({ length: affinityNodes }, (_, i) => `aff-${i}`);
    await pool(names, clients, async (n) => {
      const body = JSON.parse(node(n, `zone-${Number(n.split("-")[1]) % 5}`));
      body.metadata.labels.pool = "affinity";
      await must(c, "POST", "/api/v1/nodes", JSON.stringify(body), 201);
    });
    await sleep(smoke ? 500 : 2000);
    const watch = new BindingWatch(c, "affinity");
    await watch.start();
    const groupSize = Math.max(1, Math.floor(affinityNodes / 2));
    const cpu0 = cpuSeconds(pid);
    const threads0 = threadCpu(pid);
    const created = await createPods(c, "affinity", Array.from({ length: affinityPods }, (_, i) => `a-${i}`), (n) => {
      const group = `g${Math.floor(Number(n.split("-")[1]) / groupSize)}`;
      return pod(
        "affinity",
        n,
        {
          nodeSelector: { pool: "affinity" },
          affinity: {
            podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { group } }, topologyKey: "kubernetes.io/hostname" }] },
          },
          topologySpreadConstraints: [{ maxSkew: 1, topologyKey: "topology.kubernetes.io/zone", whenUnsatisfiable: "DoNotSchedule", labelSelector: { matchLabels: { group } } }],
        },
        { group },
      );
    });
    await watch.waitFor(affinityPods);
    const t = throughput(watch, created);
    const ev = await waitForEvents(c, "affinity", affinityPods, Math.max(...watch.boundAt.values()));
    result.affinity = {
      nodes: affinityNodes,
      ...t,
      scheduledEvents: ev.events,
      eventsLagSeconds: ev.lagSeconds,
      serverCpuSeconds: round(cpuSeconds(pid) - cpu0, 2),
      serverThreads: threadSplit(pid, threads0),
    };
    watch.close();
    say(`affinity: ${JSON.stringify(result.affinity)}`);
  }
  rss.final = rssMB(pid).rss;
  const basic = result.basic as { podsPerSec: number } | null;
  const aff = result.affinity as { podsPerSec: number } | null;
  const retry = result.retry as { cpuMsPerRetry: number } | null;
  result.targets = {
    basicAtLeast1000PodsPerSec: basic ? basic.podsPerSec >= 1000 : null,
    affinityAtLeast300PodsPerSec: aff ? aff.podsPerSec >= 300 : null,
    retryAtMost5msCpu: retry ? retry.cpuMsPerRetry <= 5 : null,
  };
} finally {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
}
process.stdout.write(`${JSON.stringify(result)}\n`);
