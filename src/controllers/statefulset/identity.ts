/**
 * StatefulSet pod identity and storage, as upstream's
 * stateful_set_utils.go: pods are `<set>-<ordinal>` for ordinals from
 * `spec.ordinals.start`, labelled with their name and index, with
 * hostname and subdomain set at creation; each volumeClaimTemplate gives
 * a pod the claim `<template>-<set>-<ordinal>`.
 */
import type { StatefulSet } from "kubernetes-types/apps/v1.js";
import type { PersistentVolumeClaim, Pod, Volume } from "kubernetes-types/core/v1.js";

/** Label holding the pod's name (`apps.StatefulSetPodNameLabel`). */
export const STATEFUL_SET_POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name";
/** Label holding the pod's ordinal (`apps.PodIndexLabel`). */
export const POD_INDEX_LABEL = "apps.kubernetes.io/pod-index";

// The parent name and the ordinal of a pod name (`statefulPodRegex`).
const STATEFUL_POD_REGEX = /^(.*)-([0-9]+)$/;

/** The parent set's name and the ordinal in a pod's name; `["", -1]` when it has none (`getParentNameAndOrdinal`). */
export function getParentNameAndOrdinal(pod: Pod): [parent: string, ordinal: number] {
  const m = STATEFUL_POD_REGEX.exec(pod.metadata?.name ?? "");
  if (!m) return ["", -1];
  // strconv.ParseInt(s, 10, 32): out-of-range ordinals do not parse.
  const n = Number(m[2]);
  return [m[1]!, Number.isSafeInteger(n) && n <= 2147483647 ? n : -1];
}

/** The pod's ordinal, or -1 (`getOrdinal`). */
export function getOrdinal(pod: Pod): number {
  return getParentNameAndOrdinal(pod)[1];
}

/** The name of the pod's parent set, or "" (`getParentName`). */
export function getParentName(pod: Pod): string {
  return getParentNameAndOrdinal(pod)[0];
}

/** The first ordinal (`getStartOrdinal`): spec.ordinals.start, or 0. */
export function getStartOrdinal(set: StatefulSet): number {
  return set.spec?.ordinals?.start ?? 0;
}

/** spec.replicas (defaulted to 1 by the API server). */
export function specReplicas(set: StatefulSet): number {
  return set.spec?.replicas ?? 1;
}

/** The last ordinal, inclusive (`getEndOrdinal`). */
export function getEndOrdinal(set: StatefulSet): number {
  return getStartOrdinal(set) + specReplicas(set) - 1;
}

/** Whether the pod's ordinal is one the set currently runs (`podInOrdinalRange`). */
export function podInOrdinalRange(pod: Pod, set: StatefulSet): boolean {
  const ordinal = getOrdinal(pod);
  return ordinal >= getStartOrdinal(set) && ordinal <= getEndOrdinal(set);
}

/** `<set>-<ordinal>` (`getPodName`). */
export function getPodName(set: StatefulSet, ordinal: number): string {
  return `${set.metadata?.name ?? ""}-${ordinal}`;
}

/** `<template>-<set>-<ordinal>` (`getPersistentVolumeClaimName`). */
export function getPersistentVolumeClaimName(set: StatefulSet, claim: PersistentVolumeClaim, ordinal: number): string {
  return `${claim.metadata?.name ?? ""}-${set.metadata?.name ?? ""}-${ordinal}`;
}

/** Whether the pod's name makes it one of the set's (`isMemberOf`). */
export function isMemberOf(set: StatefulSet, pod: Pod): boolean {
  return getParentName(pod) === (set.metadata?.name ?? "");
}

/** Whether the pod's name, namespace and pod-name label fit its place in the set (`identityMatches`). */
export function identityMatches(set: StatefulSet, pod: Pod): boolean {
  const [parent, ordinal] = getParentNameAndOrdinal(pod);
  return (
    ordinal >= 0 &&
    (set.metadata?.name ?? "") === parent &&
    pod.metadata?.name === getPodName(set, ordinal) &&
    (pod.metadata?.namespace ?? "") === (set.metadata?.namespace ?? "") &&
    pod.metadata?.labels?.[STATEFUL_SET_POD_NAME_LABEL] === pod.metadata?.name
  );
}

/** Whether the pod's volumes include each template's claim for its ordinal (`storageMatches`). */
export function storageMatches(set: StatefulSet, pod: Pod): boolean {
  const ordinal = getOrdinal(pod);
  if (ordinal < 0) return false;
  const volumes = new Map<string, Volume>();
  for (const v of pod.spec?.volumes ?? []) volumes.set(v.name, v);
  for (const claim of set.spec?.volumeClaimTemplates ?? []) {
    const v = volumes.get(claim.metadata?.name ?? "");
    if (!v?.persistentVolumeClaim || v.persistentVolumeClaim.claimName !== getPersistentVolumeClaimName(set, claim, ordinal)) return false;
  }
  return true;
}

/**
 * The claims the pod should have, by template name (`getPersistentVolumeClaims`):
 * each template with its per-pod name and namespace, its labels plus the
 * selector's matchLabels.
 */
export function getPersistentVolumeClaims(set: StatefulSet, pod: Pod): Map<string, PersistentVolumeClaim> {
  const ordinal = getOrdinal(pod);
  const claims = new Map<string, PersistentVolumeClaim>();
  for (const template of set.spec?.volumeClaimTemplates ?? []) {
    const claim = structuredClone(template);
    const meta = (claim.metadata ??= {});
    meta.name = getPersistentVolumeClaimName(set, template, ordinal);
    meta.namespace = set.metadata?.namespace;
    meta.labels = { ...(meta.labels ?? {}), ...(set.spec?.selector?.matchLabels ?? {}) };
    if (Object.keys(meta.labels).length === 0) delete meta.labels;
    claims.set(template.metadata?.name ?? "", claim);
  }
  return claims;
}

/** Points the pod's volumes at its claims, replacing same-named volumes (`updateStorage`). */
export function updateStorage(set: StatefulSet, pod: Pod): void {
  const claims = getPersistentVolumeClaims(set, pod);
  const volumes: Volume[] = [];
  for (const [name, claim] of claims) {
    volumes.push({ name, persistentVolumeClaim: { claimName: claim.metadata?.name ?? "" } });
  }
  for (const v of pod.spec?.volumes ?? []) if (!claims.has(v.name)) volumes.push(v);
  pod.spec = { ...(pod.spec ?? { containers: [] }), volumes };
  if (volumes.length === 0) delete pod.spec.volumes;
}

/** Sets name, namespace and the pod-name and pod-index labels (`updateIdentity`). */
export function updateIdentity(set: StatefulSet, pod: Pod): void {
  const ordinal = getOrdinal(pod);
  const meta = (pod.metadata ??= {});
  meta.name = getPodName(set, ordinal);
  meta.namespace = set.metadata?.namespace;
  meta.labels = { ...(meta.labels ?? {}), [STATEFUL_SET_POD_NAME_LABEL]: meta.name, [POD_INDEX_LABEL]: String(ordinal) };
}

/** {@link updateIdentity}, plus hostname and subdomain, which are immutable once the pod exists (`initIdentity`). */
export function initIdentity(set: StatefulSet, pod: Pod): void {
  updateIdentity(set, pod);
  const spec = (pod.spec ??= { containers: [] });
  spec.hostname = pod.metadata!.name;
  // Go's omitempty: an empty serviceName sets no subdomain.
  if (set.spec?.serviceName) spec.subdomain = set.spec.serviceName;
  else delete spec.subdomain;
}
