/**
 * A throughput measurement of the pure scheduling core: N nodes in the
 * cache, P pending pods in the queue, then pop → schedulePod → assume →
 * Reserve → Permit for every pod, with the default profile. Prints one JSON
 * line. Not a test (no timing assertions anywhere); run it by hand:
 *
 *   NODES=5000 PODS=10000 node --import tsx src/scheduler/testing/throughput.ts
 *
 * AFFINITY=1 gives every pod a required pod anti-affinity (hostname) and a
 * DoNotSchedule topology spread constraint (zone, maxSkew 1) against the
 * other pods of its group of GROUP_SIZE (default 100) pods. WITHOUT=A,B
 * leaves plugins out of the registry (e.g. to compare with and without
 * InterPodAffinity,PodTopologySpread,VolumeBinding,DefaultPreemption).
 */
import type { Pod } from "kubernetes-types/core/v1.js";
import { defaultSchedulerConfig } from "../config/defaults.js";
import { Cache } from "../framework/cache.js";
import { CycleState } from "../framework/cycle-state.js";
import { newInTreeRegistry } from "../plugins/registry.js";
import { buildProfiles } from "../profile.js";
import { PriorityQueue } from "../queue/scheduling-queue.js";
import { makeNode, makePod } from "./wrappers.js";

export interface Throughput {
  nodes: number;
  pods: number;
  ms: number;
  /** CPU time of the loop (user + system), less affected than `ms` by other load on the machine. */
  cpuMs: number;
  podsPerSecond: number;
  affinity?: boolean;
  without?: string[];
}

export interface ThroughputOptions {
  /** Pods with required anti-affinity and a topology spread constraint within groups. */
  affinity?: boolean;
  /** Pods per group when `affinity` is set (at most half the nodes, so every pod fits). */
  groupSize?: number;
  /** Plugins to leave out of the registry. */
  without?: readonly string[];
}

function podTemplate(i: number, opts: ThroughputOptions): Pod {
  if (!opts.affinity) return makePod("t").req({ cpu: "100m", memory: "128Mi" }, "img1").obj();
  const group = `g${Math.floor(i / (opts.groupSize ?? 100))}`;
  return makePod("t")
    .req({ cpu: "100m", memory: "128Mi" }, "img1")
    .labels({ app: group })
    .podAntiAffinityIn("app", "kubernetes.io/hostname", [group])
    .spreadConstraint(1, "topology.kubernetes.io/zone", "DoNotSchedule", { matchLabels: { app: group } })
    .obj();
}

export function measureThroughput(numNodes: number, numPods: number, opts: ThroughputOptions = {}): Throughput {
  const registry = newInTreeRegistry();
  for (const name of opts.without ?? []) registry.delete(name);
  const cache = new Cache();
  for (let i = 0; i < numNodes; i++) {
    cache.addNode(
      makeNode(`node-${i}`)
        .labels({ "topology.kubernetes.io/zone": `zone-${i % 3}` })
        .capacity({ cpu: "32", memory: "128Gi", pods: "110" })
        .images({ [`img${i % 10}:latest`]: 300 * 1024 * 1024 })
        .obj(),
    );
  }
  const built = buildProfiles(defaultSchedulerConfig(registry), registry, { skipUnregisteredPlugins: true, cache });
  if (!built.ok) throw new Error(built.error);
  const fwk = built.frameworks.get("default-scheduler")!;
  const queue = PriorityQueue.forFrameworks([fwk]);
  fwk.setPodNominator(queue);
  for (let i = 0; i < numPods; i++) {
    const t = podTemplate(i, opts);
    queue.add({ ...t, metadata: { ...t.metadata, name: `pod-${i}`, namespace: "default", uid: `uid-${i}` } });
  }

  const start = performance.now();
  const cpuStart = process.cpuUsage();
  let scheduled = 0;
  for (let p = queue.tryPop(); p; p = queue.tryPop()) {
    const state = new CycleState();
    const out = fwk.schedulePod(state, p.pod);
    if (out.kind === "unschedulable") throw new Error(`pod ${p.pod.metadata?.name} not scheduled: ${out.fitError.message}`);
    if (out.kind !== "scheduled") throw new Error(`pod ${p.pod.metadata?.name} not scheduled: ${out.status.message()}`);
    const host = out.result.suggestedHost;
    const assumed = { ...p.pod, spec: { ...p.pod.spec!, nodeName: host } };
    const err = cache.assumePod(assumed);
    if (err) throw new Error(err);
    fwk.runReservePluginsReserve(state, assumed, host);
    fwk.runPermitPlugins(state, assumed, host);
    cache.finishBinding(assumed);
    scheduled++;
  }
  const ms = performance.now() - start;
  const cpu = process.cpuUsage(cpuStart);
  const cpuMs = Math.round((cpu.user + cpu.system) / 1000);
  const out: Throughput = { nodes: numNodes, pods: scheduled, ms: Math.round(ms), cpuMs, podsPerSecond: Math.round((scheduled / ms) * 1000) };
  if (opts.affinity) out.affinity = true;
  if (opts.without?.length) out.without = [...opts.without];
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const without = (process.env.WITHOUT ?? "").split(",").filter((s) => s !== "");
  const opts: ThroughputOptions = { affinity: process.env.AFFINITY === "1", groupSize: Number(process.env.GROUP_SIZE ?? 100), without };
  console.log(JSON.stringify(measureThroughput(Number(process.env.NODES ?? 5000), Number(process.env.PODS ?? 10000), opts)));
}
