/**
 * The scheduler process as upstream's (pkg/scheduler/scheduler.go,
 * schedule_one.go, eventhandlers.go), over the API only: informers feed the
 * cache (assigned pods, nodes) and the queue (unassigned pods of our
 * profiles); one loop pops a pod, runs the scheduling cycle synchronously
 * (filter, score, assume, Reserve, Permit) and hands the binding cycle
 * (PreBind, Bind = POST pods/binding) to an async task, so the next pod is
 * scheduled while the binding is on the wire, exactly as upstream's
 * goroutine does (with a bound on binds in flight: MAX_BINDS_IN_FLIGHT).
 * Failures record the `FailedScheduling` event and the `PodScheduled=False`
 * condition with upstream's message and go back to the queue; successes
 * record `Scheduled`.
 */
import type { Node, PersistentVolume, PersistentVolumeClaim, Pod } from "kubernetes-types/core/v1.js";
import type { EventRecorder } from "../client/event-recorder.js";
import { InformerFactory, type SharedInformer, stripManagedFields } from "../client/informer.js";
import type { KubeObject } from "../client/resource-client.js";
import { ResourceClient } from "../client/resource-client.js";
import { NODES, PODS } from "../client/resources.js";
import type { RestClient } from "../client/rest-client.js";
import { type Clock, systemClock } from "../machinery/clock.js";
import { type Logger, silentLogger } from "../machinery/log.js";
import { isNotFound } from "../machinery/status-error.js";
import { informerListers } from "./cluster-listers.js";
import type { KubeSchedulerConfiguration } from "./config/types.js";
import { Cache } from "./framework/cache.js";
import { CycleState } from "./framework/cycle-state.js";
import * as events from "./framework/events.js";
import type { FitError } from "./framework/fit-error.js";
import type { Framework } from "./framework/framework.js";
import type { QueuedPodInfo } from "./framework/pod-info.js";
import type { Registry } from "./framework/registry.js";
import { Status } from "./framework/status.js";
import { NominatingMode, type NominatingInfo, type PluginClient, type PreemptionPlan } from "./framework/types.js";
import { newInTreeRegistry } from "./plugins/registry.js";
import { preCheckForNode } from "./pre-check.js";
import { buildProfiles } from "./profile.js";
import { PriorityQueue } from "./queue/scheduling-queue.js";

/** Options of a {@link Scheduler}. */
export interface SchedulerOptions {
  /** A client authenticated as `system:kube-scheduler`. */
  readonly rest: RestClient;
  /** A defaulted, validated configuration (see `loadSchedulerConfig` / `defaultSchedulerConfig`). */
  readonly config: KubeSchedulerConfiguration;
  /** Records `Scheduled` / `FailedScheduling` (reportingController `default-scheduler`). */
  readonly recorder: EventRecorder;
  readonly registry?: Registry;
  readonly logger?: Logger;
  readonly clock?: Clock;
}

/** Upstream truncates event notes to this many bytes (events.k8s.io limit). */
const NOTE_LIMIT = 1024;
/** How long the loop may run before it lets I/O (binding replies, watch events) through. */
const SLICE_MS = 10;
/**
 * Bind calls (POST pods/binding) in flight at most. The loop schedules far
 * faster than an API server binds; unbounded, thousands of bindings would
 * queue in the client's connection pool, and the events and lease renewals
 * sharing it would wait behind them (events then overflow their queue and
 * are dropped). At the limit the loop waits for a bind to finish.
 */
const MAX_BINDS_IN_FLIGHT = 32;

const nsName = (p: Pod) => `${p.metadata?.namespace ?? ""}/${p.metadata?.name ?? ""}`;
const assigned = (p: Pod) => !!p.spec?.nodeName;
const terminal = (p: Pod) => p.status?.phase === "Succeeded" || p.status?.phase === "Failed";

function truncate(msg: string): string {
  return msg.length <= NOTE_LIMIT ? msg : `${msg.slice(0, NOTE_LIMIT - 3)}...`;
}

/** The scheduler: build it, then {@link run} it while this instance leads. */
export class Scheduler {
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly pods: ResourceClient<Pod>;
  private readonly cache: Cache;
  private readonly frameworks: Map<string, Framework>;
  private readonly queue: PriorityQueue;
  private readonly informers: InformerFactory;
  private readonly podInformer: SharedInformer<Pod>;
  private readonly nodeInformer: SharedInformer<Node>;
  private bindsInFlight = 0;
  private bindSlotWaiters: (() => void)[] = [];

