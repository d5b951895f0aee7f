/**
 * The Summary API of a simulated node (`--runtime sim`): nothing runs, so
 * the figures are simulated, deterministically from the pod specs:
 *
 * - every running container uses exactly its requests: cpu = its cpu
 *   request (1m without one), memory working set = its memory request
 *   (1 MiB without one) — so `kubectl top` and autoscalers see what the
 *   scheduler reserved;
 * - a pod is the sum of its containers;
 * - the node is its pods plus {@link SIM_NODE_SYSTEM_USAGE} for the
 *   system daemons a real node runs, and its memory capacity comes from
 *   the simulated capacity.
 *
 * Cumulative cpu counters grow at those rates from each container's
 * creation (the node's from the provider's start), so readers that rate
 * two documents (metrics-server) get the same figures back. Figures are
 * never zero: metrics-server drops zero cpu or memory as missing, so the
 * counters start at 1 ns.
 * No filesystems, network or rlimit are simulated.
 */
import type { Container, Pod } from "kubernetes-types/core/v1.js";
import { type Clock, systemClock } from "../../machinery/clock.js";
import type { ContainerRuntime } from "../../runtime/types.js";
import { milliValue, value } from "../../scheduler/framework/quantity.js";
import { quantityValue } from "../node/quantity.js";
import { listRuntimePods } from "./runtime-pods.js";
import { type ContainerStats, metaTime, type PodStats, type StatsProvider, type Summary } from "./types.js";

/** Usage of a simulated container that requests nothing. */
export const SIM_CONTAINER_DEFAULT_USAGE = Object.freeze({ nanoCores: 1_000_000, memoryBytes: 1024 * 1024 });

/** What a simulated node's own daemons use besides pods (100m, 256 MiB). */
export const SIM_NODE_SYSTEM_USAGE = Object.freeze({ nanoCores: 100_000_000, memoryBytes: 256 * 1024 * 1024 });

/** Options of a {@link SimStatsProvider}. */
export interface SimStatsProviderOptions {
  readonly nodeName: string;
  readonly runtime: ContainerRuntime;
  /** The kubelet's pods (their specs give the requests). */
  readonly pods: () => readonly Pod[];
  /** The node's capacity (memory gives availableBytes). */
  readonly capacity: Readonly<Record<string, string>>;
  readonly clock?: Clock;
}

interface Usage {
  readonly nanoCores: number;
  readonly memoryBytes: number;
}

/** A cumulative counter integrated from rates that may change between calls. */
interface Counter {
  nanos: number;
  atMs: number;
}

/** The simulated usage of one container spec. */
export function simulatedUsage(c: Container | undefined): Usage {
  const req = c?.resources?.requests ?? {};
  const cpuMilli = req.cpu !== undefined ? milliValue(req.cpu) : 0;
  const mem = req.memory !== undefined ? value(req.memory) : 0;
  return {
    nanoCores: cpuMilli > 0 ? cpuMilli * 1_000_000 : SIM_CONTAINER_DEFAULT_USAGE.nanoCores,
    memoryBytes: mem > 0 ? mem : SIM_CONTAINER_DEFAULT_USAGE.memoryBytes,
  };
}

/** See the module comment. */
export class SimStatsProvider implements StatsProvider {
  private readonly clock: Clock;
  private readonly startedAt: number;
  private readonly node: Counter;
  /** Per container id. */
  private readonly counters = new Map<string, Counter>();
  private nodeRate = SIM_NODE_SYSTEM_USAGE.nanoCores;

  constructor(private readonly o: SimStatsProviderOptions) {
    this.clock = o.clock ?? systemClock;
    this.startedAt = this.clock.now();
    this.node = { nanos: 1, atMs: this.startedAt };
  }

  async summary(): Promise<Summary> {
    const now = this.clock.now();
    const time = metaTime(now);
    const specs = new Map(this.o.pods().map((p) => [p.metadata?.uid ?? "", p]));
    const running = await listRuntimePods(this.o.runtime);
    const live = new Set<string>();
    const pods: PodStats[] = [];
    let nodeRate = SIM_NODE_SYSTEM_USAGE.nanoCores;
    let nodeMemory = SIM_NODE_SYSTEM_USAGE.memoryBytes;
    for (const p of running) {
      const spec = specs.get(p.uid);
      const containers: ContainerStats[] = [];
      let podNanos = 0;
      let podRate = 0;
      let podMemory = 0;
      for (const c of p.containers) {
        live.add(c.id);
        const usage = simulatedUsage(spec?.spec?.containers?.find((x) => x.name === c.name) ?? spec?.spec?.initContainers?.find((x) => x.name === c.name));
        const counter = this.counters.get(c.id) ?? { nanos: 1, atMs: Math.min(c.createdAt, now) };
        counter.nanos += (usage.nanoCores * Math.max(0, now - counter.atMs)) / 1000;
        counter.atMs = now;
        this.counters.set(c.id, counter);
        const cumulative = Math.round(counter.nanos);
        podNanos += cumulative;
        podRate += usage.nanoCores;
        podMemory += usage.memoryBytes;
        containers.push({
          name: c.name,
          startTime: metaTime(c.createdAt),
          cpu: { time, usageNanoCores: usage.nanoCores, usageCoreNanoSeconds: cumulative },
          memory: { time, usageBytes: usage.memoryBytes, workingSetBytes: usage.memoryBytes, rssBytes: usage.memoryBytes, pageFaults: 0, majorPageFaults: 0 },
        });
      }
      nodeRate += podRate;
      nodeMemory += podMemory;
      pods.push({
        podRef: { name: p.name, namespace: p.namespace, uid: p.uid },
        startTime: metaTime(p.createdAt),
        containers,
        cpu: { time, usageNanoCores: podRate, usageCoreNanoSeconds: podNanos },
        memory: { time, usageBytes: podMemory, workingSetBytes: podMemory, rssBytes: podMemory, pageFaults: 0, majorPageFaults: 0 },
      });
    }
    for (const id of this.counters.keys()) if (!live.has(id)) this.counters.delete(id);
    // The node's counter grows at the rate it had since the last call, so it never goes back when pods leave.
    this.node.nanos += (this.nodeRate * Math.max(0, now - this.node.atMs)) / 1000;
    this.node.atMs = now;
    this.nodeRate = nodeRate;
    const capacity = this.o.capacity.memory !== undefined ? quantityValue(this.o.capacity.memory) : undefined;
    return {
      node: {
        nodeName: this.o.nodeName,
        startTime: metaTime(this.startedAt),
        cpu: { time, usageNanoCores: nodeRate, usageCoreNanoSeconds: Math.round(this.node.nanos) },
        memory: {
          time,
          ...(capacity !== undefined ? { availableBytes: Math.max(0, capacity - nodeMemory) } : {}),
          usageBytes: nodeMemory,
          workingSetBytes: nodeMemory,
          rssBytes: nodeMemory,
          pageFaults: 0,
          majorPageFaults: 0,
        },
      },
      pods,
    };
  }
}
