/**
 * Adding and removing node taints, as upstream's controller utilities
 * AddOrUpdateTaintOnNode, RemoveTaintOffNode and SwapNodeControllerTaint:
 * read the node (first from the cache, the API server's own on retries),
 * compute the new taint list, and write it pinned to the version read,
 * retrying on conflict (UpdateTaintBackoff: 5 steps, 100 ms with full jitter).
 */
import type { Node, Taint } from "kubernetes-types/core/v1.js";
import { sleepOn, type Timers } from "../../client/timers.js";
import { isConflict } from "../../machinery/status-error.js";
import { rfc3339 } from "../common/time.js";
import type { LifecycleApi } from "./api.js";
import { addOrUpdateTaint, removeTaint, taintExists } from "./taints.js";

/** What the taint helpers need. */
export interface TaintWriter {
  readonly api: LifecycleApi;
  readonly timers: Timers;
  /** The informer's copy of a node, read on the first try (upstream reads the API server cache with resourceVersion=0). */
  readonly cachedNode: (name: string) => Node | undefined;
}

const UPDATE_TAINT_STEPS = 5;
const UPDATE_TAINT_STEP_MS = 100;

/** client-go's RetryOnConflict with UpdateTaintBackoff. */
async function retryOnConflict(w: TaintWriter, fn: (first: boolean) => Promise<void>): Promise<void> {
  for (let step = 0; ; step++) {
    try {
      await fn(step === 0);
      return;
    } catch (err) {
      if (!isConflict(err) || step + 1 >= UPDATE_TAINT_STEPS) throw err;
      await sleepOn(w.timers, UPDATE_TAINT_STEP_MS * (1 + Math.random()));
    }
  }
}

async function readNode(w: TaintWriter, name: string, first: boolean): Promise<Node> {
  if (first) {
    const cached = w.cachedNode(name);
    if (cached) return cached;
  }
  return w.api.getNode(name);
}

/** Adds (or updates to match) `taints` on the node; no write when it already has them exactly. */
export async function addOrUpdateTaintOnNode(w: TaintWriter, nodeName: string, taints: readonly Taint[]): Promise<void> {
  if (taints.length === 0) return;
  await retryOnConflict(w, async (first) => {
    const old = await readNode(w, nodeName, first);
    let current = old.spec?.taints ?? [];
    let updated = false;
    for (const t of taints) {
      const r = addOrUpdateTaint(current, t);
      updated ||= r.updated;
      current = r.taints;
    }
    if (!updated) return;
    await w.api.patchNodeTaints(nodeName, old.metadata?.resourceVersion ?? "", current);
  });
}

/**
 * Removes the taints matching `taints` (by key and effect). With `node`
 * given and carrying none of them, nothing is read or written (upstream's
 * short circuit that keeps the API quiet for healthy nodes).
 */
export async function removeTaintOffNode(w: TaintWriter, nodeName: string, node: Node | undefined, taints: readonly Taint[]): Promise<void> {
  if (taints.length === 0) return;
  if (node && !taints.some((t) => taintExists(node.spec?.taints, t))) return;
  await retryOnConflict(w, async (first) => {
    const old = await readNode(w, nodeName, first);
    let current = old.spec?.taints ?? [];
    let updated = false;
    for (const t of taints) {
      const r = removeTaint(current, t);
      updated ||= r.updated;
      current = r.taints;
    }
    if (!updated) return;
    await w.api.patchNodeTaints(nodeName, old.metadata?.resourceVersion ?? "", current);
  });
}

/**
 * SwapNodeControllerTaint: adds `add` (stamped timeAdded now), then removes
 * `remove`. Failures are logged by the caller; the result says whether both
 * writes went through.
 */
export async function swapNodeControllerTaint(
  w: TaintWriter,
  add: readonly Taint[],
  remove: readonly Taint[],
  node: Node,
  onError: (what: string, err: unknown) => void,
): Promise<boolean> {
  const name = node.metadata?.name ?? "";
  const now = rfc3339(w.timers.now());
  const stamped = add.map((t) => ({ ...t, timeAdded: now }));
  try {
    await addOrUpdateTaintOnNode(w, name, stamped);
  } catch (err) {
    onError(`unable to taint ${describeTaints(stamped)} unresponsive Node "${name}"`, err);
    return false;
  }
  try {
    await removeTaintOffNode(w, name, node, remove);
  } catch (err) {
    onError(`unable to remove ${describeTaints(remove)} unneeded taint from unresponsive Node "${name}"`, err);
    return false;
  }
  return true;
}

/** `[key:Effect …]` for messages. */
export function describeTaints(taints: readonly Taint[]): string {
  return `[${taints.map((t) => `${t.key}${t.value ? `=${t.value}` : ""}:${t.effect}`).join(" ")}]`;
}