  constructor(private readonly opts: SchedulerOptions) {
    this.log = opts.logger ?? silentLogger;
    this.clock = opts.clock ?? systemClock;
    this.pods = new ResourceClient<Pod>(opts.rest, PODS);
    this.cache = new Cache({ clock: this.clock });
    this.informers = new InformerFactory(opts.rest, { logger: this.log, transform: stripManagedFields });
    // Terminated pods hold no resources: upstream's assigned-pod informer leaves them out too.
    this.podInformer = this.informers.informerFor<Pod>(PODS, { fieldSelector: "status.phase!=Succeeded,status.phase!=Failed" });
    this.nodeInformer = this.informers.informerFor<Node>(NODES);
    const listers = informerListers(this.informers, this.podInformer as SharedInformer<KubeObject>, this.nodeInformer as SharedInformer<KubeObject>);
    const registry = opts.registry ?? newInTreeRegistry();
    const built = buildProfiles(opts.config, registry, {
      cache: this.cache,
      listers,
      clock: this.clock,
      bind: (pod, node) => this.bind(pod, node),
      client: this.pluginClient(),
      skipUnregisteredPlugins: true,
    });
    if (!built.ok) throw new Error(built.error);
    this.frameworks = built.frameworks;
    for (const f of this.frameworks.values()) {
      const skipped = (f as { skippedPlugins?: readonly string[] }).skippedPlugins ?? [];
      if (skipped.length > 0) this.log.info("plugins not available in skiff left out", { profile: f.profileName, plugins: skipped.join(",") });
    }
    this.queue = PriorityQueue.forFrameworks(this.frameworks.values(), {
      clock: this.clock,
      podInitialBackoffMs: (opts.config.podInitialBackoffSeconds ?? 1) * 1000,
      podMaxBackoffMs: (opts.config.podMaxBackoffSeconds ?? 10) * 1000,
      podLister: listers.pods,
      namespaceLabels: (ns) => listers.namespaces.get(ns)?.metadata?.labels,
    });
    for (const f of this.frameworks.values()) f.setPodNominator(this.queue);
    this.registerHandlers();
  }

  /** Pods waiting in the queue (for tests and diagnostics). */
  pending(): { active: number; backoff: number; unschedulable: number } {
    return this.queue.lengths();
  }

  private responsible(p: Pod): boolean {
    return this.frameworks.has(p.spec?.schedulerName || "default-scheduler");
  }

  // ---- informer handlers (eventhandlers.go) ----

  private registerHandlers(): void {
    this.podInformer.addEventHandler({
      onAdd: (pod) => this.podAdded(pod),
      onUpdate: (old, pod) => this.podUpdated(old, pod),
      onDelete: (pod) => this.podDeleted(pod),
    });
    this.nodeInformer.addEventHandler({
      onAdd: (node) => {
        const info = this.cache.addNode(node);
        this.queue.moveAllToActiveOrBackoffQueue(events.NodeAdd, preCheckForNode(info));
      },
      onUpdate: (old, node) => {
        const info = this.cache.updateNode(old, node);
        for (const ev of events.nodeSchedulingPropertiesChange(node, old)) this.queue.moveAllToActiveOrBackoffQueue(ev, preCheckForNode(info));
      },
      onDelete: (node) => {
        const err = this.cache.removeNode(node);
        if (err) this.log.debug("removing node from the cache", { node: node.metadata?.name, err });
      },
    });
    const move = (ev: events.ClusterEvent) => ({ onAdd: () => this.queue.moveAllToActiveOrBackoffQueue(ev) });
    const moveOnUpdate = (add: events.ClusterEvent, update: events.ClusterEvent) => ({
      ...move(add),
      onUpdate: () => this.queue.moveAllToActiveOrBackoffQueue(update),
    });
    const d = (group: string, resource: string, namespaced: boolean) => ({ group, version: "v1", resource, namespaced });
    this.informers.informerFor(d("", "persistentvolumeclaims", true)).addEventHandler(moveOnUpdate(events.PvcAdd, events.PvcUpdate));
    this.informers.informerFor(d("", "persistentvolumes", false)).addEventHandler(moveOnUpdate(events.PvAdd, events.PvUpdate));
    this.informers.informerFor(d("storage.k8s.io", "storageclasses", false)).addEventHandler(moveOnUpdate(events.StorageClassAdd, events.StorageClassUpdate));
  }

