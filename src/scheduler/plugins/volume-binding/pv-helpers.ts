/**
 * PersistentVolume helpers the binder shares with the PV controller
 * (component-helpers/storage/volume/pv_helpers.go and helpers.go, v1.30):
 * classes, claim references, node affinity, and the smallest matching
 * volume for a claim.
 */
import type { Node, PersistentVolume, PersistentVolumeClaim, TopologySelectorTerm } from "kubernetes-types/core/v1.js";
import { value } from "../../framework/quantity.js";
import { ParsedNodeSelector } from "../../framework/node-selector.js";
import { labelSelectorAsSelector } from "../../framework/pod-info.js";

/** The scheduler's choice of node for a claim to be provisioned on. */
export const AnnSelectedNode = "volume.kubernetes.io/selected-node";
/** Set by the PV controller once a claim's binding is complete. */
export const AnnBindCompleted = "pv.kubernetes.io/bind-completed";
/** Set on a PV bound by the controller (not pre-bound by a user). */
export const AnnBoundByController = "pv.kubernetes.io/bound-by-controller";
/** The deprecated class annotation, which wins over spec.storageClassName. */
export const BetaStorageClassAnnotation = "volume.beta.kubernetes.io/storage-class";
/** The provisioner of classes that only have pre-provisioned volumes. */
export const NotSupportedProvisioner = "kubernetes.io/no-provisioner";
export const LabelHostname = "kubernetes.io/hostname";

/** GetPersistentVolumeClaimClass: the beta annotation, else spec.storageClassName, else "". */
export function claimClass(claim: PersistentVolumeClaim): string {
  const ann = claim.metadata?.annotations;
  if (ann && Object.hasOwn(ann, BetaStorageClassAnnotation)) return ann[BetaStorageClassAnnotation]!;
  return claim.spec?.storageClassName ?? "";
}

/** GetPersistentVolumeClass. */
export function volumeClass(pv: PersistentVolume): string {
  const ann = pv.metadata?.annotations;
  if (ann && Object.hasOwn(ann, BetaStorageClassAnnotation)) return ann[BetaStorageClassAnnotation]!;
  return pv.spec?.storageClassName ?? "";
}

/** "namespace/name" of a claim. */
export function claimKey(claim: PersistentVolumeClaim): string {
  return `${claim.metadata?.namespace ?? ""}/${claim.metadata?.name ?? ""}`;
}

/** IsVolumeBoundToClaim: the PV's claimRef names the claim (and its UID, when the ref has one). */
export function isVolumeBoundToClaim(pv: PersistentVolume, claim: PersistentVolumeClaim): boolean {
  const ref = pv.spec?.claimRef;
  if (!ref) return false;
  if ((claim.metadata?.name ?? "") !== (ref.name ?? "") || (claim.metadata?.namespace ?? "") !== (ref.namespace ?? "")) return false;
  if (ref.uid && claim.metadata?.uid !== ref.uid) return false;
  return true;
}

/** CheckVolumeModeMismatches: Filesystem when unset on either side. */
export function volumeModeMismatches(claim: PersistentVolumeClaim, pv: PersistentVolume): boolean {
  return (claim.spec?.volumeMode ?? "Filesystem") !== (pv.spec?.volumeMode ?? "Filesystem");
}

/** CheckAccessModes: the PV offers every access mode the claim asks for. */
export function checkAccessModes(claim: PersistentVolumeClaim, pv: PersistentVolume): boolean {
  const offered = new Set(pv.spec?.accessModes ?? []);
  return (claim.spec?.accessModes ?? []).every((m) => offered.has(m));
}

/**
 * CheckNodeAffinity: undefined when the PV may be used on a node with these
 * labels, else why not. Only labels are known (the node's name is not), as
 * upstream: a metadata.name field term never matches here.
 */
export function checkNodeAffinity(pv: PersistentVolume, nodeLabels: Readonly<Record<string, string>> | undefined): string | undefined {
  const required = pv.spec?.nodeAffinity?.required;
  if (!required) return undefined;
  const sel = new ParsedNodeSelector(required);
  const node: Node = { metadata: { labels: { ...nodeLabels } } };
  if (sel.match(node)) return undefined;
  if (sel.errors.length > 0) return sel.errors.length === 1 ? sel.errors[0] : `[${sel.errors.join(", ")}]`;
  return "no matching NodeSelectorTerms";
}

/** GetLocalPersistentVolumeNodeNames: the hostnames a PV's `kubernetes.io/hostname In` terms allow (undefined when none). */
export function localVolumeNodeNames(pv: PersistentVolume): string[] | undefined {
  const terms = pv.spec?.nodeAffinity?.required?.nodeSelectorTerms;
  if (!terms) return undefined;
  const result = new Set<string>();
  for (const term of terms) {
    let nodes: Set<string> | undefined;
    for (const e of term.matchExpressions ?? []) {
      if (e.key !== LabelHostname || e.operator !== "In") continue;
      const values = new Set(e.values ?? []);
      nodes = nodes ? new Set([...nodes].filter((n) => values.has(n))) : values;
    }
    for (const n of nodes ?? []) result.add(n);
  }
  return result.size > 0 ? [...result].sort() : undefined;
}

