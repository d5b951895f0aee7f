/**
 * The bytes of a ControllerRevision's `data`, as upstream holds them in
 * `runtime.RawExtension.Raw`: Go's `json.Marshal` of a
 * `map[string]interface{}` — object keys sorted, `<`, `>`, `&`, U+2028 and
 * U+2029 escaped. Revisions are compared and hashed over these bytes, so
 * data read back from the API server (in whatever key order it was stored)
 * gives the same bytes as data just built.
 */

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v === null || typeof v !== "object") return v;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v as object).sort()) {
    const x = (v as Record<string, unknown>)[k];
    // JSON has no undefined: a field set to undefined is absent, as after a round trip.
    if (x !== undefined) out[k] = sortKeys(x);
  }
  return out;
}

const HTML_ESCAPES: Record<string, string> = { "<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029" };

/** Go's `json.Marshal` of a decoded JSON value (maps with sorted keys, HTML-safe escaping). */
export function goJSON(v: unknown): string {
  // The characters replaced only ever occur inside JSON strings, where Go escapes them.
  return (JSON.stringify(sortKeys(v)) ?? "null").replace(/[<>&\u2028\u2029]/g, (c) => HTML_ESCAPES[c]!);
}

/** FNV-1 (not 1a) 32-bit over `bytes`, continuing from `hash` (Go's `hash/fnv.New32`). */
export function fnv1_32(bytes: Uint8Array, hash = 0x811c9dc5): number {
  let h = hash;
  for (const b of bytes) {
    h = Math.imul(h, 0x01000193) >>> 0;
    h = (h ^ b) >>> 0;
  }
  return h >>> 0;
}
