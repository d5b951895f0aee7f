/**
 * A throughput measurement of the pure scheduling core: N nodes in the
 * cache, P pending pods in the queue, then pop → schedulePod → assume →
 * Reserve → Permit for every pod, with the default profile. Prints one JSON
 * line. Not a test (no timing assertions anywhere); run it by hand:
 *
 *   NODES=5000 PODS=10000 node --import tsx src/scheduler/testing/throughput.ts
 */
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
  podsPerSecond: number;
}

export function measureThroughput(numNodes: number, numPods: number): Throughput {
  const registry = newInTreeRegistry();
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
  const template = makePod("t").req({ cpu: "100m", memory: "128Mi" }, "img1").obj();
  for (let i = 0; i < numPods; i++) queue.add({ ...template, metadata: { name: `pod-${i}`, namespace: "default", uid: `uid-${i}` } });

  const start = performance.now();
  let scheduled = 0;
  for (let p = queue.tryPop(); p; p = queue.tryPop()) {
    const state = new CycleState();
    const out = fwk.schedulePod(state, p.pod);
    if (out.kind !== "scheduled") throw new Error(`pod ${p.pod.metadata?.name} not scheduled: ${out.kind}`);
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
  return { nodes: numNodes, pods: scheduled, ms: Math.round(ms), podsPerSecond: Math.round((scheduled / ms) * 1000) };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(measureThroughput(Number(process.env.NODES ?? 5000), Number(process.env.PODS ?? 10000))));
}
