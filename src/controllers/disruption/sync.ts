/**
 * One PodDisruptionBudget's status (pkg/controller/disruption trySync,
 * v1.30): its pods by selector; the expected count and the desired
 * healthy count from minAvailable or maxUnavailable (a percentage, or
 * maxUnavailable at all, counts against the scale of the pods'
 * controllers); healthy = Ready pods not being deleted and not recently
 * evicted (the eviction handler's `disruptedPods`, trusted for 2 minutes);
 * disruptionsAllowed = healthy − desired, never below 0 and 0 while no
 * pod is expected. The DisruptionAllowed condition says
 * SufficientPods/InsufficientPods. A budget that cannot be computed is
 * failed safe: 0 disruptions, condition reason SyncFailed.
 */
import type { ObjectReference, Pod } from "kubernetes-types/core/v1.js";
import type { PodDisruptionBudget, PodDisruptionBudgetStatus } from "kubernetes-types/policy/v1.js";
import { type LabelSelector, selectorFromObject } from "../../machinery/labels.js";
import { type Logger, silentLogger } from "../../machinery/log.js";
import { getControllerOf } from "../common/controller-ref.js";
import { deepEqual } from "../common/equality.js";
import { errorMessage } from "../common/errors.js";
import { isPodReady } from "../common/pod-utils.js";
import { parseTime } from "../common/time.js";
import { scaledValueFromIntOrPercent } from "../deployment/fenceposts.js";
import { conditionsAreUpToDate, DisruptionAllowedCondition, setStatusCondition, SyncFailedReason, updateDisruptionAllowedCondition } from "./conditions.js";
import type { PodControllerFinder } from "./finders.js";

/** How long a pod the eviction handler named in `disruptedPods` is expected to take to be deleted. */
export const DELETION_TIMEOUT_MS = 2 * 60_000;

/** What a sync reads and writes. */
export interface DisruptionSyncDeps {
  /** Pods of a namespace (the informer's cache). */
  podsIn(namespace: string): Pod[];
  readonly finders: readonly PodControllerFinder[];
  /** PUT of the budget's status. */
  updateStatus(pdb: PodDisruptionBudget): Promise<PodDisruptionBudget>;
  event(regarding: ObjectReference, type: "Normal" | "Warning", reason: string, note: string): void;
  now(): number;
  readonly logger?: Logger;
}

/** What a sync asks of the controller: when to look at the budget again (a disrupted pod's deadline). */
export interface SyncResult {
  readonly recheckAfterMs?: number;
}

export function pdbRef(pdb: PodDisruptionBudget): ObjectReference {
  const m = pdb.metadata ?? {};
  return { apiVersion: "policy/v1", kind: "PodDisruptionBudget", namespace: m.namespace, name: m.name, uid: m.uid, resourceVersion: m.resourceVersion };
}

function podRef(pod: Pod): ObjectReference {
  const m = pod.metadata ?? {};
  return { apiVersion: "v1", kind: "Pod", namespace: m.namespace, name: m.name, uid: m.uid, resourceVersion: m.resourceVersion };
}

/** The budget's selector (nil selects nothing; empty selects every pod of the namespace). Throws when it does not parse. */
export function pdbSelector(pdb: PodDisruptionBudget): LabelSelector | undefined {
  return selectorFromObject(pdb.spec?.selector as Parameters<typeof selectorFromObject>[0]);
}

/** GetPodPodDisruptionBudgets: the budgets of the pod's namespace whose selectors match it (broken selectors match nothing). */
export function budgetsForPod(pod: Pod, budgets: readonly PodDisruptionBudget[]): PodDisruptionBudget[] {
  const out: PodDisruptionBudget[] = [];
  for (const pdb of budgets) {
    if (pdb.metadata?.namespace !== pod.metadata?.namespace) continue;
    let sel: LabelSelector | undefined;
    try {
      sel = pdbSelector(pdb);
    } catch {
      continue;
    }
    if (sel?.matches(pod.metadata?.labels ?? {})) out.push(pdb);
  }
  return out;
}

export class DisruptionSyncer {
  private readonly log: Logger;

  constructor(private readonly deps: DisruptionSyncDeps) {
    this.log = deps.logger ?? silentLogger;
  }

  /** sync: trySync, failing safe on anything but a conflict (which only means a newer budget is coming). */
  async sync(pdb: PodDisruptionBudget): Promise<SyncResult> {
    try {
      return await this.trySync(pdb);
    } catch (err) {
      if ((err as { reason?: string })?.reason === "Conflict") throw err;
      this.log.warn("failed to sync PDB", { podDisruptionBudget: `${pdb.metadata?.namespace}/${pdb.metadata?.name}`, err: errorMessage(err) });
      await this.failSafe(pdb, err);
      return {};
    }
  }

