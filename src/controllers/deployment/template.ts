/**
 * Pod templates compared and named the way the Deployment controller needs:
 * "equal ignoring the pod-template-hash label" (upstream's
 * `EqualIgnoreHash`, which finds the new ReplicaSet) and the hash that
 * names it (upstream's `controller.ComputeHash`).
 *
 * Upstream compares with apimachinery's semantic equality, where a nil and
 * an empty map or slice are equal; over JSON that means a missing field,
 * `null`, `[]` and `{}` are all the same. Both the comparison and the hash
 * work on one canonical form with exactly that rule, so templates that
 * compare equal always hash alike.
 *
 * The hash: upstream feeds FNV-32a with a go-spew dump of the Go struct
 * (every field, in Go declaration order, zero values included), which
 * cannot be reproduced bit for bit from JSON. skiff feeds FNV-32a with the
 * canonical JSON of the template (keys sorted, empty values dropped), then,
 * as upstream, the collision count as 8 little-endian bytes, and encodes the
 * 32-bit sum as upstream does (`rand.SafeEncodeString` of its decimal
 * form), so names look like upstream's (`web-7d9c5b8f4`) and stay stable
 * across restarts and versions; a clash with another ReplicaSet's name is
 * resolved, as upstream, by bumping status.collisionCount.
 */
import type { PodTemplateSpec } from "kubernetes-types/core/v1.js";

/** The label that ties a ReplicaSet and its pods to one template (apps' `DefaultDeploymentUniqueLabelKey`). */
export const DEFAULT_DEPLOYMENT_UNIQUE_LABEL_KEY = "pod-template-hash";

function isEmpty(v: unknown): boolean {
  if (v === undefined || v === null) return true;
  if (Array.isArray(v)) return v.length === 0;
  return typeof v === "object" && Object.keys(v as object).length === 0;
}

/**
 * The canonical form of a JSON value: object keys sorted, fields whose
 * value is missing, null, `[]` or `{}` (after canonicalizing) dropped;
 * array elements keep their places.
 */
export function canonicalize(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonicalize);
  if (v === null || typeof v !== "object") return v;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v as object).sort()) {
    const c = canonicalize((v as Record<string, unknown>)[k]);
    if (!isEmpty(c)) out[k] = c;
  }
  return out;
}

/** The template without the pod-template-hash label, canonicalized, as JSON text. */
function canonicalWithoutHash(t: PodTemplateSpec | undefined): string {
  const labels = { ...(t?.metadata?.labels ?? {}) };
  delete labels[DEFAULT_DEPLOYMENT_UNIQUE_LABEL_KEY];
  const copy = { ...(t ?? {}), metadata: { ...(t?.metadata ?? {}), labels } };
  return JSON.stringify(canonicalize(copy)) ?? "";
}

/**
 * Whether two templates are semantically equal once their
 * pod-template-hash labels are ignored (upstream's `EqualIgnoreHash`): the
 * hash would change with API changes, and the Deployment's own template
 * has none.
 */
export function equalIgnoreHash(a: PodTemplateSpec | undefined, b: PodTemplateSpec | undefined): boolean {
  return canonicalWithoutHash(a) === canonicalWithoutHash(b);
}

/** FNV-32a over `bytes`, continuing from `hash`. */
export function fnv32a(bytes: Uint8Array, hash = 0x811c9dc5): number {
  let h = hash;
  for (const b of bytes) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

const ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789";

/** apimachinery's `rand.SafeEncodeString`: each character mapped onto consonants and digits that spell no words. */
export function safeEncodeString(s: string): string {
  let out = "";
  for (const ch of s) out += ALPHANUMS[(ch.codePointAt(0) ?? 0) % ALPHANUMS.length];
  return out;
}

/**
 * The pod-template-hash of `template` with `collisionCount` (upstream's
 * `controller.ComputeHash`; see the file comment for how the input
 * differs).
 */
export function computeHash(template: PodTemplateSpec | undefined, collisionCount?: number): string {
  let h = fnv32a(new TextEncoder().encode(JSON.stringify(canonicalize(template ?? {})) ?? ""));
  if (collisionCount !== undefined && collisionCount !== null) {
    // binary.LittleEndian.PutUint32 into an 8-byte buffer: the upper 4 bytes stay zero.
    const bytes = new Uint8Array(8);
    new DataView(bytes.buffer).setUint32(0, collisionCount >>> 0, true);
    h = fnv32a(bytes, h);
  }
  return safeEncodeString(String(h));
}
