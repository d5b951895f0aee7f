/**
 * The PV controller's search for a claim's volume
 * (persistentvolume/index.go findByClaim, v1.30): volumes are grouped by
 * their access modes; the groups offering every mode the claim asks for
 * are tried from the fewest modes up, and within a group the smallest
 * matching volume wins. So a ReadWriteOnce claim takes a RWO-only volume
 * before a larger-choice RWO+RWX one, leaving the latter for claims that
 * need it.
 */
import type { PersistentVolume, PersistentVolumeClaim } from "kubernetes-types/core/v1.js";
import { findMatchingVolume } from "../../../scheduler/plugins/volume-binding/pv-helpers.js";

const MODE_ABBREVIATIONS: readonly (readonly [string, string])[] = [
  ["ReadWriteOnce", "RWO"],
  ["ReadOnlyMany", "ROX"],
  ["ReadWriteMany", "RWX"],
  ["ReadWriteOncePod", "RWOP"],
];

/** v1helper.GetAccessModesAsString: `RWO,ROX,RWX,RWOP` order, duplicates dropped. */
export function accessModesAsString(modes: readonly string[] | undefined): string {
  const set = new Set(modes ?? []);
  return MODE_ABBREVIATIONS.filter(([m]) => set.has(m))
    .map(([, a]) => a)
    .join(",");
}

function modesOfKey(key: string): Set<string> {
  const byAbbrev = new Map(MODE_ABBREVIATIONS.map(([m, a]) => [a, m]));
  return new Set(key === "" ? [] : key.split(",").map((a) => byAbbrev.get(a) ?? a));
}

/**
 * findBestMatchForClaim: the volume the controller should bind `claim` to,
 * or undefined. With `delayBinding` only volumes pre-bound to the claim
 * count (the scheduler picks the others). Throws when the claim's
 * selector does not parse.
 */
export function findBestMatchForClaim(volumes: readonly PersistentVolume[], claim: PersistentVolumeClaim, delayBinding: boolean): PersistentVolume | undefined {
  const groups = new Map<string, PersistentVolume[]>();
  for (const pv of volumes) {
    const key = accessModesAsString(pv.spec?.accessModes);
    let g = groups.get(key);
    if (!g) groups.set(key, (g = []));
    g.push(pv);
  }
  const requested = claim.spec?.accessModes ?? [];
  // allPossibleMatchingAccessModes: groups with every requested mode, fewest modes first.
  const candidates = [...groups.keys()]
    .map((key) => ({ key, modes: modesOfKey(key) }))
    .filter((c) => requested.every((m) => c.modes.has(m)))
    .sort((a, b) => a.modes.size - b.modes.size || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  for (const c of candidates) {
    const best = findMatchingVolume(claim, groups.get(c.key)!, undefined, new Map(), delayBinding);
    if (best) return best;
  }
  return undefined;
}