/** MatchTopologySelectorTerms: an empty list matches everything; a term matches when all its expressions (In) do. */
export function matchTopologySelectorTerms(terms: readonly TopologySelectorTerm[] | undefined, labels: Readonly<Record<string, string>> | undefined): boolean {
  if (!terms || terms.length === 0) return true;
  const l = labels ?? {};
  for (const t of terms) {
    const exprs = t.matchLabelExpressions ?? [];
    // A nil or empty term selects no objects.
    if (exprs.length === 0) continue;
    // "In" with no values is an invalid requirement: such a term never matches.
    if (exprs.every((e) => e.values.length > 0 && Object.hasOwn(l, e.key) && e.values.includes(l[e.key]!))) return true;
  }
  return false;
}

/** The claim's storage request in bytes (0 when unset). */
export function requestedStorage(claim: PersistentVolumeClaim): number {
  return value(claim.spec?.resources?.requests?.storage);
}

/**
 * FindMatchingVolume (scheduler path: `node` set, delayBinding true): the
 * PV pre-bound to the claim, or the smallest available, unclaimed PV of the
 * claim's class that is large enough, matches the claim's selector, volume
 * mode and access modes, and whose node affinity admits the node. Throws on
 * a claim selector that does not parse.
 */
export function findMatchingVolume(
  claim: PersistentVolumeClaim,
  volumes: readonly PersistentVolume[],
  node: Node | undefined,
  excluded: ReadonlyMap<string, PersistentVolume>,
  delayBinding: boolean,
): PersistentVolume | undefined {
  let smallest: PersistentVolume | undefined;
  let smallestQty = 0;
  const requestedQty = requestedStorage(claim);
  const requestedClass = claimClass(claim);
  let selector: ReturnType<typeof labelSelectorAsSelector> | undefined;
  if (claim.spec?.selector) {
    try {
      selector = labelSelectorAsSelector(claim.spec.selector);
    } catch (e) {
      throw new Error(`error creating internal label selector for claim: ${claimKey(claim)}: ${(e as Error).message}`);
    }
  }
  for (const pv of volumes) {
    if (excluded.has(pv.metadata?.name ?? "")) continue;
    if (pv.spec?.claimRef && !isVolumeBoundToClaim(pv, claim)) continue;
    const volumeQty = value(pv.spec?.capacity?.storage);
    if (volumeQty < requestedQty) continue;
    if (volumeModeMismatches(claim, pv)) continue;
    if (pv.metadata?.deletionTimestamp) continue;
    const nodeAffinityValid = node ? checkNodeAffinity(pv, node.metadata?.labels) === undefined : true;
    if (isVolumeBoundToClaim(pv, claim)) {
      // A pre-bound PV whose affinity excludes the node means the claim cannot be satisfied here.
      return nodeAffinityValid ? pv : undefined;
    }
    // The PV controller leaves unbound claims of delayed binding to the scheduler.
    if (!node && delayBinding) continue;
    if (pv.status?.phase !== "Available") continue;
    if (selector && !selector.matches(pv.metadata?.labels)) continue;
    if (volumeClass(pv) !== requestedClass) continue;
    if (!nodeAffinityValid) continue;
    if (node && !checkAccessModes(claim, pv)) continue;
    if (!smallest || smallestQty > volumeQty) {
      smallest = pv;
      smallestQty = volumeQty;
    }
  }
  return smallest;
}

/** GetBindVolumeToClaim: a copy of the PV bound to the claim, and whether it differs from the original. */
export function bindVolumeToClaim(pv: PersistentVolume, claim: PersistentVolumeClaim): { pv: PersistentVolume; dirty: boolean } {
  let dirty = false;
  const shouldSetBoundByController = !isVolumeBoundToClaim(pv, claim);
  const clone: PersistentVolume = structuredClone(pv);
  const ref = pv.spec?.claimRef;
  const m = claim.metadata ?? {};
  if (!ref || ref.name !== m.name || ref.namespace !== m.namespace || ref.uid !== m.uid) {
    clone.spec = {
      ...clone.spec,
      claimRef: { kind: "PersistentVolumeClaim", apiVersion: "v1", namespace: m.namespace, name: m.name, uid: m.uid, resourceVersion: m.resourceVersion },
    };
    dirty = true;
  }
  const ann = clone.metadata?.annotations;
  if (shouldSetBoundByController && !(ann && Object.hasOwn(ann, AnnBoundByController))) {
    clone.metadata = { ...clone.metadata, annotations: { ...ann, [AnnBoundByController]: "yes" } };
    dirty = true;
  }
  return { pv: clone, dirty };
}