  private podAdded(pod: Pod): void {
    if (terminal(pod)) return;
    if (assigned(pod)) {
      const err = this.cache.addPod(pod);
      if (err) this.log.debug("adding pod to the cache", { pod: nsName(pod), err });
      this.queue.assignedPodAdded(pod, events.AssignedPodAdd);
    } else if (this.responsible(pod) && !pod.metadata?.deletionTimestamp) {
      this.queue.add(pod);
    }
  }

  private podUpdated(old: Pod, pod: Pod): void {
    if (assigned(old)) {
      const err = this.cache.updatePod(old, pod);
      if (err) this.log.debug("updating pod in the cache", { pod: nsName(pod), err });
      this.queue.assignedPodUpdated(old, pod, events.AssignedPodUpdate);
      return;
    }
    if (assigned(pod)) {
      // Bound (by us or anyone): out of the queue, into the cache (confirming our assumption).
      this.queue.delete(old);
      this.podAdded(pod);
      return;
    }
    if (!this.responsible(pod)) return;
    if (pod.metadata?.deletionTimestamp) this.queue.delete(pod);
    else this.queue.update(old, pod);
  }

  private podDeleted(pod: Pod): void {
    if (assigned(pod)) {
      const err = this.cache.removePod(pod);
      if (err) this.log.debug("removing pod from the cache", { pod: nsName(pod), err });
      this.queue.moveAllToActiveOrBackoffQueue(events.AssignedPodDelete);
      return;
    }
    this.queue.delete(pod);
  }

  // ---- the loop ----

  /** Syncs the informers, then schedules until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    this.informers.start(signal);
    if (!(await this.informers.waitForSync(signal))) return;
    this.queue.run(signal);
    const sweep = setInterval(() => {
      for (const p of this.cache.cleanupAssumedPods()) this.log.warn("assumed pod expired before its binding was seen", { pod: nsName(p) });
    }, 1000);
    sweep.unref();
    signal.addEventListener("abort", () => {
      clearInterval(sweep);
      this.queue.close();
      this.releaseBindSlotWaiters();
    });
    this.log.info("scheduler started", { profiles: [...this.frameworks.keys()].join(","), nodes: this.nodeInformer.size });
    let sliceStart = performance.now();
    while (!signal.aborted) {
      while (this.bindsInFlight >= MAX_BINDS_IN_FLIGHT && !signal.aborted) {
        await new Promise<void>((resolve) => this.bindSlotWaiters.push(resolve));
        sliceStart = performance.now();
      }
      if (signal.aborted) break;
      const p = await this.queue.pop(signal);
      if (!p) break;
      try {
        this.scheduleOne(p);
      } catch (err) {
        this.log.error("scheduling cycle failed", { pod: nsName(p.pod), err: (err as Error).message });
      }
      // pop() resolves from microtasks while pods are queued; let replies and watch events in regularly.
      if (performance.now() - sliceStart > SLICE_MS) {
        await new Promise((r) => setImmediate(r));
        sliceStart = performance.now();
      }
    }
  }

  /** One scheduling cycle (schedule_one.go: ScheduleOne), the binding cycle left running. */
  private scheduleOne(p: QueuedPodInfo): void {
    const pod = p.pod;
    const fwk = this.frameworks.get(pod.spec?.schedulerName || "default-scheduler");
    if (!fwk) return;
    // skipPodSchedule: deleted meanwhile, or already assumed (an update re-queued it).
    const live = this.podInformer.get(nsName(pod));
    if (!live || live.metadata?.uid !== pod.metadata?.uid || live.metadata?.deletionTimestamp || assigned(live)) return;
    if (this.cache.isAssumedPod(pod)) return;
    const cycle = this.queue.schedulingCycle();
    const state = new CycleState();
    const out = fwk.schedulePod(state, pod);
    if (out.kind === "unschedulable") {
      this.unschedulable(fwk, state, p, out.fitError, cycle);
      return;
    }
    if (out.kind === "error") {
      this.failure(p, out.status, "SchedulerError", null, cycle);
      return;
    }
    const host = out.result.suggestedHost;
    const assumedPod: Pod = { ...pod, spec: { ...pod.spec!, nodeName: host } };
    const assumeErr = this.cache.assumePod(assumedPod);
    if (assumeErr) {
      this.failure(p, Status.asStatus(assumeErr), "SchedulerError", null, cycle);
      return;
    }
    const reserve = fwk.runReservePluginsReserve(state, assumedPod, host);
    if (reserve && !reserve.isSuccess()) {
      fwk.runReservePluginsUnreserve(state, assumedPod, host);
      this.cache.forgetPod(assumedPod);
      this.failure(p, reserve, reserve.isRejected() ? "Unschedulable" : "SchedulerError", null, cycle);
      return;
    }
    const permit = fwk.runPermitPlugins(state, assumedPod, host);
    if (permit && !permit.isSuccess() && !permit.isWait()) {
      fwk.runReservePluginsUnreserve(state, assumedPod, host);
      this.cache.forgetPod(assumedPod);
      this.failure(p, permit, permit.isRejected() ? "Unschedulable" : "SchedulerError", null, cycle);
      return;
    }
    void this.bindingCycle(fwk, state, p, assumedPod, host, cycle);
  }

