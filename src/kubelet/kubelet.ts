/**
 * One node's kubelet: registers the Node and keeps its status and Lease
 * fresh, and runs the pods bound to it through pod workers, a PLEG and a
 * status manager, talking to the cluster only through the API and to
 * containers only through a {@link ContainerRuntime}. Pods arrive from a
 * pod source (the agent's shared informer), so many kubelets can share one
 * watch.
 */
import { createHash } from "node:crypto";
import { isDeepStrictEqual } from "node:util";
import type { Lease } from "kubernetes-types/coordination/v1.js";
import type { Node, Pod } from "kubernetes-types/core/v1.js";
import type { ResourceClient } from "../client/resource-client.js";
import type { Timers } from "../client/timers.js";
import type { Logger } from "../machinery/log.js";
import { formatRuntimeError, type ContainerRuntime } from "../runtime/types.js";
import { GIT_VERSION } from "../apiserver/version.js";
import { Backoff, CRASH_LOOP_RESET_MS } from "./backoff.js";
import type { KubeletConfig } from "./config.js";
import { type KubeletEvents, nodeRef, Reason } from "./events.js";
import { podIPFromRuntime } from "./lifecycle/handler-runner.js";
import { ProbingPodSyncer } from "./lifecycle/probing-pod-syncer.js";
import type { Limiter } from "./limiter.js";
import { NodeLease } from "./node/node-lease.js";
import type { NodeFacts } from "./node/node-status.js";
import { NodeStatusUpdater } from "./node/node-status-updater.js";
import type { HostInfo, PressureSignals } from "./node/host-info.js";
import { allocatableOf } from "./node/quantity.js";
import { Pleg } from "./pleg.js";
import { PodWorkers } from "./pod/pod-workers.js";
import type { ClusterDns } from "./pod/runtime-config.js";
import { ProberManager } from "./prober/manager.js";
import { StatusManager } from "./status/status-manager.js";
import type { PodObjects } from "./volumes/objects.js";
import type { VolumeManager } from "./volumes/volume-manager.js";
import { TerminationMessages } from "./status/termination-message.js";

/** What one kubelet needs. */
export interface KubeletOptions {
  readonly nodeName: string;
  /** The node's InternalIP (also each pod's hostIP). */
  readonly nodeIP: string;
  /** Node capacity (cpu, memory, ephemeral-storage; pods is added from maxPods). */
  readonly capacity: Readonly<Record<string, string>>;
  readonly runtime: ContainerRuntime;
  readonly config: KubeletConfig;
  readonly pods: ResourceClient<Pod>;
  readonly nodes: ResourceClient<Node>;
  readonly leases: ResourceClient<Lease>;
  readonly events: KubeletEvents;
  readonly timers: Timers;
  readonly logger: Logger;
  readonly limiter: Limiter;
  readonly dns?: ClusterDns;
  readonly extraLabels?: Readonly<Record<string, string>>;
  /** Spreads first heartbeats of many simulated nodes over the interval (ms). */
  readonly startSpreadMs?: number;
  /** Prepares pod volumes and container mounts; without it, pods that mount volumes fail to start. */
  readonly volumes?: VolumeManager;
  /** ConfigMaps, Secrets and Services for container environments. */
  readonly objects?: PodObjects;
  /** Root of pod log directories (`<data-dir>/agent/logs`); /var/log/pods unless given. */
  readonly podLogsDir?: string;
  /** The machine a real node runs on (ids, kernel, OS); simulated nodes make theirs up. */
  readonly host?: HostInfo;
  /** The node's pressure signals now (real nodes). */
  readonly pressure?: () => Promise<PressureSignals>;
}

/** Whether two versions of a pod differ in anything but status and bookkeeping metadata. */
function differsBeyondStatus(a: Pod, b: Pod): boolean {
  const strip = (p: Pod) => {
    const { resourceVersion: _rv, managedFields: _mf, ...meta } = p.metadata ?? {};
    return { meta, spec: p.spec };
  };
  return !isDeepStrictEqual(strip(a), strip(b));
}

/** A stable id derived from the node name (sim nodes have no machine-id). */
function idFor(name: string, salt: string): string {
  return createHash("sha256").update(`${salt}:${name}`).digest("hex").slice(0, 32);
}

/** Made-up machine facts of a simulated node, stable per name. */
function simulatedHost(name: string): HostInfo {
  const uuid = (salt: string) => idFor(name, salt).replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, "$1-$2-$3-$4-$5");
  return { machineId: idFor(name, "machine"), systemUuid: uuid("system"), bootId: uuid("boot"), kernelVersion: "skiff-sim", osImage: "skiff simulated node", architecture: "amd64" };
}

/** One node's kubelet. */
export class Kubelet {
  readonly nodeName: string;
  private readonly statusUpdater: NodeStatusUpdater;
  private readonly lease: NodeLease;
  private readonly statusManager: StatusManager;
  private readonly workers: PodWorkers;
  private readonly pleg: Pleg;
  private readonly prober: ProberManager;
  private readonly crashBackoff: Backoff;
  private readonly imageBackoff: Backoff;
  /** Pods bound to this node, by UID, as the API last showed them. */
  private readonly podsByUid = new Map<string, Pod>();
  private runtimeVersion = "";
  private podCidr: string | undefined;
  private gcCancel: (() => void) | undefined;

