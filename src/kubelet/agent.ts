/**
 * A node agent process: one kubelet, or — with simulated nodes — many
 * kubelets sharing one API client, one pod informer and one node informer
 * (pods routed to their kubelet by spec.nodeName client-side), so a
 * thousand simulated nodes cost one watch each rather than a thousand.
 */
import type { Lease } from "kubernetes-types/coordination/v1.js";
import type { Node, Pod } from "kubernetes-types/core/v1.js";
import type { ClientConfig } from "../client/config.js";
import { EventRecorder } from "../client/event-recorder.js";
import { SharedInformer, stripManagedFields } from "../client/informer.js";
import { ResourceClient } from "../client/resource-client.js";
import { LEASES, NODES, PODS } from "../client/resources.js";
import { RestClient } from "../client/rest-client.js";
import { systemTimers, type Timers } from "../client/timers.js";
import type { Logger } from "../machinery/log.js";
import { formatCidr, maskSizeFor, nthSubnet, numberToIp, parseCidr } from "../machinery/cidr.js";
import { SimRuntime } from "../runtime/sim/sim-runtime.js";
import type { KubeletConfig } from "./config.js";
import { recorderEvents } from "./events.js";
import { Kubelet } from "./kubelet.js";
import { Limiter } from "./limiter.js";

/** Options of {@link startAgent}. */
export interface AgentOptions {
  readonly client: ClientConfig;
  /** The node name; with `simulateNodes`, the prefix of `NAME-0` … `NAME-(N-1)`. */
  readonly nodeName: string;
  /** "sim" only, for now. */
  readonly runtime: "sim";
  /** Run this many simulated nodes in this process (0 or undefined: one node named `nodeName`). */
  readonly simulateNodes?: number;
  readonly config: KubeletConfig;
  /** The node's IP (one node only); simulated nodes get 127.1.x.y, loopback addresses nothing leaves the machine for. */
  readonly nodeIP?: string;
  /**
   * Each node's own client (its `system:node:NAME` identity) for what that
   * node writes: its Node, Lease, pod statuses and events, as separate
   * kubelets would (the Node authorizer and NodeRestriction hold each node
   * to its own objects). Without it every node writes with `client`, which
   * also serves the shared watches either way.
   */
  readonly nodeClient?: (nodeName: string) => ClientConfig;
  readonly logger: Logger;
  readonly timers?: Timers;
  /** Concurrent API writes across all nodes (64). */
  readonly maxInFlight?: number;
}

/** A running agent. */
export interface RunningAgent {
  readonly kubelets: readonly Kubelet[];
  /** Resolves once every Node is registered. */
  readonly registered: Promise<void>;
  stop(): Promise<void>;
}

/** 127.1.x.y for node index i: distinct, loopback, never routed off the machine. */
export function simNodeIP(index: number): string {
  return numberToIp(((127 << 24) >>> 0) + (1 << 16) + index + 1);
}

/** Starts the agent: kubelets register and run until {@link RunningAgent.stop}. */
export async function startAgent(opts: AgentOptions): Promise<RunningAgent> {
  const log = opts.logger.with({ component: "kubelet" });
  const timers = opts.timers ?? systemTimers;
  const cfg = opts.config;
  const count = opts.simulateNodes && opts.simulateNodes > 0 ? opts.simulateNodes : 0;
  const names = count > 0 ? Array.from({ length: count }, (_, i) => `${opts.nodeName}-${i}`) : [opts.nodeName];
  const rest = new RestClient({ ...opts.client, userAgent: opts.client.userAgent ?? "skiff-kubelet" }, { maxSockets: 64 });
  const limiter = new Limiter(opts.maxInFlight ?? 64);
  const pods = new ResourceClient<Pod>(rest, PODS);
  const nodes = new ResourceClient<Node>(rest, NODES);
  const leases = new ResourceClient<Lease>(rest, LEASES);

  const cluster = parseCidr(cfg.simulation.clusterCidr);
  const mask = maskSizeFor(cluster, names.length, cfg.simulation.nodeCidrMaskSize);
  if (mask !== cfg.simulation.nodeCidrMaskSize) {
    log.info("node pod ranges made smaller so every simulated node fits", { clusterCIDR: cfg.simulation.clusterCidr, nodeCIDRMaskSize: mask, nodes: names.length });
  }
  if (names.length > 2 ** (mask - cluster.prefix)) {
    throw new Error(`simulation.clusterCIDR ${cfg.simulation.clusterCidr} cannot hold ${names.length} node ranges; use a larger range`);
  }

  const recorders: EventRecorder[] = [];
  const runtimes: SimRuntime[] = [];
  // Few sockets each: a simulated node writes a heartbeat and a few statuses, the shared client does the rest.
  const own = opts.nodeClient ? new Map(names.map((n) => [n, new RestClient({ ...opts.nodeClient!(n), userAgent: opts.client.userAgent ?? "skiff-kubelet" }, { maxSockets: 4 })])) : undefined;
  const kubelets = names.map((nodeName, i) => {
    const nodeRest = own?.get(nodeName) ?? rest;
    const nodeIP = count === 0 && opts.nodeIP ? opts.nodeIP : simNodeIP(i);
    const runtime = new SimRuntime({
      podCidr: formatCidr(nthSubnet(cluster, mask, i)!),
      hostIp: nodeIP,
      containerStartDelayMs: cfg.simulation.containerStartDelayMs,
      imagePullDelayMs: cfg.simulation.imagePullDelayMs,
      failureRate: cfg.simulation.failureRate,
      seed: cfg.simulation.seed + i,
      timers,
    });
    runtimes.push(runtime);
    const recorder = new EventRecorder({ sink: nodeRest, reportingController: "kubelet", reportingInstance: nodeName, timers, logger: log });
    recorders.push(recorder);
    return new Kubelet({
      nodeName,
      nodeIP,
      capacity: cfg.simulation.capacity,
      runtime,
      config: cfg,
      pods: own ? new ResourceClient<Pod>(nodeRest, PODS) : pods,
      nodes: own ? new ResourceClient<Node>(nodeRest, NODES) : nodes,
      leases: own ? new ResourceClient<Lease>(nodeRest, LEASES) : leases,
      events: recorderEvents(recorder),
      timers,
      logger: log,
      limiter,
      extraLabels: { "node.skiff.io/runtime": "sim", type: "skiff-sim" },
      startSpreadMs: count > 1 ? cfg.nodeStatusUpdateFrequencyMs : 0,
    });
  });
  const run = runKubelets({ kubelets, pods, nodes, single: count === 0, logger: log, timers });
  log.info("agent started", { nodes: names.length, runtime: opts.runtime, server: opts.client.server });

  return {
    kubelets,
    registered: run.registered,
    async stop() {
      await run.stop();
      await Promise.allSettled(recorders.map((r) => r.shutdown()));
      await Promise.allSettled(runtimes.map((r) => r.close()));
      for (const r of own?.values() ?? []) r.close();
      rest.close();
    },
  };
}