  private async trySync(pdb: PodDisruptionBudget): Promise<SyncResult> {
    let pods: Pod[];
    try {
      pods = this.getPodsForPdb(pdb);
    } catch (err) {
      this.deps.event(pdbRef(pdb), "Warning", "NoPods", `Failed to get pods: ${errorMessage(err)}`);
      throw err;
    }
    if (pods.length === 0) this.deps.event(pdbRef(pdb), "Normal", "NoPods", "No matching pods found");

    let counts: { expectedCount: number; desiredHealthy: number; unmanagedPods: string[] };
    try {
      counts = await this.getExpectedPodCount(pdb, pods);
    } catch (err) {
      this.deps.event(pdbRef(pdb), "Warning", "CalculateExpectedPodCountFailed", `Failed to calculate the number of expected pods: ${errorMessage(err)}`);
      throw err;
    }
    if (counts.unmanagedPods.length > 0) {
      // Not an error: the budget is still computed, but a percentage cannot count these pods.
      this.deps.event(
        pdbRef(pdb),
        "Warning",
        "UnmanagedPods",
        `Pods selected by this PodDisruptionBudget (selector: ${formatSelector(pdb)}) were found to be unmanaged. As a result, the status of the PDB cannot be calculated correctly, which may result in undefined behavior. To account for these pods please set ".spec.minAvailable" field of the PDB to an integer value.`,
      );
    }
    const now = this.deps.now();
    const { disruptedPods, recheckTime } = this.buildDisruptedPodMap(pods, pdb, now);
    const currentHealthy = countHealthyPods(pods, disruptedPods, now);
    await this.updatePdbStatus(pdb, currentHealthy, counts.desiredHealthy, counts.expectedCount, disruptedPods, now);
    return recheckTime === undefined ? {} : { recheckAfterMs: Math.max(0, recheckTime - now) };
  }

  /** getPodsForPdb: the namespace's pods the selector matches. */
  getPodsForPdb(pdb: PodDisruptionBudget): Pod[] {
    const sel = pdbSelector(pdb);
    if (!sel) return [];
    return this.deps.podsIn(pdb.metadata?.namespace ?? "").filter((p) => sel.matches(p.metadata?.labels ?? {}));
  }

  /** getExpectedPodCount: how many pods are expected and how many must stay healthy. */
  async getExpectedPodCount(pdb: PodDisruptionBudget, pods: readonly Pod[]): Promise<{ expectedCount: number; desiredHealthy: number; unmanagedPods: string[] }> {
    const spec = pdb.spec ?? {};
    if (spec.maxUnavailable !== undefined && spec.maxUnavailable !== null) {
      const { expectedCount, unmanagedPods } = await this.getExpectedScale(pods);
      const maxUnavailable = scaledValueFromIntOrPercent(spec.maxUnavailable, expectedCount, true);
      return { expectedCount, desiredHealthy: Math.max(0, expectedCount - maxUnavailable), unmanagedPods };
    }
    if (spec.minAvailable !== undefined && spec.minAvailable !== null) {
      if (typeof spec.minAvailable === "number") return { expectedCount: pods.length, desiredHealthy: spec.minAvailable, unmanagedPods: [] };
      const { expectedCount, unmanagedPods } = await this.getExpectedScale(pods);
      return { expectedCount, desiredHealthy: scaledValueFromIntOrPercent(spec.minAvailable, expectedCount, true), unmanagedPods };
    }
    return { expectedCount: 0, desiredHealthy: 0, unmanagedPods: [] };
  }

  /** getExpectedScale: the summed scale of the pods' controllers; pods without one are listed apart. */
  async getExpectedScale(pods: readonly Pod[]): Promise<{ expectedCount: number; unmanagedPods: string[] }> {
    const scales = new Map<string, number>();
    const unmanagedPods: string[] = [];
    for (const pod of pods) {
      const ref = getControllerOf(pod);
      if (!ref) {
        unmanagedPods.push(pod.metadata?.name ?? "");
        continue;
      }
      if (scales.has(ref.uid)) continue;
      let found = false;
      for (const finder of this.deps.finders) {
        const cs = await finder(ref, pod.metadata?.namespace ?? "");
        if (cs) {
          scales.set(cs.uid, cs.scale);
          found = true;
          break;
        }
      }
      if (!found) throw new Error(`found no controllers for pod ${JSON.stringify(pod.metadata?.name ?? "")}`);
    }
    let expectedCount = 0;
    for (const s of scales.values()) expectedCount += s;
    return { expectedCount, unmanagedPods };
  }

