/**
 * `npm run bench:controllers`: the controller manager with the scheduler in
 * the loop, on a real `skiff server` process and a real `skiff agent
 * --runtime sim --simulate-nodes 100`, observed through a bench-side pod
 * watch. One JSON line:
 *
 *   deploy: a Deployment of 1,000 replicas: seconds from its create request
 *     to the 1,000th pod object seen on the watch, and to the 1,000th pod
 *     Ready;
 *   recreate: its 1,000 pods deleted in one deletecollection: seconds to
 *     1,000 replacement pods created, and Ready;
 *   eviction: an agent holding a few nodes with pods that tolerate
 *     not-ready/unreachable for 0 s is killed (SIGKILL); evictions per
 *     second as seen on the watch (needs the node lifecycle controller and
 *     the server's --node-monitor-grace-period, else null with a reason);
 *   rss: the Deployment scaled to 10,000 pods, server RSS once they are
 *     Ready; then a second server with `--disable controller-manager`
 *     holding the same 10,000 pods, created by the bench. The controllers
 *     run on a worker thread of the server process, whose RSS cannot be
 *     told apart per thread, so the difference of the two is reported as
 *     the controller manager's share.
 *
 * Flags: --smoke (tiny sizes, for CI), --nodes N, --replicas N,
 * --rss-pods N, --fail-nodes N (5; 1 unless the server has --node-eviction-rate),
 * --fail-pods-per-node N, --grace-period DURATION,
 * --clients N, --phases deploy,recreate,eviction,rss,
 * --server-main FILE (a built dist/src/cli/main.js instead of the sources),
 * --server-cpu-prof DIR, --agent-cpu-prof DIR, --server-log FILE, --agent-log FILE
 * (profiles and logs of every server and agent the run starts).
 * Progress goes to standard error; only the JSON line to standard output.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { Client, readKubeconfig } from "./support/https-client.js";
import { PodTracker } from "./support/pod-tracker.js";
import { rssMB, type SkiffServer, startSkiffServer } from "./support/processes.js";
import { type SimAgent, startSimAgent } from "./support/sim-agent.js";
import { serverSupports } from "./support/server-flags.js";

const ALL_PHASES = ["deploy", "recreate", "eviction", "rss"] as const;

const { values } = parseArgs({
  options: {
    smoke: { type: "boolean", default: false },
    nodes: { type: "string" },
    replicas: { type: "string" },
    "rss-pods": { type: "string" },
    "fail-nodes": { type: "string" },
    "fail-pods-per-node": { type: "string" },
    "grace-period": { type: "string" },
    clients: { type: "string", default: "32" },
    phases: { type: "string", default: ALL_PHASES.join(",") },
    "server-main": { type: "string" },
    "server-cpu-prof": { type: "string" },
    "server-log": { type: "string" },
    "agent-log": { type: "string" },
    "agent-cpu-prof": { type: "string" },
  },
});
const smoke = values.smoke!;
const numNodes = Number(values.nodes ?? (smoke ? 5 : 100));
const replicas = Number(values.replicas ?? (smoke ? 30 : 1000));
const rssPods = Number(values["rss-pods"] ?? (smoke ? 100 : 10_000));
const failPodsPerNode = Number(values["fail-pods-per-node"] ?? (smoke ? 10 : 100));
const gracePeriod = values["grace-period"] ?? "10s";
const clients = Number(values.clients);
const phases = new Set(values.phases!.split(","));
for (const p of phases) if (!(ALL_PHASES as readonly string[]).includes(p)) throw new Error(`unknown phase ${p}; known: ${ALL_PHASES.join(",")}`);
const serverMain = values["server-main"] ? resolve(values["server-main"]) : undefined;

const benchStart = performance.now();
const say = (msg: string) => process.stderr.write(`bench:controllers +${((performance.now() - benchStart) / 1000).toFixed(1)}s ${msg}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (n: number, d = 2) => Math.round(n * 10 ** d) / 10 ** d;
const secs = (fromMs: number, toMs: number) => round((toMs - fromMs) / 1000);
const CLK_TCK = 100;

/** CPU seconds (user + system) of a process, from /proc. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

async function pool<T>(items: readonly T[], n: number, f: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      for (let i = next++; i < items.length; i = next++) await f(items[i]!);
    }),
  );
}

async function must(c: Client, method: string, path: string, body: string | undefined, want: number, contentType?: string): Promise<string> {
  const r = await c.send(method, path, { body, headers: contentType ? { "Content-Type": contentType } : undefined });
  if (r.status !== want) throw new Error(`${method} ${path}: HTTP ${r.status}: ${r.body.toString().slice(0, 300)}`);
  return r.body.toString();
}

const namespace = (name: string) => JSON.stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name } });

const LABELS = { app: "bench" };
/** The pod template of the Deployment, and of the pods the bench creates itself for the comparison. */
const podSpec = { containers: [{ name: "c", image: "registry.local/bench:1" }], terminationGracePeriodSeconds: 30 };

