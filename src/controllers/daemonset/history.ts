/**
 * DaemonSet history, as upstream's daemon/update.go: each template is a
 * ControllerRevision `<ds>-<hash>` (hash: the template's, salted with
 * status.collisionCount) labelled `controller-revision-hash`, holding the
 * template patch and the DaemonSet's annotations; the one matching the
 * template is current and renumbered to the newest revision; duplicates
 * are merged; old ones beyond revisionHistoryLimit that no pod uses go.
 */
import type { ControllerRevision, DaemonSet } from "kubernetes-types/apps/v1.js";
import { isAlreadyExists } from "../../machinery/status-error.js";
import { selectorFromObject } from "../../machinery/labels.js";
import { newControllerRef } from "../common/controller-ref.js";
import { deepEqual } from "../common/equality.js";
import { computeHash } from "../deployment/template.js";
import { revisionRaw } from "../history/history.js";
import { goJSON } from "../history/raw-json.js";
import { ControllerRevisionControllerRefManager } from "../history/ref-manager.js";
import { DAEMON_SET_GVK, DEFAULT_DAEMON_SET_UNIQUE_LABEL_KEY, keyOf } from "./kinds.js";
import type { DaemonSetSyncer } from "./sync.js";

/** The patch a revision stores: the template, marked to replace the one it is applied to (`getPatch`). */
export function getPatch(ds: DaemonSet): { spec: { template: Record<string, unknown> } } {
  return { spec: { template: { ...structuredClone(ds.spec?.template ?? {}), $patch: "replace" } } };
}

/** Whether the revision holds the DaemonSet's template (`Match`): equal raw data. */
export function match(ds: DaemonSet, history: ControllerRevision): boolean {
  return goJSON(getPatch(ds)) === revisionRaw(history);
}

/** The highest revision number, or 0 (`maxRevision`). */
export function maxRevision(histories: readonly ControllerRevision[]): number {
  let max = 0;
  for (const h of histories) if (h.revision > max) max = h.revision;
  return max;
}

/** The revisions the DaemonSet controls, adopting and releasing by selector (`controlledHistories`). */
export async function controlledHistories(s: DaemonSetSyncer, ds: DaemonSet): Promise<ControllerRevision[]> {
  const selector = selectorFromObject(ds.spec?.selector);
  // All of the namespace's revisions, so those that stopped matching but are ours get released.
  const histories = s.d.listRevisions(ds.metadata?.namespace ?? "");
  const manager = new ControllerRevisionControllerRefManager(s.d.revisions, {
    controller: ds.metadata ?? {},
    selector,
    controllerKind: DAEMON_SET_GVK,
    canAdopt: s.canAdopt(ds),
  });
  const r = await manager.claimControllerRevisions(histories);
  if (r.error) throw r.error;
  return r.claimed;
}

/**
 * The current revision of the DaemonSet, and the old ones
 * (`constructHistory`): revisions lacking the hash label get it (their
 * name, so collisions do not matter); the current one is created, or the
 * newest of its duplicates kept and renumbered above the old ones.
 */
export async function constructHistory(s: DaemonSetSyncer, ds: DaemonSet): Promise<{ cur: ControllerRevision; old: ControllerRevision[] }> {
  const currentHistories: ControllerRevision[] = [];
  const old: ControllerRevision[] = [];
  for (let history of await controlledHistories(s, ds)) {
    if (history.metadata?.labels?.[DEFAULT_DAEMON_SET_UNIQUE_LABEL_KEY] === undefined) {
      const toUpdate = structuredClone(history);
      toUpdate.metadata = { ...toUpdate.metadata, labels: { ...toUpdate.metadata?.labels, [DEFAULT_DAEMON_SET_UNIQUE_LABEL_KEY]: toUpdate.metadata?.name ?? "" } };
      history = await s.d.revisions.update(toUpdate);
    }
    if (match(ds, history)) currentHistories.push(history);
    else old.push(history);
  }
  const currRevision = maxRevision(old) + 1;
  let cur: ControllerRevision;
  if (currentHistories.length === 0) {
    cur = await snapshot(s, ds, currRevision);
  } else {
    cur = await dedupCurHistories(s, ds, currentHistories);
    if (cur.revision < currRevision) {
      // The returned revision keeps its old number, as upstream's.
      await s.d.revisions.update({ ...structuredClone(cur), revision: currRevision });
    }
  }
  return { cur, old };
}

/**
 * Keeps the highest-numbered of several revisions holding the current
 * template: pods labelled with another's hash are relabelled, the others
 * deleted (`dedupCurHistories`).
 */