/** What {@link runKubelets} needs. */
export interface RunKubeletsOptions {
  readonly kubelets: readonly Kubelet[];
  readonly pods: ResourceClient<Pod>;
  readonly nodes: ResourceClient<Node>;
  /** One node: watch only its pods and its Node; several: every bound pod, routed by nodeName. */
  readonly single: boolean;
  readonly logger: Logger;
  readonly timers: Timers;
}

/** Kubelets fed by shared watches. */
export interface RunningKubelets {
  /** Resolves once every Node is registered. */
  readonly registered: Promise<void>;
  /** Resolves true once the pod watch has listed (false when stopped first). */
  readonly podsSynced: Promise<boolean>;
  stop(): Promise<void>;
}

/**
 * Starts kubelets with one pod informer and one node informer for all of
 * them (bound pods only, routed to their kubelet by spec.nodeName), so a
 * thousand simulated nodes cost two watches, not two thousand.
 */
export function runKubelets(o: RunKubeletsOptions): RunningKubelets {
  const byName = new Map(o.kubelets.map((k) => [k.nodeName, k]));
  const only = o.single ? o.kubelets[0]?.nodeName : undefined;
  const podInformer = new SharedInformer<Pod>({
    source: o.pods,
    fieldSelector: only ? `spec.nodeName=${only}` : "spec.nodeName!=",
    name: "pods",
    // A kubelet never reads managedFields, and they are a third of a cached pod (30,000 of them with simulated nodes).
    transform: stripManagedFields,
    logger: o.logger,
    timers: o.timers,
  });
  const route = (pod: Pod) => byName.get(pod.spec?.nodeName ?? "");
  podInformer.addEventHandler({
    onAdd: (pod) => route(pod)?.podUpdated(pod),
    onUpdate: (_old, pod) => route(pod)?.podUpdated(pod),
    onDelete: (pod) => route(pod)?.podDeleted(pod),
  });
  const nodeInformer = new SharedInformer<Node>({
    source: o.nodes,
    fieldSelector: only ? `metadata.name=${only}` : undefined,
    name: "nodes",
    logger: o.logger,
    timers: o.timers,
  });
  nodeInformer.addEventHandler({
    onAdd: (node) => byName.get(node.metadata?.name ?? "")?.nodeUpdated(node),
    onUpdate: (_old, node) => byName.get(node.metadata?.name ?? "")?.nodeUpdated(node),
    onDelete: (node) => byName.get(node.metadata?.name ?? "")?.nodeDeleted(),
  });
  const ac = new AbortController();
  const started = Date.now();
  const registered = Promise.all(o.kubelets.map((k) => k.start())).then(() => {
    o.logger.info("nodes registered", { nodes: o.kubelets.length, tookMs: Date.now() - started });
  });
  const informers = [podInformer.run(ac.signal), nodeInformer.run(ac.signal)];
  return {
    registered,
    podsSynced: podInformer.waitForSync(ac.signal),
    async stop() {
      ac.abort();
      for (const k of o.kubelets) k.stop();
      await Promise.allSettled(informers);
    },
  };
}