function deployment(n: number): string {
  return JSON.stringify({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "bench", namespace: "bench" },
    spec: { replicas: n, selector: { matchLabels: LABELS }, template: { metadata: { labels: LABELS }, spec: podSpec } },
  });
}

/** A pod bound to `node` that tolerates its node failing for 0 s (evicted as soon as the NoExecute taint lands). */
function evictablePod(name: string, node: string): string {
  const tolerations = ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"].map((key) => ({ key, operator: "Exists", effect: "NoExecute", tolerationSeconds: 0 }));
  return JSON.stringify({ apiVersion: "v1", kind: "Pod", metadata: { name, namespace: "evict", labels: { app: "evict" } }, spec: { ...podSpec, nodeName: node, tolerations } });
}

interface NodeList {
  items: { metadata: { name: string }; spec?: { taints?: { key: string; effect: string }[] }; status?: { conditions?: { type: string; status: string }[] } }[];
}

/** Resolves once every node named in `names` is Ready. */
async function waitNodesReady(c: Client, names: ReadonlySet<string>, timeoutMs = 120_000): Promise<void> {
  const end = performance.now() + timeoutMs;
  let ready = 0;
  while (performance.now() < end) {
    const list = JSON.parse(await must(c, "GET", "/api/v1/nodes", undefined, 200)) as NodeList;
    ready = list.items.filter((n) => names.has(n.metadata.name) && n.status?.conditions?.some((cd) => cd.type === "Ready" && cd.status === "True")).length;
    if (ready === names.size) return;
    await sleep(500);
  }
  throw new Error(`only ${ready}/${names.size} nodes Ready after ${timeoutMs / 1000}s`);
}

/** The store's revision now: a list's resourceVersion (every write of any object moves it by one). */
async function storeRevision(c: Client): Promise<number> {
  const list = JSON.parse(await must(c, "GET", "/api/v1/namespaces/default/configmaps?limit=1", undefined, 200)) as { metadata?: { resourceVersion?: string } };
  return Number(list.metadata?.resourceVersion ?? Number.NaN);
}

/** Events (core/v1 and events.k8s.io/v1 share one store) in `ns`, counted by reason. */
async function eventReasons(c: Client, ns: string): Promise<Record<string, number>> {
  const list = JSON.parse(await must(c, "GET", `/api/v1/namespaces/${ns}/events`, undefined, 200)) as { items: { reason?: string }[] };
  const out: Record<string, number> = {};
  for (const e of list.items) out[e.reason ?? ""] = (out[e.reason ?? ""] ?? 0) + 1;
  return out;
}

/** Median of a few RSS readings a second apart (a single reading lands anywhere in a GC cycle). */
async function settledRss(pid: number, settleMs: number, n: number): Promise<{ rssMB: number; peakMB: number; readings: number[] }> {
  await sleep(settleMs);
  const readings: number[] = [];
  for (let i = 0; i < n; i++) {
    readings.push(rssMB(pid).rss);
    if (i < n - 1) await sleep(1000);
  }
  const sorted = [...readings].sort((a, b) => a - b);
  return { rssMB: sorted[Math.floor(n / 2)]!, peakMB: rssMB(pid).peak, readings };
}

const dir = mkdtempSync(join(tmpdir(), "skiff-bench-ctrl-"));
const kubeletConfig = (name: string, leaseSeconds: number) => {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    ["apiVersion: kubelet.config.k8s.io/v1beta1", "kind: KubeletConfiguration", "maxPods: 110", `nodeLeaseDurationSeconds: ${leaseSeconds}`, "nodeStatusUpdateFrequency: 10s", ""].join("\n"),
  );
  return file;
};

