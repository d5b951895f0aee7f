/**
 * Sorting, filtering and picking a Deployment's ReplicaSets, as upstream's
 * controller_utils.go and deployment_util.go: by creation time (name
 * breaks ties), by size (newer or older first on ties), by revision; the
 * active ones; the new one (template equal to the Deployment's) and the
 * old ones.
 */
import type { Deployment, ReplicaSet } from "kubernetes-types/apps/v1.js";
import type { LabelSelector } from "kubernetes-types/meta/v1.js";
import type { PodTemplateSpec } from "kubernetes-types/core/v1.js";
import { parseTime } from "../common/time.js";
import { revisionOrUndefined } from "./annotations.js";
import { specReplicas } from "./fenceposts.js";
import { DEFAULT_DEPLOYMENT_UNIQUE_LABEL_KEY, equalIgnoreHash } from "./template.js";

/** Older first, then by name (upstream's `ReplicaSetsByCreationTimestamp`). */
export function byCreationTimestamp(a: ReplicaSet, b: ReplicaSet): number {
  const ta = parseTime(a.metadata?.creationTimestamp);
  const tb = parseTime(b.metadata?.creationTimestamp);
  if (ta === tb) {
    const na = a.metadata?.name ?? "";
    const nb = b.metadata?.name ?? "";
    return na < nb ? -1 : na > nb ? 1 : 0;
  }
  return ta - tb;
}

/** Larger first; on a tie older first (upstream's `ReplicaSetsBySizeOlder`): scale-down order. */
export function bySizeOlder(a: ReplicaSet, b: ReplicaSet): number {
  const d = specReplicas(b) - specReplicas(a);
  return d !== 0 ? d : byCreationTimestamp(a, b);
}

/** Larger first; on a tie newer first (upstream's `ReplicaSetsBySizeNewer`): scale-up order. */
export function bySizeNewer(a: ReplicaSet, b: ReplicaSet): number {
  const d = specReplicas(b) - specReplicas(a);
  return d !== 0 ? d : byCreationTimestamp(b, a);
}

/** Lower revision first; unparsable or equal revisions by creation time (upstream's `ReplicaSetsByRevision`). */
export function byRevision(a: ReplicaSet, b: ReplicaSet): number {
  const ra = revisionOrUndefined(a);
  const rb = revisionOrUndefined(b);
  if (ra === undefined || rb === undefined || ra === rb) return byCreationTimestamp(a, b);
  return ra - rb;
}

/** ReplicaSets with pods wanted: spec.replicas > 0 (upstream's `FilterActiveReplicaSets`). */
export function filterActiveReplicaSets(replicaSets: readonly (ReplicaSet | undefined)[]): ReplicaSet[] {
  return replicaSets.filter((rs): rs is ReplicaSet => !!rs && specReplicas(rs) > 0);
}

/**
 * The Deployment's new ReplicaSet: the oldest whose template equals the
 * Deployment's (upstream's `FindNewReplicaSet`; after upgrades there can be
 * several, kubernetes#40415). Sorts `rsList` in place, as upstream.
 */
export function findNewReplicaSet(d: Deployment, rsList: ReplicaSet[]): ReplicaSet | undefined {
  rsList.sort(byCreationTimestamp);
  return rsList.find((rs) => equalIgnoreHash(rs.spec?.template, d.spec?.template));
}

/**
 * The old ReplicaSets (upstream's `FindOldReplicaSets`): those with
 * replicas wanted, and all of them.
 */
export function findOldReplicaSets(d: Deployment, rsList: ReplicaSet[]): [required: ReplicaSet[], all: ReplicaSet[]] {
  const newRS = findNewReplicaSet(d, rsList);
  const required: ReplicaSet[] = [];
  const all: ReplicaSet[] = [];
  for (const rs of rsList) {
    if (newRS && rs.metadata?.uid === newRS.metadata?.uid) continue;
    all.push(rs);
    if (specReplicas(rs) !== 0) required.push(rs);
  }
  return [required, all];
}

/**
 * The only active ReplicaSet, or the newest when none is active; undefined
 * when several are active and must be scaled proportionally (upstream's
 * `FindActiveOrLatest`). Sorts `oldRSs` newest first, in place, as upstream.
 */
export function findActiveOrLatest(newRS: ReplicaSet | undefined, oldRSs: ReplicaSet[]): ReplicaSet | undefined {
  if (!newRS && oldRSs.length === 0) return undefined;
  oldRSs.sort((a, b) => byCreationTimestamp(b, a));
  const active = filterActiveReplicaSets([...oldRSs, newRS]);
  switch (active.length) {
    case 0:
      return newRS ?? oldRSs[0];
    case 1:
      return active[0];
    default:
      return undefined;
  }
}

/** `labels` plus `key=value`, a new map (upstream's `CloneAndAddLabel`; an empty key returns `labels`). */
export function cloneAndAddLabel(labels: Record<string, string> | undefined, key: string, value: string): Record<string, string> | undefined {
  if (key === "") return labels;
  return { ...(labels ?? {}), [key]: value };
}

/** `labels` without `key`, a new map (upstream's `CloneAndRemoveLabel`). */
export function cloneAndRemoveLabel(labels: Record<string, string> | undefined, key: string): Record<string, string> | undefined {
  if (key === "") return labels;
  const out = { ...(labels ?? {}) };
  delete out[key];
  return out;
}

/** `selector` with `key=value` added to matchLabels (upstream's `CloneSelectorAndAddLabel`). */
export function cloneSelectorAndAddLabel(selector: LabelSelector, key: string, value: string): LabelSelector {
  if (key === "") return selector;
  const out: LabelSelector = { matchLabels: { ...(selector.matchLabels ?? {}), [key]: value } };
  if (selector.matchExpressions) out.matchExpressions = selector.matchExpressions.map((e) => ({ ...e, ...(e.values ? { values: [...e.values] } : {}) }));
  return out;
}

/**
 * Gives the Deployment `template` (without its pod-template-hash label)
 * as its own template (upstream's `SetFromReplicaSetTemplate`).
 */
export function setFromReplicaSetTemplate(d: Deployment, template: PodTemplateSpec | undefined): Deployment {
  const t = structuredClone(template ?? {});
  const metadata = { ...(t.metadata ?? {}) };
  const labels = cloneAndRemoveLabel(metadata.labels, DEFAULT_DEPLOYMENT_UNIQUE_LABEL_KEY);
  if (labels) metadata.labels = labels;
  (d.spec ??= { selector: {}, template: {} }).template = { ...t, metadata };
  return d;
}