  constructor(private readonly o: KubeletOptions) {
    this.nodeName = o.nodeName;
    const log = o.logger.with({ node: o.nodeName });
    const cfg = o.config;
    this.crashBackoff = new Backoff(cfg.crashLoopBackOffInitialMs, cfg.crashLoopBackOffMaxMs, o.timers, CRASH_LOOP_RESET_MS);
    this.imageBackoff = new Backoff(cfg.imagePullBackOffInitialMs, cfg.imagePullBackOffMaxMs, o.timers);
    const spread = o.startSpreadMs ?? 0;
    this.statusUpdater = new NodeStatusUpdater({
      nodeName: o.nodeName,
      nodes: o.nodes,
      facts: () => this.facts(),
      updateFrequencyMs: cfg.nodeStatusUpdateFrequencyMs,
      reportFrequencyMs: cfg.nodeStatusReportFrequencyMs,
      timers: o.timers,
      logger: log,
      events: o.events,
      limiter: o.limiter,
      extraLabels: o.extraLabels,
      initialDelayMs: spread > 0 ? Math.random() * Math.min(spread, cfg.nodeStatusUpdateFrequencyMs) : undefined,
    });
    this.lease = new NodeLease({
      nodeName: o.nodeName,
      leases: o.leases,
      leaseDurationSeconds: cfg.nodeLeaseDurationSeconds,
      nodeUid: () => this.statusUpdater.nodeUid,
      timers: o.timers,
      logger: log,
      limiter: o.limiter,
      initialDelayMs: spread > 0 ? Math.random() * Math.min(spread, cfg.nodeLeaseDurationSeconds * 250) : 0,
    });
    this.statusManager = new StatusManager({
      pods: o.pods,
      apiPod: (uid) => this.podsByUid.get(uid),
      timers: o.timers,
      logger: log,
      limiter: o.limiter,
    });
    this.prober = new ProberManager({
      runtime: o.runtime,
      events: o.events,
      timers: o.timers,
      logger: log,
      podStatus: (uid) => this.statusManager.getPodStatus(uid),
      // As upstream's sync loop: readiness and startup changes update the status at once; a liveness failure restarts.
      onUpdate: (u) => {
        if (u.type === "liveness" && u.result !== "failure") return;
        this.workers.runtimeChanged(u.podUid);
      },
    });
    const syncer = new ProbingPodSyncer({
      runtime: o.runtime,
      events: o.events,
      clock: o.timers,
      logger: log,
      crashBackoff: this.crashBackoff,
      imageBackoff: this.imageBackoff,
      dns: o.dns,
      isStarted: (pod, c, id) => this.prober.started(pod, c, id),
      probeResult: (type, id) => this.prober.result(type, id),
      hooks: { runtime: o.runtime, events: o.events, timers: o.timers, logger: log, podIP: podIPFromRuntime(o.runtime) },
      terminationMessages: new TerminationMessages(),
      podOf: (uid) => this.podsByUid.get(uid),
      volumes: o.volumes,
      objects: o.objects,
      podLogsDir: o.podLogsDir,
      hostIPs: () => [o.nodeIP],
      nodeAllocatable: () => allocatableOf({ ...o.capacity, pods: String(cfg.maxPods) }, cfg.systemReserved, cfg.kubeReserved),
    });
    this.workers = new PodWorkers({
      syncer,
      status: this.statusManager,
      timers: o.timers,
      logger: log,
      crashBackoff: this.crashBackoff,
      imageBackoff: this.imageBackoff,
      syncFrequencyMs: cfg.syncFrequencyMs,
      followUpMs: cfg.plegRelistPeriodMs,
      hostIPs: () => [o.nodeIP],
      runtimeType: o.runtime.type,
      probes: this.prober,
    });
    this.pleg = new Pleg({
      runtime: o.runtime,
      relistPeriodMs: cfg.plegRelistPeriodMs,
      timers: o.timers,
      logger: log,
      onPodChanged: (uid) => this.workers.runtimeChanged(uid),
    });
  }

  /** A pod bound to this node, with the freshest status the kubelet has (upstream GetPodByName). */
  podByName(namespace: string, name: string): Pod | undefined {
    for (const pod of this.podsByUid.values()) {
      if (pod.metadata?.namespace === namespace && pod.metadata?.name === name) return this.withLatestStatus(pod);
    }
    return undefined;
  }

  /** Every pod bound to this node (the kubelet API's `/pods`). */
  pods(): Pod[] {
    return [...this.podsByUid.values()].map((p) => this.withLatestStatus(p));
  }

  private withLatestStatus(pod: Pod): Pod {
    const status = this.statusManager.getPodStatus(pod.metadata?.uid ?? "");
    return status ? { ...pod, status } : pod;
  }

