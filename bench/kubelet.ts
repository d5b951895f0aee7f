/**
 * `npm run bench:kubelet`: the node agent's figures, one JSON line.
 *
 * Real node: a `skiff server --disable-agent` process and a separate
 * `skiff agent --runtime runc` process (joined with the server's token, its
 * own data dir holding the busybox test image, its own bridge, netns prefix
 * and cgroup root), so the agent's RSS is its own process's (VmRSS):
 *   - agent RSS 2 s after its node registered, and idle (after it settles);
 *   - pod startup latency, from sending the create request to the pod shown
 *     Running on a watch, for `sleep 3600` pods from the local image
 *     (imagePullPolicy Never), placed by the server's scheduler: 30 pods one
 *     at a time, then (those deleted) 30 pods all at once; p50/p99 each;
 *   - agent RSS with 30 pods running; then every pod deleted and the node
 *     cleaned up (network, cgroups, mounts);
 *   - the yardstick: a bare `runc run` of /bin/true, timed before and after
 *     the pods, so latencies taken on a busy shared machine read as ratios.
 * Simulated nodes: a fresh server and `skiff agent --runtime sim
 * --simulate-nodes 1000` (upstream's 10 s heartbeats), then 30,000 pods
 * created through the API with spec.nodeName set round-robin (no scheduler
 * in the way: what is measured is the agent) by concurrent clients; agent
 * RSS and CPU (utime+stime from /proc/PID/stat) while the pods start and
 * over a window with only heartbeats running.
 *
 * By default the agent runs from a build of the sources (compiled into a
 * temporary directory first), as `npx skiff agent` runs; `--from-source`
 * runs it under tsx instead (more memory: the loader and its transforms).
 *
 * Flags: --smoke (3 pods, 10 nodes, 100 pods, short waits, the agent run
 * from source unless --agent-main: a check that the bench works, in well
 * under 90 s, not figures), --pods N, --sim-nodes N,
 * --sim-pods N, --idle-seconds N, --window-seconds N, --sim-timeout-seconds N
 * (give up waiting for every simulated pod to run: figures marked
 * `complete: false`; 1,200), --phases real,sim,
 * --from-source, --agent-main FILE (a built main.js),
 * --agent-node-args="ARGS" (node flags for the agent, e.g.
 * --agent-node-args=--heapsnapshot-signal=SIGUSR2; note the `=`),
 * --agent-log FILE, --keep-dir, --clients N (concurrent creates, 32).
 * Progress goes to standard error; only the JSON line to standard output.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import {
  BUSYBOX_IMAGE,
  cleanupNode,
  importBusybox,
  type NodeIdentity,
  nodeIdentity,
  nodeLeftovers,
  TEST_CLUSTER_CIDR,
  TEST_SERVICE_CIDR,
  writeKubeletConfig,
} from "../test/support/node-cluster.js";
import { RuncPaths } from "../src/runtime/runc/paths.js";
import { bareRuncRuns } from "./support/bare-runc.js";
import { buildSkiff } from "./support/build.js";
import { Client, readKubeconfig } from "./support/https-client.js";
import { PodWatch } from "./support/pod-watch.js";
import { rssMB, type SkiffServer, startSkiffServer } from "./support/processes.js";
import { cpuSeconds, type SkiffProcess, startSkiff } from "./support/skiff-process.js";

const { values } = parseArgs({
  options: {
    smoke: { type: "boolean", default: false },
    pods: { type: "string" },
    "sim-nodes": { type: "string" },
    "sim-pods": { type: "string" },
    "idle-seconds": { type: "string" },
    "window-seconds": { type: "string" },
    "sim-timeout-seconds": { type: "string" },
    phases: { type: "string", default: "real,sim" },
    "from-source": { type: "boolean", default: false },
    "agent-main": { type: "string" },
    "agent-node-args": { type: "string" },
    "agent-log": { type: "string" },
    "keep-dir": { type: "boolean", default: false },
    clients: { type: "string", default: "32" },
  },
});
const smoke = values.smoke!;
const numPods = Number(values.pods ?? (smoke ? 3 : 30));
const simNodes = Number(values["sim-nodes"] ?? (smoke ? 10 : 1000));
const simPods = Number(values["sim-pods"] ?? (smoke ? 100 : 30_000));
const idleSeconds = Number(values["idle-seconds"] ?? (smoke ? 3 : 45));
const windowSeconds = Number(values["window-seconds"] ?? (smoke ? 5 : 60));
/** Pauses that let status writes and events settle before a sample. */
const settleMs = smoke ? 1000 : 5000;
const simTimeoutSeconds = Number(values["sim-timeout-seconds"] ?? (smoke ? 120 : 1200));
const clients = Number(values.clients);
const phases = new Set(values.phases!.split(","));
const agentNodeArgs = values["agent-node-args"]?.split(/\s+/).filter(Boolean) ?? [];
for (const [flag, n] of Object.entries({ pods: numPods, "sim-nodes": simNodes, "sim-pods": simPods, "idle-seconds": idleSeconds, "window-seconds": windowSeconds, "sim-timeout-seconds": simTimeoutSeconds, clients })) {
  if (!Number.isFinite(n) || n < 1) throw new Error(`--${flag} must be a number >= 1`);
}
for (const p of phases) if (p !== "real" && p !== "sim") throw new Error(`--phases takes real and sim, not ${p}`);

