/**
 * The scheduling queue (internal/queue/scheduling_queue.go PriorityQueue,
 * v1.30 with QueueingHints off):
 *
 * - activeQ: pods ready to be tried, ordered by the QueueSort plugin;
 * - podBackoffQ: pods waiting out their backoff (1 s doubling per attempt up
 *   to 10 s by default), ordered by backoff expiry;
 * - unschedulablePods: pods that failed and wait for a cluster event that one
 *   of their rejecting plugins registered, or for the 5-minute leftover
 *   flush; gated pods (a PreEnqueue plugin said no) wait here too.
 *
 * The clock and timers are injected; tests drive flushBackoffQCompleted and
 * flushUnschedulablePodsLeftover directly with a FakeClock.
 */
import type { Pod } from "kubernetes-types/core/v1.js";
import { type Clock, systemClock } from "../../machinery/clock.js";
import { type ClusterEvent, isWildCardEvent, matchClusterEvent, UnschedulableTimeout } from "../framework/events.js";
import type { Framework } from "../framework/framework.js";
import { affinityTermMatches, PodInfo, podNamespacedName, QueuedPodInfo } from "../framework/pod-info.js";
import { systemTimers, type Timers } from "../framework/timers.js";
import type { NamespacedLister, NominatingInfo, PodNominator, PreEnqueuePlugin } from "../framework/types.js";
import { KeyedHeap } from "./heap.js";
import { Nominator } from "./nominator.js";
import { buildQueueingHintMap, type QueueingHintMap } from "./queueing-hints.js";

export const DefaultPodInitialBackoffMs = 1000;
export const DefaultPodMaxBackoffMs = 10_000;
/** How long a pod may stay in unschedulablePods before it is retried anyway. */
export const DefaultPodMaxInUnschedulablePodsDurationMs = 5 * 60 * 1000;
const BackoffFlushPeriodMs = 1000;
const UnschedulableFlushPeriodMs = 30_000;

/** Which sub-queue a pod went to. */
export type QueueName = "Active" | "Backoff" | "Unschedulable";

/** A filter applied before moving unschedulable pods (the wiring's preCheckForNode). */
export type PreEnqueueCheck = (pod: Pod) => boolean;

/** What the queue needs of one profile. */
export interface QueueProfile {
  readonly preEnqueuePlugins: readonly PreEnqueuePlugin[];
  readonly queueingHintMap: QueueingHintMap;
}

export interface PriorityQueueOptions {
  /** The QueueSort plugin's less (all profiles share one). */
  less: (a: QueuedPodInfo, b: QueuedPodInfo) => boolean;
  /** Per schedulerName. */
  profiles: ReadonlyMap<string, QueueProfile>;
  clock?: Clock;
  timers?: Timers;
  podInitialBackoffMs?: number;
  podMaxBackoffMs?: number;
  podMaxInUnschedulablePodsDurationMs?: number;
  /** Lets the nominator ignore deleted or already-bound pods. */
  podLister?: NamespacedLister<Pod>;
  /** Namespace labels, for pod affinity terms with namespace selectors. */
  namespaceLabels?: (namespace: string) => Readonly<Record<string, string>> | undefined;
}