async function dedupCurHistories(s: DaemonSetSyncer, ds: DaemonSet, curHistories: readonly ControllerRevision[]): Promise<ControllerRevision> {
  if (curHistories.length === 1) return curHistories[0]!;
  let keepCur = curHistories[0]!;
  let max = 0;
  for (const cur of curHistories) {
    if (cur.revision >= max) {
      keepCur = cur;
      max = cur.revision;
    }
  }
  const keepHash = keepCur.metadata?.labels?.[DEFAULT_DAEMON_SET_UNIQUE_LABEL_KEY] ?? "";
  for (const pod of await s.getDaemonPods(ds)) {
    if (pod.metadata?.labels?.[DEFAULT_DAEMON_SET_UNIQUE_LABEL_KEY] !== keepHash) {
      await s.d.podControl.patchPod(ds.metadata?.namespace ?? "", pod.metadata?.name ?? "", { metadata: { labels: { [DEFAULT_DAEMON_SET_UNIQUE_LABEL_KEY]: keepHash } } });
    }
  }
  for (const cur of curHistories) {
    if (cur.metadata?.name === keepCur.metadata?.name) continue;
    await s.d.revisions.delete(ds.metadata?.namespace ?? "", cur.metadata?.name ?? "");
  }
  return keepCur;
}

/**
 * Records the DaemonSet's template as revision `revision` (`snapshot`).
 * A name taken by other data is a hash collision: status.collisionCount
 * is raised (unless the count used was stale) and the sync fails, to be
 * retried with the new count.
 */
export async function snapshot(s: DaemonSetSyncer, ds: DaemonSet, revision: number): Promise<ControllerRevision> {
  const hash = computeHash(ds.spec?.template, ds.status?.collisionCount);
  const name = `${ds.metadata?.name ?? ""}-${hash}`;
  const ns = ds.metadata?.namespace ?? "";
  const annotations = ds.metadata?.annotations;
  const history: ControllerRevision = {
    apiVersion: "apps/v1",
    kind: "ControllerRevision",
    metadata: {
      name,
      namespace: ns,
      labels: { ...(ds.spec?.template?.metadata?.labels ?? {}), [DEFAULT_DAEMON_SET_UNIQUE_LABEL_KEY]: hash },
      ...(annotations && Object.keys(annotations).length > 0 ? { annotations: { ...annotations } } : {}),
      ownerReferences: [newControllerRef(ds.metadata, DAEMON_SET_GVK)],
    },
    data: getPatch(ds),
    revision,
  };
  try {
    return await s.d.revisions.create(ns, history);
  } catch (outerErr) {
    if (!isAlreadyExists(outerErr)) throw outerErr;
    s.log.debug("DaemonSet has ControllerRevision with the same name, checking if it's a hash collision or not", { daemonset: keyOf(ds), controllerRevision: `${ns}/${name}` });
    const existing = await s.d.revisions.get(ns, name);
    // Created by an earlier sync.
    if (match(ds, existing)) return existing;
    // A collision: raise the count, read live so it is raised only once.
    const currDS = await s.d.api.get(ns, ds.metadata?.name ?? "");
    if (!deepEqual(currDS.status?.collisionCount, ds.status?.collisionCount)) {
      throw new Error(
        `found a stale collision count (${ds.status?.collisionCount ?? "nil"}, expected ${currDS.status?.collisionCount ?? "nil"}) of DaemonSet ${JSON.stringify(ds.metadata?.name ?? "")} while processing; will retry until it is updated`,
      );
    }
    const collisionCount = (currDS.status?.collisionCount ?? 0) + 1;
    await s.d.api.updateStatus({ ...currDS, status: { ...(currDS.status ?? { currentNumberScheduled: 0, numberMisscheduled: 0, desiredNumberScheduled: 0, numberReady: 0 }), collisionCount } });
    s.log.info("Found a hash collision for DaemonSet - bumping collisionCount to resolve it", { daemonset: keyOf(ds), collisionCount });
    throw outerErr;
  }
}

/**
 * Deletes old revisions beyond revisionHistoryLimit, oldest first,
 * sparing those whose hash a pod still carries (`cleanupHistory`).
 */
export async function cleanupHistory(s: DaemonSetSyncer, ds: DaemonSet, old: readonly ControllerRevision[]): Promise<void> {
  // Finished pods being deleted count too: their revision stays while they do.
  const nodesToDaemonPods = await s.getNodesToDaemonPods(ds, true);
  const toKeep = ds.spec?.revisionHistoryLimit ?? 10;
  let toKill = old.length - toKeep;
  if (toKill <= 0) return;
  const liveHashes = new Set<string>();
  for (const pods of nodesToDaemonPods.values()) {
    for (const pod of pods) {
      const hash = pod.metadata?.labels?.[DEFAULT_DAEMON_SET_UNIQUE_LABEL_KEY];
      if (hash) liveHashes.add(hash);
    }
  }
  const sorted = [...old].sort((a, b) => a.revision - b.revision);
  for (const history of sorted) {
    if (toKill <= 0) break;
    if (liveHashes.has(history.metadata?.labels?.[DEFAULT_DAEMON_SET_UNIQUE_LABEL_KEY] ?? "")) continue;
    await s.d.revisions.delete(ds.metadata?.namespace ?? "", history.metadata?.name ?? "");
    toKill--;
  }
}