  private async bindingCycle(fwk: Framework, state: CycleState, p: QueuedPodInfo, assumedPod: Pod, host: string, cycle: number): Promise<void> {
    let failed: Status | null = null;
    try {
      failed = await fwk.waitOnPermit(assumedPod);
      if (!failed) failed = await fwk.runPreBindPlugins(state, assumedPod, host);
      if (!failed || failed.isSuccess()) {
        this.bindsInFlight++;
        try {
          failed = await fwk.runBindPlugins(state, assumedPod, host);
        } finally {
          this.bindsInFlight--;
          this.releaseBindSlotWaiters();
        }
      }
    } catch (err) {
      failed = Status.asStatus((err as Error).message);
    }
    if (failed && !failed.isSuccess() && !failed.isSkip()) {
      fwk.runReservePluginsUnreserve(state, assumedPod, host);
      this.cache.forgetPod(assumedPod);
      // The node's resources are free again for pods waiting on them (upstream: AssignedPodDelete).
      this.queue.moveAllToActiveOrBackoffQueue(events.AssignedPodDelete);
      this.failure(p, failed, failed.isRejected() ? "Unschedulable" : "SchedulerError", null, cycle);
      return;
    }
    this.cache.finishBinding(assumedPod);
    fwk.runPostBindPlugins(state, assumedPod, host);
    this.opts.recorder.event(p.pod, undefined, "Normal", "Scheduled", "Binding", `Successfully assigned ${nsName(p.pod)} to ${host}`);
  }

  /** Lets the loop go on once a bind slot is free (or the scheduler stops). */
  private releaseBindSlotWaiters(): void {
    const waiters = this.bindSlotWaiters;
    this.bindSlotWaiters = [];
    for (const w of waiters) w();
  }

  /** The writes plugins make (VolumeBinding's PV and PVC updates). */
  private pluginClient(): PluginClient {
    const pvs = new ResourceClient<PersistentVolume>(this.opts.rest, { group: "", version: "v1", resource: "persistentvolumes", namespaced: false });
    const pvcs = new ResourceClient<PersistentVolumeClaim>(this.opts.rest, { group: "", version: "v1", resource: "persistentvolumeclaims", namespaced: true });
    return {
      updatePersistentVolume: (pv) => pvs.update(pv),
      updatePersistentVolumeClaim: (pvc) => pvcs.namespace(pvc.metadata?.namespace ?? "").update(pvc),
    };
  }

  /** POST pods/NAME/binding, as DefaultBinder does. */
  private async bind(pod: Pod, node: string): Promise<void> {
    await this.pods.namespace(pod.metadata?.namespace ?? "").subresource(pod.metadata?.name ?? "", "binding", {
      apiVersion: "v1",
      kind: "Binding",
      metadata: { name: pod.metadata?.name, namespace: pod.metadata?.namespace, uid: pod.metadata?.uid },
      target: { apiVersion: "v1", kind: "Node", name: node },
    });
  }

  private unschedulable(fwk: Framework, state: CycleState, p: QueuedPodInfo, fitError: FitError, cycle: number): void {
    const diagnosis = fitError.diagnosis;
    p.unschedulablePlugins = new Set(diagnosis.unschedulablePlugins);
    p.pendingPlugins = new Set(diagnosis.pendingPlugins);
    if (!fwk.hasPostFilterPlugins()) {
      this.failure(p, null, "Unschedulable", null, cycle, fitError.message);
      return;
    }
    const post = fwk.runPostFilterPlugins(state, p.pod, diagnosis.nodeToStatusMap);
    if (post.status && !post.status.isSuccess()) diagnosis.postFilterMsg = post.status.message();
    const nominating = post.result?.nominatingInfo ?? null;
    const plan = post.result?.preemption;
    if (!plan) {
      this.failure(p, null, "Unschedulable", nominating, cycle, fitError.message);
      return;
    }
    // The evictions go through the API; the preemptor waits (nominated) for its victims to go.
    void this.preempt(plan).then(
      () => this.failure(p, null, "Unschedulable", nominating, cycle, fitError.message),
      (err: Error) => this.failure(p, Status.asStatus(err.message), "SchedulerError", null, cycle),
    );
  }