const running: { stop(): Promise<void> }[] = [];
/** Stops everything started so far, newest first. */
async function stopAll(): Promise<void> {
  while (running.length) await running.pop()!.stop().catch(() => {});
}

async function startServer(name: string, extraArgs: string[]): Promise<{ server: SkiffServer; c: Client; dataDir: string }> {
  const prof = values["server-cpu-prof"];
  const dataDir = join(dir, name);
  const server = await startSkiffServer(dataDir, {
    main: serverMain,
    nodeArgs: prof ? ["--cpu-prof", `--cpu-prof-dir=${resolve(prof)}`] : [],
    extraArgs,
    logFile: values["server-log"] ? resolve(values["server-log"]) : undefined,
  });
  running.push(server);
  const c = new Client(readKubeconfig(server.kubeconfig), clients);
  running.push({ stop: async () => c.close() });
  return { server, c, dataDir };
}

async function startAgent(serverDataDir: string, port: number, prefix: string, nodes: number, config: string): Promise<SimAgent> {
  const agent = await startSimAgent({
    serverDataDir,
    serverPort: port,
    nodeName: prefix,
    nodes,
    dataDir: join(dir, `agent-${prefix}-${port}`),
    kubeletConfig: config,
    main: serverMain,
    logFile: values["agent-log"] ? resolve(values["agent-log"]) : undefined,
    nodeArgs: values["agent-cpu-prof"] ? ["--cpu-prof", `--cpu-prof-dir=${resolve(values["agent-cpu-prof"])}`] : [],
  });
  running.push(agent);
  return agent;
}

// Interrupted: stop the server and agents (by PID) and remove the temp dir before going.
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.once(sig, () => {
    say(`${sig}: stopping`);
    void stopAll().finally(() => {
      rmSync(dir, { recursive: true, force: true });
      process.exit(130);
    });
  });
}

const result: Record<string, unknown> = {
  bench: "controllers",
  smoke,
  nodes: numNodes,
  replicas,
  deploy: null,
  recreate: null,
  eviction: null,
  rss: null,
};