  /**
   * buildDisruptedPodMap: the budget's disruptedPods without pods already
   * being deleted, gone, or overdue (those get a NotDeleted event), and the
   * earliest deadline of the ones kept.
   */
  buildDisruptedPodMap(pods: readonly Pod[], pdb: PodDisruptionBudget, now: number): { disruptedPods: Record<string, string>; recheckTime?: number } {
    const given = pdb.status?.disruptedPods;
    const result: Record<string, string> = {};
    let recheckTime: number | undefined;
    if (!given) return { disruptedPods: result };
    for (const pod of pods) {
      if (pod.metadata?.deletionTimestamp) continue;
      const name = pod.metadata?.name ?? "";
      const at = given[name];
      if (at === undefined) continue;
      const expectedDeletion = parseTime(at) + DELETION_TIMEOUT_MS;
      if (expectedDeletion < now) {
        this.log.info("pod was expected to be deleted but it wasn't, updating PDB", { pod: `${pod.metadata?.namespace}/${name}`, podDisruptionBudget: `${pdb.metadata?.namespace}/${pdb.metadata?.name}` });
        this.deps.event(podRef(pod), "Warning", "NotDeleted", `Pod was expected by PDB ${pdb.metadata?.namespace ?? ""}/${pdb.metadata?.name ?? ""} to be deleted but it wasn't`);
      } else {
        if (recheckTime === undefined || expectedDeletion < recheckTime) recheckTime = expectedDeletion;
        result[name] = at;
      }
    }
    return { disruptedPods: result, recheckTime };
  }

  /** updatePdbStatus: writes the status when any figure, the disrupted pods, the generation or the condition changed. */
  private async updatePdbStatus(
    pdb: PodDisruptionBudget,
    currentHealthy: number,
    desiredHealthy: number,
    expectedCount: number,
    disruptedPods: Record<string, string>,
    now: number,
  ): Promise<void> {
    // Nothing may be disrupted while no pod is expected: the budget's first pods may appear before its first sync.
    let disruptionsAllowed = currentHealthy - desiredHealthy;
    if (expectedCount <= 0 || disruptionsAllowed <= 0) disruptionsAllowed = 0;
    const s = pdb.status;
    const generation = pdb.metadata?.generation;
    if (
      s &&
      s.currentHealthy === currentHealthy &&
      s.desiredHealthy === desiredHealthy &&
      s.expectedPods === expectedCount &&
      s.disruptionsAllowed === disruptionsAllowed &&
      // Nil and empty maps are the same, as apimachinery's semantic equality says.
      deepEqual(s.disruptedPods ?? {}, disruptedPods) &&
      (s.observedGeneration ?? 0) === (generation ?? 0) &&
      conditionsAreUpToDate(pdb)
    ) {
      return;
    }
    const status: PodDisruptionBudgetStatus = {
      currentHealthy,
      desiredHealthy,
      expectedPods: expectedCount,
      disruptionsAllowed,
      ...(Object.keys(disruptedPods).length > 0 ? { disruptedPods } : {}),
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
      ...(s?.conditions ? { conditions: s.conditions } : {}),
    };
    const conditions = updateDisruptionAllowedCondition(status, now);
    await this.deps.updateStatus({ ...structuredClone(pdb), status: { ...status, conditions } });
  }

  /** failSafe: no disruptions, and DisruptionAllowed False with reason SyncFailed and the error. */
  private async failSafe(pdb: PodDisruptionBudget, err: unknown): Promise<void> {
    const s = structuredClone(pdb.status ?? { currentHealthy: 0, desiredHealthy: 0, expectedPods: 0, disruptionsAllowed: 0 });
    const conditions = setStatusCondition(
      s.conditions ?? [],
      {
        type: DisruptionAllowedCondition,
        status: "False",
        reason: SyncFailedReason,
        message: errorMessage(err),
        ...(s.observedGeneration !== undefined ? { observedGeneration: s.observedGeneration } : {}),
      },
      this.deps.now(),
    );
    await this.deps.updateStatus({ ...structuredClone(pdb), status: { ...s, disruptionsAllowed: 0, conditions } });
  }
}

/** countHealthyPods: Ready pods neither being deleted nor recently evicted. */
export function countHealthyPods(pods: readonly Pod[], disruptedPods: Readonly<Record<string, string>>, now: number): number {
  let healthy = 0;
  for (const pod of pods) {
    if (pod.metadata?.deletionTimestamp) continue;
    const at = disruptedPods[pod.metadata?.name ?? ""];
    if (at !== undefined && parseTime(at) + DELETION_TIMEOUT_MS > now) continue;
    if (isPodReady(pod)) healthy++;
  }
  return healthy;
}

/** The selector as Go's `%v` of a *metav1.LabelSelector prints it. */
function formatSelector(pdb: PodDisruptionBudget): string {
  const sel = pdb.spec?.selector;
  if (!sel) return "nil";
  const labels = Object.entries(sel.matchLabels ?? {})
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}: ${v},`)
    .join("");
  const exprs = (sel.matchExpressions ?? []).map((e) => `LabelSelectorRequirement{Key:${e.key},Operator:${e.operator},Values:[${(e.values ?? []).join(" ")}],}`).join(",");
  return `&LabelSelector{MatchLabels:map[string]string{${labels}},MatchExpressions:[]LabelSelectorRequirement{${exprs}},}`;
}

