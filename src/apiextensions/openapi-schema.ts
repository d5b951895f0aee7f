/**
 * A CRD version's openAPIV3Schema as upstream publishes it: the structural
 * schema's kube-openapi rendering (apiextensions-apiserver
 * pkg/apiserver/schema `Structural.ToKubeOpenAPI`, after `Unfold`), and the
 * schema walks the OpenAPI builder needs on that JSON.
 *
 * Only what a structural schema can say survives: `example`,
 * `externalDocs`, `$schema`, `id`, `definitions`, `dependencies`,
 * `patternProperties` and `additionalItems` are dropped; false booleans, empty
 * strings and empty lists are omitted, as Go's encoding omits them.
 */
import type { Json, JsonObject } from "../api/openapi/documents.js";
import type { JSONSchemaProps } from "./structural-schema.js";

/** Keywords copied as values (strings, numbers, lists of values). */
const VALUE_KEYS = [
  "type",
  "format",
  "title",
  "description",
  "maximum",
  "minimum",
  "maxLength",
  "minLength",
  "pattern",
  "maxItems",
  "minItems",
  "multipleOf",
  "maxProperties",
  "minProperties",
  "x-kubernetes-list-type",
  "x-kubernetes-map-type",
] as const;
/** Keywords kept only when true. */
const TRUE_KEYS = [
  "exclusiveMaximum",
  "exclusiveMinimum",
  "uniqueItems",
  "nullable",
  "x-kubernetes-preserve-unknown-fields",
  "x-kubernetes-embedded-resource",
  "x-kubernetes-int-or-string",
] as const;
/** Keywords kept only when non-empty lists. */
const LIST_KEYS = ["enum", "required", "x-kubernetes-list-map-keys", "x-kubernetes-validations"] as const;
/** Keywords holding lists of schemas (value validations). */
export const JUNCTOR_KEYS = ["allOf", "anyOf", "oneOf"] as const;

const isObject = (v: unknown): v is JsonObject => typeof v === "object" && v !== null && !Array.isArray(v);

/** `structuralschema.Structural.ToKubeOpenAPI`: the published form of one (structural) schema. */
export function toKubeOpenAPI(s: JSONSchemaProps): JsonObject {
  const raw = s as unknown as Record<string, unknown>;
  const out: JsonObject = {};
  for (const k of VALUE_KEYS) {
    const v = raw[k];
    if (v !== undefined && v !== null && v !== "") out[k] = structuredClone(v) as Json;
  }
  for (const k of TRUE_KEYS) if (raw[k] === true) out[k] = true;
  for (const k of LIST_KEYS) {
    const v = raw[k];
    if (Array.isArray(v) && v.length > 0) out[k] = structuredClone(v) as Json;
  }
  if (raw.default !== undefined && raw.default !== null) out.default = structuredClone(raw.default) as Json;
  if (s.properties && Object.keys(s.properties).length > 0) {
    const props: JsonObject = {};
    for (const [name, p] of Object.entries(s.properties)) props[name] = toKubeOpenAPI(p);
    out.properties = props;
  }
  if (isObject(s.items)) out.items = toKubeOpenAPI(s.items);
  if (s.additionalProperties === true) out.additionalProperties = true;
  else if (isObject(s.additionalProperties)) out.additionalProperties = toKubeOpenAPI(s.additionalProperties);
  for (const k of JUNCTOR_KEYS) {
    const list = s[k];
    if (Array.isArray(list) && list.length > 0) out[k] = list.map(toKubeOpenAPI);
  }
  if (isObject(s.not)) out.not = toKubeOpenAPI(s.not);
  return out;
}

const INT_OR_STRING_ANY_OF: Json = [{ type: "integer" }, { type: "string" }];

function isIntOrStringAnyOf(s: Json | undefined): boolean {
  return isObject(s) && JSON.stringify(s.anyOf) === JSON.stringify(INT_OR_STRING_ANY_OF);
}

/**
 * `Structural.Unfold`: an `x-kubernetes-int-or-string` schema gets the
 * `anyOf: [{type: integer}, {type: string}]` it stands for (in front of its
 * own allOf when it has another anyOf), unless it already spells it out.
 * Mutates and returns `s`.
 */
export function unfold(s: JsonObject): JsonObject {
  forEachSubschema(s, unfold, false);
  if (s["x-kubernetes-int-or-string"] !== true) return s;
  const allOf = s.allOf;
  if (isIntOrStringAnyOf(s) || (Array.isArray(allOf) && isIntOrStringAnyOf(allOf[0]))) return s;
  if (s.anyOf === undefined) s.anyOf = structuredClone(INT_OR_STRING_ANY_OF);
  else s.allOf = [{ anyOf: structuredClone(INT_OR_STRING_ANY_OF) }, ...(Array.isArray(allOf) ? allOf : [])];
  return s;
}

/**
 * Calls `fn` on each direct subschema of `s` (properties, items,
 * additionalProperties and, with `junctors`, allOf/anyOf/oneOf/not) and
 * stores what it returns in its place.
 */
export function forEachSubschema(s: JsonObject, fn: (sub: JsonObject) => JsonObject, junctors = true): void {
  if (isObject(s.properties)) {
    const props = s.properties;
    for (const [name, p] of Object.entries(props)) if (isObject(p)) props[name] = fn(p);
  }
  if (isObject(s.items)) s.items = fn(s.items);
  if (isObject(s.additionalProperties)) s.additionalProperties = fn(s.additionalProperties);
  if (!junctors) return;
  for (const k of JUNCTOR_KEYS) {
    const list = s[k];
    if (Array.isArray(list)) s[k] = list.map((x) => (isObject(x) ? fn(x) : x));
  }
  if (isObject(s.not)) s.not = fn(s.not);
}

/**
 * kube-openapi's v3 `WrapRefs`: a `$ref` with siblings (a description) is
 * wrapped as `allOf: [{$ref}]`, since OpenAPI 3.0 ignores a reference's
 * siblings. Refs are expected in v3 spelling already. Mutates and returns `s`.
 */
export function wrapRefs(s: JsonObject): JsonObject {
  forEachSubschema(s, wrapRefs);
  if (typeof s.$ref === "string" && Object.keys(s).length > 1) {
    const { $ref, ...rest } = s;
    return { allOf: [{ $ref }], ...rest };
  }
  return s;
}