try {
  // The eviction phase needs a node lifecycle controller and a grace period shorter than upstream's 50 s.
  let evictionSkipped: string | undefined;
  const serverArgs: string[] = [];
  let failNodes = 1;
  if (phases.has("eviction")) {
    const support = await serverSupports(serverMain);
    if (!support.nodeLifecycle) evictionSkipped = "the controller manager has no nodelifecycle controller (src/controllers/manager.ts CONTROLLERS)";
    else if (!support.flags.has("--node-monitor-grace-period")) evictionSkipped = "skiff server has no --node-monitor-grace-period flag to shorten upstream's 50 s";
    if (evictionSkipped) {
      result.eviction = { skipped: evictionSkipped };
      say(`eviction phase skipped: ${evictionSkipped}`);
    } else {
      serverArgs.push("--node-monitor-grace-period", gracePeriod);
      // Checked every second rather than every 5 s, so the grace period, not the check, decides when a node is found dead.
      if (support.flags.has("--node-monitor-period")) serverArgs.push("--node-monitor-period", "1s");
      // Upstream taints at most 0.1 nodes/s in a healthy zone; several failed nodes are measured at once only if that limit can be lifted.
      failNodes = Number(values["fail-nodes"] ?? (smoke || !support.flags.has("--node-eviction-rate") ? 1 : 5));
      if (failNodes > 1) {
        if (!support.flags.has("--node-eviction-rate")) throw new Error("--fail-nodes above 1 needs skiff server --node-eviction-rate (upstream taints 0.1 nodes/s)");
        serverArgs.push("--node-eviction-rate", "1000");
      }
    }
  }
  const withEviction = phases.has("eviction") && !evictionSkipped;
  // Leases renewed every quarter of their duration: 3 s, so a 10 s grace period never flags a live node.
  const leaseSeconds = withEviction ? 12 : 40;
  const agentConfig = kubeletConfig("kubelet", leaseSeconds);

  const { server, c, dataDir } = await startServer("skiff", serverArgs);
  const pid = server.pid;
  result.rssIdleMB = rssMB(pid).rss;
  say(`server pid=${pid} port=${server.port}; starting agent with ${numNodes} simulated nodes`);
  const agent = await startAgent(dataDir, server.port, "sim", numNodes, agentConfig);
  await waitNodesReady(c, new Set(Array.from({ length: numNodes }, (_, i) => `sim-${i}`)));
  await must(c, "POST", "/api/v1/namespaces", namespace("bench"), 201);
  const pods = new PodTracker(c, "bench", say);
  await pods.start();
  running.push({ stop: async () => pods.close() });

  let created = false;
  if (phases.has("deploy") || phases.has("recreate") || phases.has("rss")) {
    say(`creating a Deployment of ${replicas} replicas`);
    const cpu0 = cpuSeconds(pid);
    const rev0 = await storeRevision(c);
    const t0 = performance.now();
    await must(c, "POST", "/apis/apps/v1/namespaces/bench/deployments", deployment(replicas), 201);
    const tCreated = await pods.waitFor("added", replicas);
    say(`${replicas} pods created in ${secs(t0, tCreated)}s`);
    const tReady = await pods.waitFor("ready", replicas);
    say(`${replicas} pods Ready in ${secs(t0, tReady)}s`);
    created = true;
    const added = pods.times.added;
    result.deploy = {
      // When the first pod and the first half appeared: the controllers' reaction, and the pace of the first burst of 500.
      firstPodSeconds: secs(t0, added[0]!),
      halfPodsCreatedSeconds: secs(t0, added[Math.ceil(replicas / 2) - 1]!),
      podsCreatedSeconds: secs(t0, tCreated),
      podsReadySeconds: secs(t0, tReady),
      serverCpuSeconds: round(cpuSeconds(pid) - cpu0),
      // Every write the phase made (pods, bindings, statuses, events, leases…): the API server's load per pod.
      storeWrites: (await storeRevision(c)) - rev0,
      events: await eventReasons(c, "bench"),
    };
  }

  if (phases.has("recreate")) {
    say(`deleting the ${replicas} pods`);
    const base = pods.count("added");
    const readyBase = pods.count("ready");
    const cpu0 = cpuSeconds(pid);
    const rev0 = await storeRevision(c);
    const t0 = performance.now();
    await must(c, "DELETE", "/api/v1/namespaces/bench/pods?labelSelector=app%3Dbench", undefined, 200);
    const tDeleted = performance.now();
    say(`deletecollection answered in ${secs(t0, tDeleted)}s`);
    const tCreated = await pods.waitFor("added", base + replicas);
    say(`${replicas} replacements created in ${secs(t0, tCreated)}s`);
    const tReady = await pods.waitFor("ready", readyBase + replicas);
    say(`${replicas} replacements Ready in ${secs(t0, tReady)}s`);
    // The deleted pods finish terminating (the kubelet stops them and removes the objects) before the next phase.
    const tGone = await pods.waitFor("deleted", replicas);
    result.recreate = {
      podsCreatedSeconds: secs(t0, tCreated),
      podsReadySeconds: secs(t0, tReady),
      oldPodsGoneSeconds: secs(t0, tGone),
      deleteCollectionSeconds: secs(t0, tDeleted),
      serverCpuSeconds: round(cpuSeconds(pid) - cpu0),
      storeWrites: (await storeRevision(c)) - rev0,
    };
  }

  if (withEviction) result.eviction = await evictionPhase(c, dataDir, server.port, agentConfig, pid, failNodes, serverArgs);

  if (phases.has("rss")) {
    const rss: Record<string, unknown> = { pods: rssPods };
    result.rss = rss;
    const have = created ? replicas : 0;
    const addedBase = pods.count("added") - have;
    const readyBase = pods.count("ready") - have;
    say(`scaling the Deployment to ${rssPods} replicas`);
    const cpu0 = cpuSeconds(pid);
    const t0 = performance.now();
    const scale = JSON.stringify({ spec: { replicas: rssPods } });
    if (created) await must(c, "PATCH", "/apis/apps/v1/namespaces/bench/deployments/bench", scale, 200, "application/merge-patch+json");
    else await must(c, "POST", "/apis/apps/v1/namespaces/bench/deployments", deployment(rssPods), 201);
    const tCreated = await pods.waitFor("added", addedBase + rssPods);
    const tReady = await pods.waitFor("ready", readyBase + rssPods);
    // Pods replaced on the way (evicted from a node that looked dead) count above; RSS is read with all of them Ready at once.
    await pods.waitForLiveReady(rssPods);
    say(`${rssPods} pods Ready ${secs(t0, tReady)}s after the scale`);
    rss.scaleUp = { podsCreatedSeconds: secs(t0, tCreated), podsReadySeconds: secs(t0, tReady), serverCpuSeconds: round(cpuSeconds(pid) - cpu0) };
    const settleMs = smoke ? 1000 : 15_000;
    const rssReadings = smoke ? 1 : 5;
    const withCm = await settledRss(pid, settleMs, rssReadings);
    rss.withControllersMB = withCm.rssMB;
    rss.withControllersPeakMB = withCm.peakMB;
    rss.agentMB = rssMB(agent.pid).rss;
    say(`server RSS with controllers and ${rssPods} pods: ${JSON.stringify(withCm)}`);
    await stopAll();

    // The same pods without the controller manager: the bench creates them itself.
    say(`second server, --disable controller-manager, ${rssPods} pods created by the bench`);
    const second = await startServer("skiff-nocm", ["--disable", "controller-manager"]);
    say(`server pid=${second.server.pid}; starting agent`);
    await startAgent(second.dataDir, second.server.port, "sim", numNodes, agentConfig);
    await waitNodesReady(second.c, new Set(Array.from({ length: numNodes }, (_, i) => `sim-${i}`)));
    say("nodes Ready; creating pods");
    await must(second.c, "POST", "/api/v1/namespaces", namespace("bench"), 201);
    const pods2 = new PodTracker(second.c, "bench", say);
    await pods2.start();
    running.push({ stop: async () => pods2.close() });
    const body = (i: number) => JSON.stringify({ apiVersion: "v1", kind: "Pod", metadata: { name: `bench-${i}`, namespace: "bench", labels: LABELS }, spec: podSpec });
    await pool(
      Array.from({ length: rssPods }, (_, i) => i),
      clients,
      async (i) => void (await must(second.c, "POST", "/api/v1/namespaces/bench/pods", body(i), 201)),
    );
    await pods2.waitFor("ready", rssPods);
    const withoutCm = await settledRss(second.server.pid, settleMs, rssReadings);
    rss.withoutControllersMB = withoutCm.rssMB;
    rss.withoutControllersPeakMB = withoutCm.peakMB;
    rss.controllerManagerShareMB = round(withCm.rssMB - withoutCm.rssMB, 1);
    rss.note =
      "the controllers run on a worker thread of the server process and per-thread RSS is not separable: controllerManagerShareMB is the server's RSS with the controller manager minus its RSS with --disable controller-manager, same pods, nodes and agent";
    say(`server RSS without controllers: ${JSON.stringify(withoutCm)}`);
  }

  const deploy = result.deploy as { podsCreatedSeconds: number; podsReadySeconds: number } | null;
  const rss = result.rss as { controllerManagerShareMB?: number } | null;
  const full = replicas === 1000 && numNodes === 100 && rssPods === 10_000;
  result.targets = {
    sizesAsIssue: full,
    createdWithin3s: deploy ? deploy.podsCreatedSeconds <= 3 : null,
    readyWithin10s: deploy ? deploy.podsReadySeconds <= 10 : null,
    controllerManagerAtMost150MB: rss?.controllerManagerShareMB !== undefined ? rss.controllerManagerShareMB <= 150 : null,
  };
  result.benchCpuSeconds = round(process.cpuUsage().user / 1e6 + process.cpuUsage().system / 1e6);
} finally {
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
}
process.stdout.write(`${JSON.stringify(result)}\n`);

