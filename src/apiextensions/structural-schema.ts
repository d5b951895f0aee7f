/**
 * Custom resource objects against a CRD version's OpenAPI v3 schema:
 * validation (apiextensions-apiserver pkg/apiserver/validation on top of
 * kube-openapi's validator, errors mapped to field errors as
 * kubeOpenAPIResultToFieldErrors does), pruning of unknown fields
 * (pkg/apiserver/schema/pruning) and structural defaulting
 * (pkg/apiserver/schema/defaulting).
 *
 * Paths are upstream's: `spec.replicas`, `spec.items[0].name`, no leading dot.
 * `apiVersion`, `kind` and `metadata` of the resource root (and of
 * x-kubernetes-embedded-resource objects) are always allowed and never pruned;
 * metadata is validated by ObjectMeta validation elsewhere.
 *
 * Not supported (say so, don't ignore: callers should reject CRDs using them
 * through `validateCRD`, which does): x-kubernetes-validations (CEL),
 * allOf/anyOf/oneOf/not value validation, $ref, patternProperties.
 */
import { isIPv4, isIPv6 } from "node:net";
import { type GoValue, goNumber, goString, invalidValue, notSupported, required } from "../machinery/field-errors.js";
import type { FieldError } from "../machinery/status-error.js";

/** apiextensions.k8s.io/v1 JSONSchemaProps, the parts a structural schema may use. */
export interface JSONSchemaProps {
  type?: string;
  format?: string;
  description?: string;
  title?: string;
  properties?: Record<string, JSONSchemaProps>;
  required?: string[];
  items?: JSONSchemaProps;
  additionalProperties?: JSONSchemaProps | boolean;
  enum?: unknown[];
  pattern?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: boolean;
  exclusiveMaximum?: boolean;
  multipleOf?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  uniqueItems?: boolean;
  minProperties?: number;
  maxProperties?: number;
  nullable?: boolean;
  default?: unknown;
  example?: unknown;
  allOf?: JSONSchemaProps[];
  anyOf?: JSONSchemaProps[];
  oneOf?: JSONSchemaProps[];
  not?: JSONSchemaProps;
  "x-kubernetes-preserve-unknown-fields"?: boolean;
  "x-kubernetes-int-or-string"?: boolean;
  "x-kubernetes-embedded-resource"?: boolean;
  "x-kubernetes-list-type"?: string;
  "x-kubernetes-list-map-keys"?: string[];
  "x-kubernetes-map-type"?: string;
  "x-kubernetes-validations"?: unknown[];
}

type JsonObject = Record<string, unknown>;

const isObject = (v: unknown): v is JsonObject => typeof v === "object" && v !== null && !Array.isArray(v);

const ROOT_META_FIELDS = new Set(["apiVersion", "kind", "metadata"]);

function child(path: string, key: string): string {
  return path === "" ? key : `${path}.${key}`;
}

function index(path: string, i: number): string {
  return `${path}[${i}]`;
}

/** The JSON type name kube-openapi reports for a value ("integer" for whole numbers, as Go's int64). */
export function jsonTypeOf(v: unknown): string {
  if (v === null || v === undefined) return "null";
  if (Array.isArray(v)) return "array";
  switch (typeof v) {
    case "boolean":
      return "boolean";
    case "number":
      return Number.isInteger(v) ? "integer" : "number";
    case "string":
      return "string";
    default:
      return "object";
  }
}

/** A bad value as Go's field.Error prints it: strings quoted, scalars with %v, others approximated as JSON. */
function goValue(v: unknown): GoValue {
  if (v === null || v === undefined) return { go: "null" };
  if (typeof v === "string") return goString(v);
  if (typeof v === "number" || typeof v === "boolean") return goNumber(v);
  return { go: JSON.stringify(v) };
}

/** `field.TypeInvalid`: body `Invalid value: <v>: <detail>`, reason FieldValueTypeInvalid. */
function typeInvalid(field: string, value: GoValue, detail: string): FieldError {
  return { type: "FieldValueTypeInvalid", field, detail: `Invalid value: ${value.go}: ${detail}` };
}

/** `field.TooLongMaxLength` (v1.30 wording). */
function tooLong(field: string, max: number): FieldError {
  return { type: "FieldValueTooLong", field, detail: `Too long: may not be longer than ${max}` };
}

/** `field.TooMany`. */
function tooMany(field: string, actual: number, max: number): FieldError {
  return { type: "FieldValueTooMany", field, detail: `Too many: ${actual}: must have at most ${max} items` };
}