  /** prepareCandidate's API part: mark and delete the victims, announce them, clear lower nominations. */
  private async preempt(plan: PreemptionPlan): Promise<void> {
    const client = (pod: Pod) => this.pods.namespace(pod.metadata?.namespace ?? "");
    await Promise.all(
      plan.podsToDelete.map(async (victim) => {
        const others = (victim.status?.conditions ?? []).filter((c) => c.type !== plan.disruptionCondition.type);
        try {
          await client(victim).patch(
            victim.metadata?.name ?? "",
            { metadata: { uid: victim.metadata?.uid }, status: { conditions: [...others, plan.disruptionCondition] } },
            { type: "merge", subresource: "status" },
          );
          await client(victim).delete(victim.metadata?.name ?? "", { preconditions: { uid: victim.metadata?.uid } });
        } catch (err) {
          if (!isNotFound(err)) throw err;
        }
      }),
    );
    for (const victim of plan.victims) {
      this.opts.recorder.event(victim, plan.preemptor, "Normal", "Preempted", "Preempting", `Preempted by pod ${plan.preemptor.metadata?.uid ?? ""} on node ${plan.nodeName}`);
    }
    for (const pod of plan.nominatedPodsToClear) {
      void client(pod)
        .patch(pod.metadata?.name ?? "", { status: { nominatedNodeName: null } }, { type: "merge", subresource: "status" })
        .catch((err: Error) => this.log.warn("clearing a nomination failed", { pod: nsName(pod), err: err.message }));
    }
  }

  /**
   * handleSchedulingFailure: back to the queue (backoff or unschedulable),
   * a `FailedScheduling` event and the `PodScheduled=False` condition.
   */
  private failure(p: QueuedPodInfo, status: Status | null, reason: string, nominating: NominatingInfo | null, cycle: number, message?: string): void {
    const pod = p.pod;
    const msg = message ?? status?.message() ?? "unknown scheduling failure";
    const live = this.podInformer.get(nsName(pod));
    if (!live || live.metadata?.uid !== pod.metadata?.uid || assigned(live)) return;
    if (nominating?.nominatingMode === NominatingMode.Override) this.queue.addNominatedPod(p.podInfo, nominating);
    const err = this.queue.addUnschedulableIfNotPresent(p, cycle);
    if (err) this.log.debug("requeueing pod", { pod: nsName(pod), err });
    this.log.info("unable to schedule pod", { pod: nsName(pod), reason, msg });
    this.opts.recorder.event(live, undefined, "Warning", "FailedScheduling", "Scheduling", truncate(msg));
    void this.updateCondition(live, reason, msg, nominating).catch((e: Error) => {
      if (!isNotFound(e)) this.log.warn("updating pod condition failed", { pod: nsName(pod), err: e.message });
    });
  }

  /** updatePod: the PodScheduled condition and nominatedNodeName, written only when they change. */
  private async updateCondition(pod: Pod, reason: string, message: string, nominating: NominatingInfo | null): Promise<void> {
    const current = (pod.status?.conditions ?? []).find((c) => c.type === "PodScheduled");
    const nominated = nominating?.nominatingMode === NominatingMode.Override ? nominating.nominatedNodeName : undefined;
    const sameCondition = current && current.status === "False" && current.reason === reason && current.message === message;
    const sameNomination = nominated === undefined || pod.status?.nominatedNodeName === nominated;
    if (sameCondition && sameNomination) return;
    const now = new Date(this.clock.now()).toISOString().replace(/\.\d{3}Z$/, "Z");
    const condition = {
      type: "PodScheduled",
      status: "False",
      lastProbeTime: null,
      lastTransitionTime: current && current.status === "False" ? current.lastTransitionTime : now,
      reason,
      message,
    };
    const status: Record<string, unknown> = { conditions: [condition] };
    if (nominated !== undefined) status.nominatedNodeName = nominated || null;
    await this.pods
      .namespace(pod.metadata?.namespace ?? "")
      .patch(pod.metadata?.name ?? "", { metadata: { uid: pod.metadata?.uid }, status }, { type: "strategic", subresource: "status" });
  }
}