const say = (msg: string) => process.stderr.write(`bench:kubelet ${msg}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (n: number, d = 1) => Math.round(n * 10 ** d) / 10 ** d;
/** Nearest-rank percentile of sorted values: with 30 samples, p99 is the largest. */
const pct = (sorted: readonly number[], p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]! : Number.NaN);

async function pool<T>(items: readonly T[], n: number, f: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      for (let i = next++; i < items.length; i = next++) await f(items[i]!);
    }),
  );
}

/**
 * Sends a request and checks its status. A 429 (the API server's max
 * in-flight limit, hit by 30,000 creates on a busy machine) is retried after
 * its Retry-After, as client-go does, rather than ending the run.
 */
async function must(c: Client, method: string, path: string, body: string | undefined, want: number[]): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    const r = await c.send(method, path, body === undefined ? {} : { body });
    if (r.status === 429 && !want.includes(429) && attempt < 60) {
      const after = Number((JSON.parse(r.body.toString() || "{}") as { details?: { retryAfterSeconds?: number } }).details?.retryAfterSeconds ?? 1);
      await sleep(Math.max(1, Number.isFinite(after) ? after : 1) * 1000);
      continue;
    }
    if (!want.includes(r.status)) throw new Error(`${method} ${path}: HTTP ${r.status}: ${r.body.toString().slice(0, 400)}`);
    return r.body.toString();
  }
}

function namespace(name: string): string {
  return JSON.stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name } });
}

/**
 * A `sleep 3600` pod of the busybox image: from the node's store (pull
 * policy Never) on the real node; a simulated node "pulls" it (IfNotPresent).
 */
function sleepPod(ns: string, name: string, nodeName?: string): string {
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: ns },
    spec: {
      ...(nodeName ? { nodeName } : {}),
      terminationGracePeriodSeconds: 1,
      containers: [{ name: "sleep", image: BUSYBOX_IMAGE, imagePullPolicy: nodeName ? "IfNotPresent" : "Never", command: ["sleep", "3600"] }],
    },
  });
}

/** Agent memory and CPU now. */
function sample(pid: number): { rssMB: number; peakMB: number; cpuSeconds: number } {
  const m = rssMB(pid);
  return { rssMB: m.rss, peakMB: m.peak, cpuSeconds: cpuSeconds(pid) };
}

interface Latency {
  pods: number;
  p50Ms: number;
  p99Ms: number;
  minMs: number;
  maxMs: number;
  seconds: number;
}

function latency(sent: Map<string, number>, watch: PodWatch): Latency {
  const lat = [...sent].map(([n, t]) => watch.runningAt.get(n)! - t).sort((a, b) => a - b);
  const first = Math.min(...sent.values());
  const last = Math.max(...[...sent.keys()].map((n) => watch.runningAt.get(n)!));
  return { pods: lat.length, p50Ms: round(pct(lat, 50)), p99Ms: round(pct(lat, 99)), minMs: round(lat[0]!), maxMs: round(lat[lat.length - 1]!), seconds: round((last - first) / 1000, 2) };
}

/** Deletes the namespace's pods (grace period 1 s) and waits until the watch shows every one gone. */
async function deleteAll(c: Client, ns: string, watch: PodWatch): Promise<number> {
  const t0 = performance.now();
  await must(c, "DELETE", `/api/v1/namespaces/${ns}/pods`, JSON.stringify({ apiVersion: "v1", kind: "DeleteOptions", gracePeriodSeconds: 1 }), [200]);
  await watch.waitUntil(`the pods of ${ns} to be deleted`, () => watch.present.size === 0, () => watch.present.size, 90_000);
  return round((performance.now() - t0) / 1000, 2);
}

const result: Record<string, unknown> = { bench: "kubelet", smoke, real: null, sim: null };
const dir = mkdtempSync(join(tmpdir(), "skiff-bench-kubelet-"));
const stops: (() => Promise<void> | void)[] = [];
let agentMain: string | undefined = values["agent-main"] ? resolve(values["agent-main"]) : undefined;

/** Stops what was started, last first; failures are reported, not thrown, so every step runs. */
async function unwind(): Promise<void> {
  while (stops.length) {
    try {
      await stops.pop()!();
    } catch (err) {
      say(`cleanup: ${(err as Error).message}`);
      process.exitCode = 1;
    }
  }
}

async function server(name: string, extraArgs: string[]): Promise<{ srv: SkiffServer; c: Client; token: string }> {
  const srv = await startSkiffServer(join(dir, name), { extraArgs });
  stops.push(() => srv.stop());
  const c = new Client(readKubeconfig(srv.kubeconfig), clients);
  stops.push(() => c.close());
  const token = readFileSync(join(dir, name, "token"), "utf8").trim();
  return { srv, c, token };
}

function agent(args: string[]): SkiffProcess {
  const p = startSkiff(["agent", ...args], {
    ...(agentMain ? { main: agentMain } : {}),
    nodeArgs: agentNodeArgs,
    ...(values["agent-log"] ? { logFile: resolve(values["agent-log"]) } : {}),
  });
  stops.push(() => p.stop());
  return p;
}

/** Kills and removes containers a failed run left under the agent's runc root (conmon exits with them). */
function killLeftContainers(agentDir: string): void {
  const root = new RuncPaths(join(agentDir, "agent", "runtime")).runcRoot;
  const list = spawnSync("runc", ["--root", root, "list", "--format", "json"], { encoding: "utf8" });
  if (list.status !== 0) return;
  const ids = ((JSON.parse(list.stdout || "null") as { id: string }[] | null) ?? []).map((x) => x.id);
  for (const id of ids) {
    say(`killing left container ${id}`);
    spawnSync("runc", ["--root", root, "kill", id, "KILL"]);
    spawnSync("runc", ["--root", root, "delete", "--force", id]);
  }
}

/** The node's Ready condition status, polled until True. */
async function waitNodeReady(c: Client, name: string, timeoutMs: number): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (performance.now() < end) {
    const r = await c.send("GET", `/api/v1/nodes/${name}`);
    if (r.status === 200 && /"type":"Ready","status":"True"/.test(r.body.toString())) return;
    await sleep(200);
  }
  throw new Error(`node ${name} not Ready after ${timeoutMs / 1000}s`);
}

async function realNode(): Promise<Record<string, unknown>> {
  const { srv, c, token } = await server("real-server", ["--cluster-cidr", TEST_CLUSTER_CIDR, "--service-cidr", TEST_SERVICE_CIDR]);
  const node: NodeIdentity = nodeIdentity();
  const agentDir = join(dir, "real-agent");
  mkdirSync(agentDir);
  say("importing the busybox image into the node's store");
  importBusybox(agentDir);
  const kubeletConfig = writeKubeletConfig(agentDir, node);
  // Pushed before the agent's own stop, so it runs once the agent is gone.
  stops.push(() => {
    killLeftContainers(agentDir);
    cleanupNode(agentDir, node, kubeletConfig);
    const left = nodeLeftovers({ ...node, dataDir: agentDir });
    if (left.length) throw new Error(`the node left ${left.join(", ")}`);
  });
  const a = agent([
    "--runtime", "runc",
    "--server", `https://127.0.0.1:${srv.port}`,
    "--token", token,
    "--node-name", node.nodeName,
    "--node-ip", "127.0.0.1",
    "--kubelet-port", "0",
    "--kubelet-config", kubeletConfig,
    "--data-dir", agentDir,
    "--cluster-cidr", TEST_CLUSTER_CIDR,
    "--service-cidr", TEST_SERVICE_CIDR,
  ]); // prettier-ignore
  // Runs before the agent stops: pods go the way a user's would (a no-op once the phases deleted them).
  stops.push(async () => {
    const r = await c.send("DELETE", "/api/v1/namespaces/bench/pods", { body: JSON.stringify({ apiVersion: "v1", kind: "DeleteOptions", gracePeriodSeconds: 1 }) });
    if (r.status !== 200 && r.status !== 404) return;
    for (let i = 0; i < 120; i++) {
      const left = await c.send("GET", "/api/v1/namespaces/bench/pods?limit=1");
      if (left.status !== 200 || !/"items":\[\{/.test(left.body.toString())) return;
      await sleep(500);
    }
    say("pods of bench still there after 60s; the node cleanup kills their containers");
  });
  await a.waitForLine(/msg="nodes registered"/, 120_000);
  await sleep(2000);
  const at2s = sample(a.pid);
  say(`agent pid=${a.pid} registered; rss after 2s ${at2s.rssMB} MB`);
  await waitNodeReady(c, node.nodeName, 60_000);
  await must(c, "POST", "/api/v1/namespaces", namespace("bench"), [201]);
  const watch = new PodWatch(c, "bench", say);
  stops.push(() => watch.close());
  await watch.start();
  say(`idle for ${idleSeconds}s`);
  const idle0 = sample(a.pid);
  await sleep(idleSeconds * 1000);
  const idle = sample(a.pid);
  say(`idle rss ${idle.rssMB} MB`);

  // The machine's speed now (it is shared and noisy): a bare `runc run`, before and after the pods.
  const runcMs = bareRuncRuns(smoke ? 3 : 5);
  say(`${numPods} pods one at a time`);
  const seqSent = new Map<string, number>();
  const seqCpu0 = cpuSeconds(a.pid);
  for (let i = 0; i < numPods; i++) {
    const name = `seq-${i}`;
    seqSent.set(name, performance.now());
    await must(c, "POST", "/api/v1/namespaces/bench/pods", sleepPod("bench", name), [201]);
    await watch.waitUntil(`${name} Running`, () => watch.runningAt.has(name), () => watch.runningAt.size, 60_000);
  }
  const sequential = { ...latency(seqSent, watch), agentCpuSeconds: round(cpuSeconds(a.pid) - seqCpu0, 2) };
  say(`one at a time: ${JSON.stringify(sequential)}`);
  await sleep(settleMs);
  const withSeqPods = sample(a.pid);
  const seqDeleteSeconds = await deleteAll(c, "bench", watch);

  say(`${numPods} pods at once`);
  const burstSent = new Map<string, number>();
  const burstCpu0 = cpuSeconds(a.pid);
  const burstNames = Array.from({ length: numPods }, (_, i) => `burst-${i}`);
  await Promise.all(
    burstNames.map(async (name) => {
      burstSent.set(name, performance.now());
      await must(c, "POST", "/api/v1/namespaces/bench/pods", sleepPod("bench", name), [201]);
    }),
  );
  await watch.waitUntil(`${numPods} pods Running`, () => burstNames.every((n) => watch.runningAt.has(n)), () => watch.runningAt.size, 120_000);
  const allAtOnce = { ...latency(burstSent, watch), agentCpuSeconds: round(cpuSeconds(a.pid) - burstCpu0, 2) };
  say(`all at once: ${JSON.stringify(allAtOnce)}`);
  await sleep(settleMs);
  const withBurstPods = sample(a.pid);
  const burstDeleteSeconds = await deleteAll(c, "bench", watch);
  watch.close();
  runcMs.push(...bareRuncRuns(smoke ? 3 : 5));
  const bareRunc = [...runcMs].sort((x, y) => x - y);
  const bareRuncP50 = pct(bareRunc, 50);
  say(`bare runc run: p50 ${round(bareRuncP50)} ms`);
  const cpuPerSec = (from: { cpuSeconds: number }, to: { cpuSeconds: number }, secs: number) => round(((to.cpuSeconds - from.cpuSeconds) / secs) * 100, 2);
  return {
    node: node.nodeName,
    agentMain: agentMain ? "build" : "source",
    oneAtATime: sequential,
    allAtOnce,
    // The yardstick: p50 of bare `runc run` of /bin/true (~75 ms on a quiet machine), and the p50s as multiples of it.
    bareRuncRunMs: { p50: round(bareRuncP50), min: round(bareRunc[0]!), max: round(bareRunc[bareRunc.length - 1]!), runs: bareRunc.length },
    p50OverBareRunc: { oneAtATime: round(sequential.p50Ms / bareRuncP50, 2), allAtOnce: round(allAtOnce.p50Ms / bareRuncP50, 2) },
    deleteSeconds: { oneAtATime: seqDeleteSeconds, allAtOnce: burstDeleteSeconds },
    agentRssMB: { at2s: at2s.rssMB, idle: idle.rssMB, idleAfterSeconds: idleSeconds + 2, with30Pods: withBurstPods.rssMB, withSequentialPods: withSeqPods.rssMB, peak: withBurstPods.peakMB },
    agentIdleCpuPercent: cpuPerSec(idle0, idle, idleSeconds),
    serverRssMB: rssMB(srv.pid).rss,
  };
}

/**
 * Whether the heartbeats keep up: Leases renewed within their duration
 * (40 s) and Nodes whose Ready condition is True, right now.
 */
async function heartbeatHealth(c: Client): Promise<{ freshLeases: number; readyNodes: number }> {
  const leases = JSON.parse(await must(c, "GET", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases", undefined, [200])) as {
    items: { spec?: { renewTime?: string; leaseDurationSeconds?: number } }[];
  };
  const now = Date.now();
  const freshLeases = leases.items.filter((l) => now - Date.parse(l.spec?.renewTime ?? "") <= (l.spec?.leaseDurationSeconds ?? 40) * 1000).length;
  const nodes = await must(c, "GET", "/api/v1/nodes", undefined, [200]);
  const readyNodes = nodes.match(/"type":"Ready","status":"True"/g)?.length ?? 0;
  return { freshLeases, readyNodes };
}

async function simNodes_(): Promise<Record<string, unknown>> {
  // A pod range with room for a /24 per simulated node, so node IPAM has one for each.
  const { srv, c, token } = await server("sim-server", ["--cluster-cidr", "10.96.0.0/12", "--service-cidr", TEST_SERVICE_CIDR]);
  const t0 = performance.now();
  const a = agent(["--runtime", "sim", "--simulate-nodes", String(simNodes), "--node-name", "sim", "--server", `https://127.0.0.1:${srv.port}`, "--token", token, "--data-dir", join(dir, "sim-agent")]);
  await a.waitForLine(/msg="nodes registered"/, 600_000);
  const registerSeconds = round((performance.now() - t0) / 1000, 2);
  await sleep(2000);
  const registered = sample(a.pid);
  say(`${simNodes} simulated nodes registered in ${registerSeconds}s; agent rss ${registered.rssMB} MB`);
  await must(c, "POST", "/api/v1/namespaces", namespace("sim"), [201]);
  const watch = new PodWatch(c, "sim", say);
  stops.push(() => watch.close());
  await watch.start();

  say(`creating ${simPods} pods`);
  const names = Array.from({ length: simPods }, (_, i) => `p-${i}`);
  const cpu0 = cpuSeconds(a.pid);
  const srvCpu0 = cpuSeconds(srv.pid);
  const c0 = performance.now();
  let created = 0;
  const progress = setInterval(() => {
    // The agent may be gone (a failed run): progress must not throw past the cleanup.
    let rss = "?";
    try {
      rss = String(rssMB(a.pid).rss);
    } catch {}
    say(`created ${created}, running ${watch.runningAt.size}, agent rss ${rss} MB`);
  }, 10_000);
  try {
    await pool(names, clients, async (name) => {
      await must(c, "POST", "/api/v1/namespaces/sim/pods", sleepPod("sim", name, `sim-${Number(name.slice(2)) % simNodes}`), [201]);
      created++;
    });
    const createSeconds = (performance.now() - c0) / 1000;
    // An agent that cannot keep up still gets its figures, marked incomplete, rather than no line at all.
    let complete = true;
    try {
      await watch.waitUntil(`${simPods} pods Running`, () => watch.runningAt.size >= simPods, () => watch.runningAt.size, 180_000, simTimeoutSeconds * 1000);
    } catch (err) {
      complete = false;
      say(`${(err as Error).message}; measuring the window anyway`);
    }
    const runningSeconds = (performance.now() - c0) / 1000;
    const running = watch.runningAt.size;
    const started = sample(a.pid);
    const startCpu = started.cpuSeconds - cpu0;
    const serverStartCpu = cpuSeconds(srv.pid) - srvCpu0;
    say(`${running}/${simPods} Running after ${round(runningSeconds, 1)}s (creates took ${round(createSeconds, 1)}s); agent rss ${started.rssMB} MB`);

    // Let the start-up settle (status writes, events), then a window of heartbeats only.
    await sleep(settleMs * 2);
    const w0 = sample(a.pid);
    const ws0 = cpuSeconds(srv.pid);
    say(`heartbeat window of ${windowSeconds}s`);
    await sleep(windowSeconds * 1000);
    const w1 = sample(a.pid);
    const ws1 = cpuSeconds(srv.pid);
    const heartbeats = await heartbeatHealth(c);
    say(`after the window: ${JSON.stringify(heartbeats)}`);
    return {
      nodes: simNodes,
      pods: simPods,
      placement: "spec.nodeName round-robin",
      complete,
      registerSeconds,
      createSeconds: round(createSeconds, 1),
      ...(complete ? { allRunningSeconds: round(runningSeconds, 1) } : { runningAfterTimeout: running, timeoutSeconds: simTimeoutSeconds }),
      podsPerSec: Math.round(running / runningSeconds),
      heartbeats,
      agentCpuSecondsStartingPods: round(startCpu, 1),
      serverCpuSecondsStartingPods: round(serverStartCpu, 1),
      agentRssMB: { registered: registered.rssMB, allRunning: started.rssMB, window: w1.rssMB, peak: w1.peakMB },
      window: {
        seconds: windowSeconds,
        agentCpuSeconds: round(w1.cpuSeconds - w0.cpuSeconds, 2),
        agentCpuPercent: round(((w1.cpuSeconds - w0.cpuSeconds) / windowSeconds) * 100, 1),
        serverCpuPercent: round(((ws1 - ws0) / windowSeconds) * 100, 1),
      },
      serverRssMB: rssMB(srv.pid).rss,
    };
  } finally {
    clearInterval(progress);
  }
}

try {
  // A smoke run checks the bench works: the build (a minute of tsc on a busy machine) is skipped.
  if (!agentMain && !values["from-source"] && !smoke) {
    say("building the sources (the agent runs as `npx skiff agent` does)");
    agentMain = buildSkiff(join(dir, "build"));
  }
  if (phases.has("real")) {
    if (process.getuid?.() !== 0) throw new Error("the real-node phase needs root (runc, network namespaces, cgroups); run as root or use --phases sim");
    result.real = await realNode();
    await unwind();
  }
  if (phases.has("sim")) {
    result.sim = await simNodes_();
    await unwind();
  }
  const real = result.real as { oneAtATime: Latency; allAtOnce: Latency; agentRssMB: { idle: number } } | null;
  const sim = result.sim as { complete: boolean; agentRssMB: { peak: number } } | null;
  result.targets = {
    oneAtATimeP50AtMost300ms: real ? real.oneAtATime.p50Ms <= 300 : null,
    oneAtATimeP99AtMost1s: real ? real.oneAtATime.p99Ms <= 1000 : null,
    allAtOnceP50AtMost300ms: real ? real.allAtOnce.p50Ms <= 300 : null,
    allAtOnceP99AtMost1s: real ? real.allAtOnce.p99Ms <= 1000 : null,
    agentIdleRssAtMost60MB: real ? real.agentRssMB.idle <= 60 : null,
    // An incomplete run did not hold every pod: it cannot meet the target, whatever its RSS.
    simNodesRssAtMost1GB: sim ? sim.complete && sim.agentRssMB.peak <= 1024 : null,
  };
} finally {
  await unwind();
  if (values["keep-dir"]) say(`kept ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}
process.stdout.write(`${JSON.stringify(result)}\n`);