  /**
   * Removes volume and pod directories of pods this kubelet no longer
   * knows. Call only once the pod source has synced: before that, a
   * restarted kubelet would delete the volumes of pods it has not seen yet.
   */
  async cleanupOrphanedPodDirs(): Promise<void> {
    await this.o.volumes?.cleanupOrphans(new Set([...this.podsByUid.keys(), ...this.workers.uids()]));
  }

  /** Registers the Node (retrying until it can), then starts heartbeats, the PLEG and housekeeping. */
  async start(): Promise<void> {
    const v = await this.o.runtime.version();
    this.runtimeVersion = v.ok ? `${v.value.runtimeName}://${v.value.runtimeVersion}` : `${this.o.runtime.type}://unknown`;
    this.o.events.emit(nodeRef(this.nodeName), "Normal", Reason.Starting, "Starting kubelet.");
    this.lease.start();
    await this.statusUpdater.start();
    this.pleg.start();
    const gc = () => {
      this.crashBackoff.gc();
      this.imageBackoff.gc();
      this.gcCancel = this.o.timers.after(60_000, gc);
    };
    this.gcCancel = this.o.timers.after(60_000, gc);
  }

  /** Stops every loop; containers of a real runtime keep running (a restarted kubelet adopts them). */
  stop(): void {
    this.statusUpdater.stop();
    this.lease.stop();
    this.pleg.stop();
    this.prober.stop();
    this.workers.stop();
    this.statusManager.stop();
    this.gcCancel?.();
  }

  /** True once the Node is registered. */
  get registered(): boolean {
    return this.statusUpdater.registered;
  }

  /** Pods with a worker on this node. */
  get podCount(): number {
    return this.workers.size;
  }

  // ---- pod source ----

  /** A pod bound to this node was added or changed in the API. */
  podUpdated(pod: Pod): void {
    const uid = pod.metadata?.uid;
    if (!uid) return;
    const prev = this.podsByUid.get(uid);
    this.podsByUid.set(uid, pod);
    // As upstream: probe workers start when the pod arrives; later copies only refresh them.
    if (!prev) this.prober.addPod(pod);
    else this.prober.updatePod(pod);
    if (pod.metadata?.deletionTimestamp) this.prober.stopLivenessAndStartup(pod);
    // As upstream's pod config: an update of the status alone (often our own write) needs no sync.
    this.workers.update(pod, !prev || differsBeyondStatus(prev, pod));
    this.statusManager.onApiUpdate(pod);
  }

  /** A pod bound to this node is gone from the API. */
  podDeleted(pod: Pod): void {
    const uid = pod.metadata?.uid;
    if (!uid) return;
    this.podsByUid.delete(uid);
    this.prober.removePod(pod);
    this.workers.remove(pod);
  }

  // ---- node source ----

  /** This node's Node object changed: pick up its pod CIDR (node IPAM), as upstream's updateRuntimeConfig. */
  nodeUpdated(node: Node): void {
    const cidr = node.spec?.podCIDR;
    if (!cidr || cidr === this.podCidr) return;
    this.podCidr = cidr;
    void this.o.runtime.updateRuntimeConfig({ podCidr: cidr }).then((r) => {
      if (!r.ok) this.o.logger.warn("runtime refused the pod CIDR", { node: this.nodeName, podCIDR: cidr, err: formatRuntimeError(r.error) });
    });
  }

  /** This node's Node object was deleted: register again. */
  nodeDeleted(): void {
    this.statusUpdater.nodeDeleted();
  }

  private async facts(): Promise<NodeFacts> {
    const rt = this.o.runtime;
    const [st, images, pressure] = await Promise.all([rt.status(), rt.listImages(), this.o.pressure?.()]);
    let notReady = "";
    if (!st.ok) notReady = `container runtime is down: ${formatRuntimeError(st.error)}`;
    else {
      const runtimeReady = st.value.find((c) => c.type === "RuntimeReady");
      const networkReady = st.value.find((c) => c.type === "NetworkReady");
      if (!runtimeReady?.status) notReady = `container runtime is down: RuntimeReady=false reason:${runtimeReady?.reason ?? ""} message:${runtimeReady?.message ?? ""}`;
      else if (!networkReady?.status) notReady = `container runtime network not ready: NetworkReady=false reason:${networkReady?.reason ?? ""} message:${networkReady?.message ?? ""}`;
    }
    const cfg = this.o.config;
    const capacity = { ...this.o.capacity, pods: String(cfg.maxPods) };
    return {
      nodeName: this.nodeName,
      nodeIP: this.o.nodeIP,
      capacity,
      allocatable: allocatableOf(capacity, cfg.systemReserved, cfg.kubeReserved),
      kubeletVersion: GIT_VERSION,
      containerRuntimeVersion: this.runtimeVersion,
      runtimeNotReady: notReady,
      images: images.ok ? images.value : [],
      kubeletPort: cfg.port,
      ...(pressure ? { pressure } : {}),
      ...(this.o.host ?? simulatedHost(this.nodeName)),
      operatingSystem: "linux",
    };
  }
}
