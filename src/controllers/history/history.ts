/**
 * Controller history, as upstream's pkg/controller/history: a controller
 * (StatefulSet, DaemonSet) records each distinct state of its pod template
 * as a ControllerRevision it owns, named `<owner>-<hash>`, labelled
 * `controller.kubernetes.io/hash`, numbered by `revision`. This file holds
 * the pure parts: naming, hashing, ordering and equality of revisions.
 */
import type { ControllerRevision } from "kubernetes-types/apps/v1.js";
import type { ObjectMeta } from "kubernetes-types/meta/v1.js";
import { type GroupVersionKind, newControllerRef } from "../common/controller-ref.js";
import { parseTime } from "../common/time.js";
import { safeEncodeString } from "../deployment/template.js";
import { fnv1_32, goJSON } from "./raw-json.js";

/** The label holding the hash of a ControllerRevision's data (`ControllerRevisionHashLabel`). */
export const CONTROLLER_REVISION_HASH_LABEL = "controller.kubernetes.io/hash";

/** `<prefix>-<hash>`, the prefix cut to 223 bytes so the name stays within 253 (`ControllerRevisionName`). */
export function controllerRevisionName(prefix: string, hash: string): string {
  const p = prefix.length > 223 ? prefix.slice(0, 223) : prefix;
  return `${p}-${hash}`;
}

/** The raw bytes (as text) of a revision's data: Go's JSON of it. */
export function revisionRaw(revision: ControllerRevision | undefined): string {
  return revision?.data === undefined || revision.data === null ? "" : goJSON(revision.data);
}

/**
 * The hash of a revision's data (`HashControllerRevision`): FNV-1 over the
 * raw data, then over the decimal `probe` (the collision count) when one
 * is given, encoded as upstream's `rand.SafeEncodeString`.
 */
export function hashControllerRevision(revision: ControllerRevision, probe?: number): string {
  const enc = new TextEncoder();
  let h = fnv1_32(enc.encode(revisionRaw(revision)));
  if (probe !== undefined && probe !== null) h = fnv1_32(enc.encode(String(Math.trunc(probe))), h);
  return safeEncodeString(String(h));
}

/**
 * A revision of `parent` (`NewControllerRevision`): a copy of the
 * template's labels plus the hash label, a controllerRef to the parent,
 * `data` and `revision`, named from the parent and the hash (salted with
 * `collisionCount`).
 */
export function newControllerRevision(
  parent: ObjectMeta | undefined,
  parentKind: GroupVersionKind,
  templateLabels: Readonly<Record<string, string>> | undefined,
  data: object,
  revision: number,
  collisionCount: number | undefined,
): ControllerRevision {
  const cr: ControllerRevision = {
    apiVersion: "apps/v1",
    kind: "ControllerRevision",
    metadata: { labels: { ...(templateLabels ?? {}) }, ownerReferences: [newControllerRef(parent, parentKind)] },
    data,
    revision,
  };
  const hash = hashControllerRevision(cr, collisionCount);
  cr.metadata!.name = controllerRevisionName(parent?.name ?? "", hash);
  cr.metadata!.labels![CONTROLLER_REVISION_HASH_LABEL] = hash;
  return cr;
}

/** Orders by revision; ties by creation time, then name (`byRevision`). */
export function compareRevisions(a: ControllerRevision, b: ControllerRevision): number {
  if (a.revision !== b.revision) return a.revision - b.revision;
  const ta = parseTime(a.metadata?.creationTimestamp);
  const tb = parseTime(b.metadata?.creationTimestamp);
  if (ta !== tb) return ta - tb;
  const na = a.metadata?.name ?? "";
  const nb = b.metadata?.name ?? "";
  return na < nb ? -1 : na > nb ? 1 : 0;
}

/** Sorts revisions in place by {@link compareRevisions} (stable, as `SortControllerRevisions`). */
export function sortControllerRevisions(revisions: ControllerRevision[]): ControllerRevision[] {
  return revisions.sort(compareRevisions);
}

/** The hash label as a decimal int32, when it is one (upstream parses it so; safe-encoded hashes are not). */
function numericHash(cr: ControllerRevision): number | undefined {
  const hs = cr.metadata?.labels?.[CONTROLLER_REVISION_HASH_LABEL];
  if (hs === undefined || !/^[+-]?\d+$/.test(hs)) return undefined;
  const n = Number(hs);
  return n >= -2147483648 && n <= 2147483647 ? n >>> 0 : undefined;
}

/**
 * Whether two revisions hold equal data (`EqualRevision`): both missing,
 * or both present with equal raw data (and equal hash labels, when both
 * are numeric).
 */
export function equalRevision(lhs: ControllerRevision | undefined, rhs: ControllerRevision | undefined): boolean {
  if (!lhs || !rhs) return lhs === rhs;
  const lh = numericHash(lhs);
  const rh = numericHash(rhs);
  if (lh !== undefined && rh !== undefined && lh !== rh) return false;
  return revisionRaw(lhs) === revisionRaw(rhs);
}

/** The revisions equal to `needle`, in their order (`FindEqualRevisions`). */
export function findEqualRevisions(revisions: readonly ControllerRevision[], needle: ControllerRevision): ControllerRevision[] {
  return revisions.filter((r) => equalRevision(r, needle));
}