function schedulerNameOf(pod: Pod): string {
  return pod.spec?.schedulerName || "default-scheduler";
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  if (ka.length !== kb.length) return false;
  for (const k of ka) if (!deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  return true;
}

/** isPodUpdated: a change beyond resourceVersion, generation, status, managedFields and finalizers. */
export function isPodUpdated(oldPod: Pod, newPod: Pod): boolean {
  const strip = (p: Pod) => ({
    ...p,
    metadata: { ...p.metadata, resourceVersion: undefined, generation: undefined, managedFields: undefined, finalizers: undefined },
    status: { resize: p.status?.resize },
  });
  return !deepEqual(strip(oldPod), strip(newPod));
}

export class PriorityQueue implements PodNominator {
  private readonly clock: Clock;
  private readonly timers: Timers;
  private readonly podInitialBackoffMs: number;
  private readonly podMaxBackoffMs: number;
  private readonly podMaxInUnschedulablePodsDurationMs: number;
  private readonly profiles: ReadonlyMap<string, QueueProfile>;
  private readonly namespaceLabels: (ns: string) => Readonly<Record<string, string>> | undefined;
  private readonly activeQ: KeyedHeap<QueuedPodInfo>;
  private readonly podBackoffQ: KeyedHeap<QueuedPodInfo>;
  private readonly unschedulablePods = new Map<string, QueuedPodInfo>();
  readonly nominator: Nominator;
  /** Incremented by every pop. */
  private cycle = 0;
  /** The cycle at which the last move request happened. */
  private moveRequestCycle = -1;
  private closed = false;
  private waiters: ((p: QueuedPodInfo | undefined) => void)[] = [];

  constructor(opts: PriorityQueueOptions) {
    this.clock = opts.clock ?? systemClock;
    this.timers = opts.timers ?? systemTimers;
    this.podInitialBackoffMs = opts.podInitialBackoffMs ?? DefaultPodInitialBackoffMs;
    this.podMaxBackoffMs = opts.podMaxBackoffMs ?? DefaultPodMaxBackoffMs;
    this.podMaxInUnschedulablePodsDurationMs = opts.podMaxInUnschedulablePodsDurationMs ?? DefaultPodMaxInUnschedulablePodsDurationMs;
    this.profiles = opts.profiles;
    this.namespaceLabels = opts.namespaceLabels ?? (() => undefined);
    const key = (p: QueuedPodInfo) => podNamespacedName(p.pod);
    this.activeQ = new KeyedHeap(key, opts.less);
    this.podBackoffQ = new KeyedHeap(key, (a, b) => this.backoffTime(a) < this.backoffTime(b));
    this.nominator = new Nominator(opts.podLister);
  }

  /** A queue for the given profiles' frameworks (they must share one QueueSort plugin). */
  static forFrameworks(frameworks: Iterable<Framework>, opts: Omit<PriorityQueueOptions, "less" | "profiles"> = {}): PriorityQueue {
    const profiles = new Map<string, QueueProfile>();
    let less: PriorityQueueOptions["less"] | undefined;
    for (const f of frameworks) {
      less ??= f.queueSortFunc();
      profiles.set(f.profileName, { preEnqueuePlugins: f.preEnqueuePlugins, queueingHintMap: buildQueueingHintMap(f.enqueueExtensions()) });
    }
    return new PriorityQueue({ ...opts, less: less ?? (() => false), profiles });
  }

  private newQueuedPodInfo(pod: Pod, plugins: Iterable<string> = []): QueuedPodInfo {
    return new QueuedPodInfo(new PodInfo(pod), this.clock.now(), plugins);
  }

  /** SchedulingCycle: the number of pops so far. */
  schedulingCycle(): number {
    return this.cycle;
  }

  // ---- backoff ----

  /** calculateBackoffDuration: initial × 2^(attempts-1), capped at the max. */
  private backoffDuration(p: QueuedPodInfo): number {
    let d = this.podInitialBackoffMs;
    for (let i = 1; i < p.attempts; i++) {
      if (d > this.podMaxBackoffMs - d) return this.podMaxBackoffMs;
      d += d;
    }
    return d;
  }

  private backoffTime(p: QueuedPodInfo): number {
    return p.timestamp + this.backoffDuration(p);
  }

  /** Whether the pod is still backing off (a gated pod never is). */
  isPodBackingoff(p: QueuedPodInfo): boolean {
    if (p.gated) return false;
    return this.backoffTime(p) > this.clock.now();
  }

  // ---- moving pods ----

  /** runPreEnqueuePlugins: false (and the plugin recorded) when a plugin gates the pod. */
  private runPreEnqueuePlugins(p: QueuedPodInfo): boolean {
    const profile = this.profiles.get(schedulerNameOf(p.pod));
    for (const pl of profile?.preEnqueuePlugins ?? []) {
      const s = pl.preEnqueue(p.pod);
      if (!s || s.isSuccess()) continue;
      p.unschedulablePlugins.add(pl.name);
      return false;
    }
    return true;
  }

  /** addToActiveQ: runs PreEnqueue; a gated pod goes to unschedulablePods instead. */
  private addToActiveQ(p: QueuedPodInfo): boolean {
    p.gated = !this.runPreEnqueuePlugins(p);
    if (p.gated) {
      this.unschedulablePods.set(podNamespacedName(p.pod), p);
      return false;
    }
    p.initialAttemptTimestamp ??= this.clock.now();
    this.activeQ.addOrUpdate(p);
    return true;
  }

  /** Add: a new pending pod. */
  add(pod: Pod): void {
    const p = this.newQueuedPodInfo(pod);
    const key = podNamespacedName(pod);
    if (!this.addToActiveQ(p)) return;
    this.unschedulablePods.delete(key);
    this.podBackoffQ.delete(key);
    this.nominator.addNominatedPod(p.podInfo, null);
    this.wake();
  }

  /** Activate: moves the pods from unschedulablePods or backoffQ to activeQ, if they are there. */
  activate(pods: readonly Pod[]): void {
    let activated = false;
    for (const pod of pods) {
      const key = podNamespacedName(pod);
      if (this.activeQ.has(key)) continue;
      const p = this.unschedulablePods.get(key) ?? this.podBackoffQ.get(key);
      if (!p) continue;
      if (!this.addToActiveQ(p)) continue;
      this.unschedulablePods.delete(key);
      this.podBackoffQ.delete(key);
      this.nominator.addNominatedPod(p.podInfo, null);
      activated = true;
    }
    if (activated) this.wake();
  }

  /**
   * AddUnschedulableIfNotPresent: a pod whose scheduling attempt failed.
   * It goes to backoffQ when a move request arrived during its cycle (the
   * event might have helped) or when no plugin rejected it (an error);
   * otherwise to unschedulablePods. Returns an error message when the pod
   * is already queued.
   */
  addUnschedulableIfNotPresent(p: QueuedPodInfo, podSchedulingCycle: number): string | undefined {
    const key = podNamespacedName(p.pod);
    if (this.unschedulablePods.has(key)) return `Pod ${key} is already present in unschedulable queue`;
    if (this.activeQ.has(key)) return `Pod ${key} is already present in the active queue`;
    if (this.podBackoffQ.has(key)) return `Pod ${key} is already present in the backoff queue`;
    // Refresh the timestamp since the pod is re-added.
    p.timestamp = this.clock.now();
    const rejectors = p.unschedulablePlugins.size + p.pendingPlugins.size;
    if (this.moveRequestCycle >= podSchedulingCycle || rejectors === 0) this.podBackoffQ.addOrUpdate(p);
    else this.unschedulablePods.set(key, p);
    this.nominator.addNominatedPod(p.podInfo, null);
    return undefined;
  }

  /**
   * Pop: the next pod to schedule, waiting until there is one. Resolves to
   * undefined once the queue is closed or `signal` aborts.
   */
  pop(signal?: AbortSignal): Promise<QueuedPodInfo | undefined> {
    const p = this.tryPop();
    if (p || this.closed || signal?.aborted) return Promise.resolve(p);
    return new Promise((resolve) => {
      const waiter = (x: QueuedPodInfo | undefined) => {
        signal?.removeEventListener("abort", onAbort);
        resolve(x);
      };
      const onAbort = () => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve(undefined);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  /** Pops without waiting; undefined when activeQ is empty. */
  tryPop(): QueuedPodInfo | undefined {
    const p = this.activeQ.pop();
    if (!p) return undefined;
    p.attempts++;
    this.cycle++;
    // A new attempt: forget who rejected the pod last time.
    p.unschedulablePlugins.clear();
    p.pendingPlugins.clear();
    return p;
  }

  private wake(): void {
    while (this.waiters.length > 0 && this.activeQ.length > 0) {
      const w = this.waiters.shift()!;
      w(this.tryPop());
    }
  }

  /**
   * Update: a new version of a pending pod. In activeQ or backoffQ it is
   * updated in place; in unschedulablePods a real change (beyond status and
   * bookkeeping fields) may make it schedulable, so it moves to backoffQ or
   * activeQ; elsewhere it is added to activeQ.
   */
  update(oldPod: Pod | undefined, newPod: Pod): void {
    if (oldPod) {
      const key = podNamespacedName(oldPod);
      const inActive = this.activeQ.get(key);
      if (inActive) {
        inActive.podInfo.update(newPod);
        this.nominator.updateNominatedPod(oldPod, inActive.podInfo);
        this.activeQ.addOrUpdate(inActive);
        return;
      }
      const inBackoff = this.podBackoffQ.get(key);
      if (inBackoff) {
        inBackoff.podInfo.update(newPod);
        this.nominator.updateNominatedPod(oldPod, inBackoff.podInfo);
        this.podBackoffQ.addOrUpdate(inBackoff);
        return;
      }
    }
    const key = podNamespacedName(newPod);
    const us = this.unschedulablePods.get(key);
    if (us) {
      us.podInfo.update(newPod);
      this.nominator.updateNominatedPod(oldPod ?? newPod, us.podInfo);
      if (oldPod === undefined || isPodUpdated(oldPod, newPod)) {
        if (this.isPodBackingoff(us)) {
          this.podBackoffQ.addOrUpdate(us);
          this.unschedulablePods.delete(key);
        } else {
          this.unschedulablePods.delete(key);
          // A pod that stays gated goes back to unschedulablePods in addToActiveQ.
          if (this.addToActiveQ(us)) this.wake();
        }
      }
      return;
    }
    const p = this.newQueuedPodInfo(newPod);
    if (!this.addToActiveQ(p)) return;
    this.nominator.addNominatedPod(p.podInfo, null);
    this.wake();
  }

  /** Delete: the pod is gone (or was bound by someone else). */
  delete(pod: Pod): void {
    this.nominator.deleteNominatedPodIfExists(pod);
    const key = podNamespacedName(pod);
    if (!this.activeQ.delete(key)) {
      this.podBackoffQ.delete(key);
      this.unschedulablePods.delete(key);
    }
  }

  /**
   * getUnschedulablePodsWithCrossTopologyTerm: unschedulable pods that a
   * scheduled pod's appearance may help — those with a required affinity
   * term matching it, and those PodTopologySpread rejected in its namespace.
   */
  private podsWithCrossTopologyTerm(pod: Pod): QueuedPodInfo[] {
    const ns = pod.metadata?.namespace ?? "";
    const nsLabels = this.namespaceLabels(ns);
    const out: QueuedPodInfo[] = [];
    for (const p of this.unschedulablePods.values()) {
      if (p.unschedulablePlugins.has("PodTopologySpread") && (p.pod.metadata?.namespace ?? "") === ns) {
        out.push(p);
        continue;
      }
      if (p.podInfo.requiredAffinityTerms.some((t) => affinityTermMatches(t, pod, nsLabels))) out.push(p);
    }
    return out;
  }

  /** AssignedPodAdded: a pod was bound; pods with affinity to it may now fit. */
  assignedPodAdded(pod: Pod, event: ClusterEvent): void {
    this.movePodsToActiveOrBackoffQueue(this.podsWithCrossTopologyTerm(pod), event);
  }

  /** AssignedPodUpdated: a bound pod changed (e.g. its labels). */
  assignedPodUpdated(_oldPod: Pod, newPod: Pod, event: ClusterEvent): void {
    this.movePodsToActiveOrBackoffQueue(this.podsWithCrossTopologyTerm(newPod), event);
  }

  /**
   * MoveAllToActiveOrBackoffQueue: a cluster event happened; every
   * unschedulable pod (passing preCheck) whose rejecting plugins registered
   * the event moves to activeQ, or backoffQ while it backs off.
   */
  moveAllToActiveOrBackoffQueue(event: ClusterEvent, preCheck?: PreEnqueueCheck): void {
    // Nobody listens for this event: skip the walk over every unschedulable pod.
    if (!this.isEventOfInterest(event)) return;
    const pods: QueuedPodInfo[] = [];
    for (const p of this.unschedulablePods.values()) if (!preCheck || preCheck(p.pod)) pods.push(p);
    this.movePodsToActiveOrBackoffQueue(pods, event);
  }

  private isEventOfInterest(event: ClusterEvent): boolean {
    if (isWildCardEvent(event)) return true;
    for (const profile of this.profiles.values()) {
      for (const entry of profile.queueingHintMap.values()) if (matchClusterEvent(entry.event, event)) return true;
    }
    return false;
  }

  /** isPodWorthRequeuing: no rejector plugins, a wildcard event, or a rejector that registered the event. */
  private isPodWorthRequeuing(p: QueuedPodInfo, event: ClusterEvent): boolean {
    if (p.unschedulablePlugins.size + p.pendingPlugins.size === 0) return true;
    if (isWildCardEvent(event)) return true;
    const hints = this.profiles.get(schedulerNameOf(p.pod))?.queueingHintMap;
    if (!hints) return true;
    for (const entry of hints.values()) {
      if (!matchClusterEvent(entry.event, event)) continue;
      for (const plugin of entry.plugins) if (p.unschedulablePlugins.has(plugin) || p.pendingPlugins.has(plugin)) return true;
    }
    return false;
  }

  private movePodsToActiveOrBackoffQueue(pods: readonly QueuedPodInfo[], event: ClusterEvent): void {
    if (!this.isEventOfInterest(event)) return;
    let activated = false;
    for (const p of pods) {
      if (!this.isPodWorthRequeuing(p, event)) continue;
      const key = podNamespacedName(p.pod);
      this.unschedulablePods.delete(key);
      if (this.isPodBackingoff(p)) {
        this.podBackoffQ.addOrUpdate(p);
        continue;
      }
      if (this.addToActiveQ(p)) activated = true;
    }
    this.moveRequestCycle = this.cycle;
    if (activated) this.wake();
  }

  /** flushBackoffQCompleted: pods whose backoff ended move to activeQ (upstream: every second). */
  flushBackoffQCompleted(): void {
    let activated = false;
    for (;;) {
      const p = this.podBackoffQ.peek();
      if (!p || this.isPodBackingoff(p)) break;
      this.podBackoffQ.pop();
      if (this.addToActiveQ(p)) activated = true;
    }
    if (activated) this.wake();
  }

  /** flushUnschedulablePodsLeftover: pods unschedulable for longer than the maximum are retried (upstream: every 30 s). */
  flushUnschedulablePodsLeftover(): void {
    const now = this.clock.now();
    const pods: QueuedPodInfo[] = [];
    for (const p of this.unschedulablePods.values()) if (now - p.timestamp > this.podMaxInUnschedulablePodsDurationMs) pods.push(p);
    if (pods.length > 0) this.movePodsToActiveOrBackoffQueue(pods, UnschedulableTimeout);
  }

  /** Run: the periodic flushes, until `signal` aborts or the queue closes. */
  run(signal?: AbortSignal): void {
    const every = (ms: number, fn: () => void) => {
      const tick = () => {
        if (this.closed || signal?.aborted) return;
        fn();
        handle = this.timers.setTimeout(tick, ms);
      };
      let handle = this.timers.setTimeout(tick, ms);
      signal?.addEventListener("abort", () => this.timers.clearTimeout(handle), { once: true });
    };
    every(BackoffFlushPeriodMs, () => this.flushBackoffQCompleted());
    every(UnschedulableFlushPeriodMs, () => this.flushUnschedulablePodsLeftover());
  }

  /** Close: pending and future pops resolve to undefined. */
  close(): void {
    this.closed = true;
    for (const w of this.waiters.splice(0)) w(undefined);
  }

  /** PendingPods: every queued pod, and a summary line as upstream's. */
  pendingPods(): { pods: Pod[]; summary: string } {
    const pods: Pod[] = [];
    for (const p of this.activeQ.list()) pods.push(p.pod);
    for (const p of this.podBackoffQ.list()) pods.push(p.pod);
    for (const p of this.unschedulablePods.values()) pods.push(p.pod);
    const summary = `activeQ:${this.activeQ.length}; backoffQ:${this.podBackoffQ.length}; unschedulablePods:${this.unschedulablePods.size}`;
    return { pods, summary };
  }

  /** Where a pod is queued, if anywhere (tests, debugging). */
  whereIs(pod: Pod): QueueName | undefined {
    const key = podNamespacedName(pod);
    if (this.activeQ.has(key)) return "Active";
    if (this.podBackoffQ.has(key)) return "Backoff";
    if (this.unschedulablePods.has(key)) return "Unschedulable";
    return undefined;
  }

  /** The queued info of a pod, from whichever sub-queue holds it. */
  get(pod: Pod): QueuedPodInfo | undefined {
    const key = podNamespacedName(pod);
    return this.activeQ.get(key) ?? this.podBackoffQ.get(key) ?? this.unschedulablePods.get(key);
  }

  /** The sizes of the three sub-queues. */
  lengths(): { active: number; backoff: number; unschedulable: number } {
    return { active: this.activeQ.length, backoff: this.podBackoffQ.length, unschedulable: this.unschedulablePods.size };
  }

  // ---- PodNominator, delegated ----

  addNominatedPod(pi: PodInfo, nominatingInfo: NominatingInfo | null = null): void {
    this.nominator.addNominatedPod(pi, nominatingInfo);
  }

  deleteNominatedPodIfExists(pod: Pod): void {
    this.nominator.deleteNominatedPodIfExists(pod);
  }

  updateNominatedPod(oldPod: Pod, newPodInfo: PodInfo): void {
    this.nominator.updateNominatedPod(oldPod, newPodInfo);
  }

  nominatedPodsForNode(nodeName: string): PodInfo[] {
    return this.nominator.nominatedPodsForNode(nodeName);
  }

  hasNominatedPods(): boolean {
    return this.nominator.hasNominatedPods();
  }
}
