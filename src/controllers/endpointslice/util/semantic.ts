/**
 * Equality as apimachinery's `equality.Semantic.DeepEqual` sees JSON
 * objects: an absent field, `null`, `""`, `[]` and `{}` are all the zero
 * value, so an object read back from the API server (which drops empty
 * fields) equals the one a controller built. Object references compare
 * without their resourceVersion (upstream's
 * `semanticIgnoreResourceVersion`), so a pod update alone never rewrites
 * endpoints.
 */

function isZero(v: unknown): boolean {
  if (v === undefined || v === null || v === "") return true;
  if (Array.isArray(v)) return v.length === 0;
  if (typeof v === "object") return Object.values(v as Record<string, unknown>).every(isZero);
  return false;
}

/** Deep equality with zero values equal to absence, ignoring `targetRef.resourceVersion`. */
export function semanticEqual(a: unknown, b: unknown, key = ""): boolean {
  if (isZero(a) && isZero(b)) return true;
  if (typeof a !== typeof b || isZero(a) !== isZero(b)) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!semanticEqual(a[i], b[i])) return false;
    return true;
  }
  if (typeof a === "object") {
    const ao = a as Record<string, unknown>;
    const bo = b as Record<string, unknown>;
    const keys = new Set([...Object.keys(ao), ...Object.keys(bo)]);
    for (const k of keys) {
      if (key === "targetRef" && k === "resourceVersion") continue;
      if (!semanticEqual(ao[k], bo[k], k)) return false;
    }
    return true;
  }
  return a === b;
}