/** The `%s in body …` messages of go-openapi's errors package; `name` is the path. */
const inBody = (path: string) => `${path} in body`;

function typeMatches(schemaType: string, actual: string): boolean {
  if (schemaType === actual) return true;
  return schemaType === "number" && actual === "integer";
}

/** Go's %v of a float64 bound ("1", "0.5", "1e+21"). */
const goFloat = (n: number): string => String(n);

const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:?\d{2})$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;
const HOSTNAME = /^([a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?)(\.[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?)*\.?$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const MAC = /^([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}$/;
const DURATION_GO = /^(-?(\d+(\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h))+$/;
const DURATION_WORDS = /^\d+\s*(ns|us|ms|s|m|h|d|w|nanoseconds?|microseconds?|milliseconds?|seconds?|minutes?|hours?|days?|weeks?)$/;

function validDate(y: string, m: string, d: string): boolean {
  const mm = Number(m);
  const dd = Number(d);
  if (mm < 1 || mm > 12 || dd < 1) return false;
  const days = new Date(Date.UTC(Number(y), mm, 0)).getUTCDate();
  return dd <= days;
}

/**
 * String formats kube-openapi's strfmt registry checks (a subset; unknown
 * formats pass, as upstream ignores formats it does not know).
 */
function stringFormatValid(format: string, s: string): boolean {
  switch (format) {
    case "date-time":
    case "datetime": {
      const m = DATE_TIME.exec(s);
      if (!m) return false;
      if (!validDate(m[1]!, m[2]!, m[3]!)) return false;
      return Number(m[4]) < 24 && Number(m[5]) < 60 && Number(m[6]) < 61;
    }
    case "date": {
      const m = DATE.exec(s);
      return m !== null && validDate(m[1]!, m[2]!, m[3]!);
    }
    case "uuid":
      return UUID.test(s);
    case "ipv4":
      return isIPv4(s);
    case "ipv6":
      return isIPv6(s);
    case "cidr": {
      const slash = s.indexOf("/");
      if (slash < 0) return false;
      const ip = s.slice(0, slash);
      const bits = s.slice(slash + 1);
      if (!/^\d{1,3}$/.test(bits)) return false;
      if (isIPv4(ip)) return Number(bits) <= 32;
      return isIPv6(ip) && Number(bits) <= 128;
    }
    case "hostname":
      return s.length <= 255 && HOSTNAME.test(s);
    case "byte":
      return BASE64.test(s);
    case "mac":
      return MAC.test(s);
    case "duration":
      return DURATION_GO.test(s) || DURATION_WORDS.test(s);
    default:
      return true;
  }
}

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

function validateNode(v: unknown, s: JSONSchemaProps, path: string, isRoot: boolean, errs: FieldError[]): void {
  const intOrString = s["x-kubernetes-int-or-string"] === true;
  const actual = jsonTypeOf(v);
  // kube-openapi sees int-or-string as type ["integer","string"] and nullable as an allowed null.
  const types = intOrString ? ["integer", "string"] : s.type ? [s.type] : [];

  if (v === null) {
    if (types.length > 0 && !s.nullable) {
      errs.push(typeInvalid(path, goString("null"), `${inBody(path)} must be of type ${types.join(",")}: "null"`));
    }
    return;
  }
  if (types.length > 0 && !types.some((t) => typeMatches(t, actual))) {
    errs.push(typeInvalid(path, goString(actual), `${inBody(path)} must be of type ${types.join(",")}: "${actual}"`));
    return;
  }

  if (s.enum !== undefined && s.enum.length > 0) {
    const json = JSON.stringify(v);
    if (!s.enum.some((e) => JSON.stringify(e) === json)) {
      const values = s.enum.map((e) => (typeof e === "string" ? e : JSON.stringify(e)));
      errs.push(notSupported(path, goValue(v), values));
    }
  }

  if (typeof v === "string") {
    if (s.maxLength !== undefined && [...v].length > s.maxLength) errs.push(tooLong(path, s.maxLength));
    if (s.minLength !== undefined && [...v].length < s.minLength) {
      errs.push(invalidValue(path, goString(v), `${inBody(path)} should be at least ${s.minLength} chars long`));
    }
    if (s.pattern !== undefined) {
      let re: RegExp | undefined;
      try {
        re = new RegExp(s.pattern, "u");
      } catch {
        re = undefined;
      }
      if (re && !re.test(v)) errs.push(invalidValue(path, goString(v), `${inBody(path)} should match '${s.pattern}'`));
    }
    if (s.format && !stringFormatValid(s.format, v)) {
      errs.push(typeInvalid(path, goString(v), `${inBody(path)} must be of type ${s.format}: ${JSON.stringify(v)}`));
    }
  }

  if (typeof v === "number") {
    if (s.format === "int32" && Number.isInteger(v) && (v < INT32_MIN || v > INT32_MAX)) {
      errs.push(typeInvalid(path, goNumber(v), `${path} in Checked must be of type integer (int32)`));
    }
    if (s.maximum !== undefined) {
      if (s.exclusiveMaximum ? v >= s.maximum : v > s.maximum) {
        const rel = s.exclusiveMaximum ? "less than" : "less than or equal to";
        errs.push(invalidValue(path, goNumber(v), `${inBody(path)} should be ${rel} ${goFloat(s.maximum)}`));
      }
    }
    if (s.minimum !== undefined) {
      if (s.exclusiveMinimum ? v <= s.minimum : v < s.minimum) {
        const rel = s.exclusiveMinimum ? "greater than" : "greater than or equal to";
        errs.push(invalidValue(path, goNumber(v), `${inBody(path)} should be ${rel} ${goFloat(s.minimum)}`));
      }
    }
    if (s.multipleOf !== undefined && s.multipleOf > 0) {
      const q = v / s.multipleOf;
      if (Math.abs(q - Math.round(q)) > 1e-9) {
        errs.push(invalidValue(path, goNumber(v), `${inBody(path)} should be a multiple of ${goFloat(s.multipleOf)}`));
      }
    }
  }

  if (Array.isArray(v)) {
    if (s.maxItems !== undefined && v.length > s.maxItems) errs.push(tooMany(path, v.length, s.maxItems));
    if (s.minItems !== undefined && v.length < s.minItems) {
      errs.push(invalidValue(path, goNumber(v.length), `${inBody(path)} should have at least ${s.minItems} items`));
    }
    if (s.uniqueItems) {
      const seen = new Set(v.map((x) => stableJson(x)));
      if (seen.size !== v.length) errs.push(invalidValue(path, goString(""), `${inBody(path)} shouldn't contain duplicates`));
    }
    if (s.items) for (const [i, item] of v.entries()) validateNode(item, s.items, index(path, i), false, errs);
  }

  if (isObject(v)) {
    const keys = Object.keys(v);
    if (s.maxProperties !== undefined && keys.length > s.maxProperties) errs.push(tooMany(path, keys.length, s.maxProperties));
    if (s.minProperties !== undefined && keys.length < s.minProperties) {
      errs.push(invalidValue(path, goNumber(keys.length), `${inBody(path)} should have at least ${s.minProperties} properties`));
    }
    for (const r of s.required ?? []) {
      if (!(r in v)) errs.push(required(child(path, r)));
    }
    if (s["x-kubernetes-embedded-resource"]) validateEmbeddedResource(v, path, errs);
    const skipMeta = isRoot || s["x-kubernetes-embedded-resource"] === true;
    for (const k of keys.sort()) {
      if (skipMeta && k === "metadata") continue;
      const prop = s.properties?.[k];
      if (prop) validateNode(v[k], prop, child(path, k), false, errs);
      else if (isObject(s.additionalProperties)) validateNode(v[k], s.additionalProperties, child(path, k), false, errs);
    }
  }
}

/** objectmeta.validateEmbeddedResource: apiVersion and kind are required; metadata is ObjectMeta. */
function validateEmbeddedResource(v: JsonObject, path: string, errs: FieldError[]): void {
  if (!("apiVersion" in v)) errs.push(required(child(path, "apiVersion"), "must not be empty"));
  if (!("kind" in v)) errs.push(required(child(path, "kind"), "must not be empty"));
  if ("apiVersion" in v) {
    const av = v.apiVersion;
    const p = child(path, "apiVersion");
    if (typeof av !== "string") errs.push(invalidValue(p, goValue(av), "must be a string"));
    else if (av === "") errs.push(invalidValue(p, goString(av), "must not be empty"));
    else if (av.split("/").length > 2) errs.push(invalidValue(p, goString(av), `unexpected GroupVersion string: ${av}`));
  }
  if ("kind" in v) {
    const kind = v.kind;
    const p = child(path, "kind");
    if (typeof kind !== "string") errs.push(invalidValue(p, goValue(kind), "must be a string"));
    else if (kind === "") errs.push(invalidValue(p, goString(kind), "must not be empty"));
  }
  if ("metadata" in v && !isObject(v.metadata)) {
    errs.push(invalidValue(child(path, "metadata"), goValue(v.metadata), "must be an object"));
  }
}

/** JSON with sorted keys, for deep equality. */
function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(",")}]`;
  if (isObject(v)) {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson(v[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(v);
}

/**
 * Validates a custom resource (the whole object, as decoded JSON) against
 * its version's `openAPIV3Schema`. Returns upstream-worded field errors, e.g.
 * `spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"`.
 * Run it after pruning and defaulting, as the API server does.
 */
export function validateCustomResource(obj: object, schema: JSONSchemaProps): FieldError[] {
  const errs: FieldError[] = [];
  validateNode(obj, schema, "", true, errs);
  return errs;
}

/** Whether `s` keeps fields it does not list (x-kubernetes-preserve-unknown-fields). */
const preserves = (s: JSONSchemaProps): boolean => s["x-kubernetes-preserve-unknown-fields"] === true;

function pruneNode(v: unknown, s: JSONSchemaProps, path: string, isRoot: boolean, pruned: string[]): void {
  if (Array.isArray(v)) {
    const items = s.items;
    if (items) for (const [i, item] of v.entries()) pruneNode(item, items, index(path, i), false, pruned);
    return;
  }
  if (!isObject(v)) return;
  const embedded = s["x-kubernetes-embedded-resource"] === true;
  for (const k of Object.keys(v).sort()) {
    if ((isRoot || embedded) && ROOT_META_FIELDS.has(k)) {
      // metadata is pruned to ObjectMeta by the metadata code path, not here.
      const prop = k === "metadata" ? undefined : s.properties?.[k];
      if (prop) pruneNode(v[k], prop, child(path, k), false, pruned);
      continue;
    }
    const prop = s.properties?.[k] ?? (isObject(s.additionalProperties) ? s.additionalProperties : undefined);
    if (prop) {
      pruneNode(v[k], prop, child(path, k), false, pruned);
    } else if (!preserves(s) && s.additionalProperties !== true) {
      delete v[k];
      pruned.push(child(path, k));
    }
  }
}

/**
 * Removes, in place, every field the schema does not specify (unless an
 * enclosing object has x-kubernetes-preserve-unknown-fields), as the API
 * server does on create/update/patch. Returns the pruned paths, sorted, for
 * fieldValidation=Warn/Strict (see `unknownFieldMessage`).
 */
export function pruneUnknownFields(obj: object, schema: JSONSchemaProps): string[] {
  const pruned: string[] = [];
  pruneNode(obj, schema, "", true, pruned);
  return pruned.sort();
}

/** The warning (Warn) or error detail (Strict) for one pruned path: `unknown field "spec.foo"`. */
export function unknownFieldMessage(path: string): string {
  return `unknown field "${path}"`;
}

function defaultNode(v: unknown, s: JSONSchemaProps | undefined): void {
  if (!s) return;
  if (Array.isArray(v)) {
    for (const item of v) defaultNode(item, s.items);
    return;
  }
  if (!isObject(v)) return;
  for (const [k, prop] of Object.entries(s.properties ?? {})) {
    if (prop.default === undefined) continue;
    if (!(k in v) || (v[k] === null && !prop.nullable)) v[k] = structuredClone(prop.default);
  }
  for (const [k, val] of Object.entries(v)) {
    const prop = s.properties?.[k];
    if (prop) defaultNode(val, prop);
    else if (isObject(s.additionalProperties)) defaultNode(val, s.additionalProperties);
  }
}

function pruneNullsNode(v: unknown, s: JSONSchemaProps | undefined): void {
  if (!s) return;
  if (Array.isArray(v)) {
    for (const item of v) pruneNullsNode(item, s.items);
    return;
  }
  if (!isObject(v)) return;
  for (const [k, val] of Object.entries(v)) {
    const prop = s.properties?.[k] ?? (isObject(s.additionalProperties) ? s.additionalProperties : undefined);
    if (!prop) continue;
    if (val === null) {
      if (!prop.nullable && prop.default === undefined) delete v[k];
    } else {
      pruneNullsNode(val, prop);
    }
  }
}

/**
 * Structural defaulting, in place: for every object present in `obj`, each
 * property with a `default` that is absent (or null while not nullable) gets
 * a copy of the default; defaulted values are themselves defaulted. Array
 * items and additionalProperties values are defaulted by their schemas.
 * Then, as upstream's PruneNonNullableNullsWithoutDefaults, nulls of
 * non-nullable fields without a default are dropped.
 */
export function applyDefaults(obj: object, schema: JSONSchemaProps): void {
  defaultNode(obj, schema);
  pruneNullsNode(obj, schema);
}