/**
 * Starts an agent holding `failNodes` nodes, binds `failPods` pods that
 * tolerate a failed node for 0 s to them, kills the agent, and measures
 * how fast the pods are evicted (marked for deletion) once the node
 * lifecycle controller taints the nodes.
 */
async function evictionPhase(
  c: Client,
  serverDataDir: string,
  port: number,
  config: string,
  serverPid: number,
  failNodes: number,
  serverArgs: string[],
): Promise<Record<string, unknown>> {
  const failPods = failNodes * failPodsPerNode;
  say(`eviction: an agent with ${failNodes} nodes and ${failPods} pods`);
  const victim = await startAgent(serverDataDir, port, "fail", failNodes, config);
  const names = Array.from({ length: failNodes }, (_, i) => `fail-${i}`);
  await waitNodesReady(c, new Set(names));
  await must(c, "POST", "/api/v1/namespaces", namespace("evict"), 201);
  const tracker = new PodTracker(c, "evict", say);
  await tracker.start();
  try {
    await pool(
      Array.from({ length: failPods }, (_, i) => i),
      clients,
      async (i) => void (await must(c, "POST", "/api/v1/namespaces/evict/pods", evictablePod(`evict-${i}`, names[i % failNodes]!), 201)),
    );
    await tracker.waitFor("ready", failPods);
    const cpu0 = cpuSeconds(serverPid);
    say(`killing agent pid=${victim.pid} (nodes ${names.join(",")})`);
    const tKill = performance.now();
    await victim.kill();
    const taints = pollNoExecuteTaints(c, names);
    try {
      // Nothing happens for the grace period: the stall limit must outlast it.
      const stallMs = 120_000 + (parseGrace(gracePeriod) ?? 60_000);
      const first = await tracker.waitFor("deleting", 1, stallMs);
      const last = await tracker.waitFor("deleting", failPods, stallMs);
      const span = (last - first) / 1000;
      const tainted = [...taints.at.values()].sort((a, b) => a - b);
      const res = {
        nodes: failNodes,
        pods: failPods,
        serverFlags: serverArgs.join(" "),
        firstTaintAfterKillSeconds: tainted.length ? secs(tKill, tainted[0]!) : null,
        lastTaintAfterKillSeconds: tainted.length === failNodes ? secs(tKill, tainted[tainted.length - 1]!) : null,
        firstEvictionAfterKillSeconds: secs(tKill, first),
        lastEvictionAfterKillSeconds: secs(tKill, last),
        // From the first pod marked for deletion to the last: how fast the evictions themselves go.
        podsPerSecond: span > 0 ? Math.round(failPods / span) : null,
        // From the first NoExecute taint seen (polled every 250 ms) to the last eviction: the reaction included.
        podsPerSecondFromTaint: tainted.length && last > tainted[0]! ? Math.round(failPods / ((last - tainted[0]!) / 1000)) : null,
        serverCpuSeconds: round(cpuSeconds(serverPid) - cpu0),
        nodeTaints: Object.fromEntries(taints.taints),
      };
      say(`eviction: ${JSON.stringify(res)}`);
      return res;
    } finally {
      taints.stop();
    }
  } finally {
    tracker.close();
    // The evicted pods stay terminating with no kubelet to finish them: remove them and the dead nodes, so later phases see a clean cluster.
    await must(c, "DELETE", "/api/v1/namespaces/evict/pods?gracePeriodSeconds=0", undefined, 200).catch((err) => say(`cleanup: ${(err as Error).message}`));
    await pool(names, 8, async (n) => void (await c.send("DELETE", `/api/v1/nodes/${n}`)));
  }
}

