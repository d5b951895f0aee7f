/**
 * From a custom resource's published OpenAPI v3 schema to what /openapi/v2
 * can carry, as upstream's apiextensions-apiserver
 * pkg/controller/openapi/v2 `ToStructuralOpenAPIV2` and kube-openapi's
 * `handler.PruneDefaults` do. Swagger 2.0 has no `nullable` and no
 * `anyOf`/`oneOf`/`not`, and kubectl's v2 readers break on untyped schemas
 * that still have properties or items, so:
 *
 * - allOf/anyOf/oneOf/not are dropped everywhere;
 * - a nullable schema loses `nullable`, its `type`, `properties` and `items`
 *   (and its name leaves the parent's `required`; a nullable
 *   additionalProperties clears `required`);
 * - an `x-kubernetes-preserve-unknown-fields` schema loses `properties` and
 *   `items`, and `type` when it is "object";
 * - an array left without items loses its `type`;
 * - `default` is removed (the static v2 spec has none either).
 */
import type { JsonObject } from "../api/openapi/documents.js";
import { forEachSubschema, JUNCTOR_KEYS } from "./openapi-schema.js";

/** `ToStructuralOpenAPIV2` on a kube-openapi schema (see {@link toKubeOpenAPI}); returns a converted copy. */
export function toStructuralOpenAPIV2(schema: JsonObject): JsonObject {
  return convert(structuredClone(schema));
}

function convert(s: JsonObject): JsonObject {
  for (const k of JUNCTOR_KEYS) delete s[k];
  delete s.not;
  if (s.nullable === true) {
    delete s.type;
    delete s.nullable;
    // Untyped values break kubectl's v2 readers if items or properties are set.
    delete s.items;
    delete s.properties;
  }
  if (s["x-kubernetes-preserve-unknown-fields"] === true) {
    delete s.items;
    delete s.properties;
  }
  if (s.items === undefined && s.type === "array") delete s.type;
  if (s["x-kubernetes-preserve-unknown-fields"] === true && s.type === "object") delete s.type;
  const props = s.properties as Record<string, JsonObject> | undefined;
  if (Array.isArray(s.required) && props) {
    // A nullable field may be null, which v2 cannot say: it stops being required.
    const required = s.required.filter((f) => typeof f !== "string" || props[f]?.nullable !== true);
    if (required.length > 0) s.required = required;
    else delete s.required;
  }
  const extra = s.additionalProperties;
  if (typeof extra === "object" && extra !== null && !Array.isArray(extra) && extra.nullable === true) delete s.required;
  forEachSubschema(s, convert, false);
  return s;
}

/** kube-openapi `handler.PruneDefaults` for one schema: a copy without any `default`. */
export function pruneDefaults(schema: JsonObject): JsonObject {
  const prune = (s: JsonObject): JsonObject => {
    delete s.default;
    forEachSubschema(s, prune);
    return s;
  };
  return prune(structuredClone(schema));
}