function parseGrace(d: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(d);
  if (!m) return undefined;
  return Number(m[1]) * (m[2] === "ms" ? 1 : m[2] === "s" ? 1000 : 60_000);
}

/**
 * Polls `names` every 250 ms and notes when each first carries the
 * node.kubernetes.io/unreachable or not-ready NoExecute taint.
 */
function pollNoExecuteTaints(c: Client, names: string[]): { at: Map<string, number>; taints: Map<string, string[]>; stop(): void } {
  const at = new Map<string, number>();
  const taints = new Map<string, string[]>();
  let stopped = false;
  void (async () => {
    while (!stopped) {
      await Promise.all(
        names.map(async (name) => {
          const r = await c.send("GET", `/api/v1/nodes/${name}`).catch(() => undefined);
          if (r?.status !== 200) return;
          const node = JSON.parse(r.body.toString()) as NodeList["items"][number];
          const list = node.spec?.taints ?? [];
          taints.set(name, list.map((t) => `${t.key}:${t.effect}`));
          if (!at.has(name) && list.some((t) => t.effect === "NoExecute" && /^node\.kubernetes\.io\/(unreachable|not-ready)$/.test(t.key))) at.set(name, performance.now());
        }),
      );
      await sleep(250);
    }
  })();
  return {
    at,
    taints,
    stop() {
      stopped = true;
    },
  };
}
