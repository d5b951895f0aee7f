/**
 * apiextensions.k8s.io/v1 CustomResourceDefinition defaulting and validation
 * on create/update, after upstream's pkg/apis/apiextensions/v1 defaults.go and
 * pkg/apis/apiextensions/validation/validation.go (ValidateCustomResourceDefinition,
 * …Spec, …Names, …Subresources, …ColumnDefinition, …OpenAPISchema) plus the
 * structural-schema essentials of pkg/apiserver/schema/validation.go.
 *
 * Messages are upstream's. Where upstream prints a Go struct with %#v (the
 * `spec.versions` value of "must have exactly one version marked as storage
 * version") the value is an abbreviated Go-like rendering.
 */
import {
  type GoValue,
  forbidden,
  goNumber,
  goString,
  invalidValue,
  notSupported,
  required,
} from "../machinery/field-errors.js";
import { dns1035Label, dns1123Subdomain } from "../apiserver/registry/meta-validation.js";
import type { FieldError } from "../machinery/status-error.js";
import type { JSONSchemaProps } from "./structural-schema.js";

/** One `spec.versions[*].additionalPrinterColumns[*]` entry. */
export interface CustomResourceColumnDefinition {
  name: string;
  type: string;
  format?: string;
  description?: string;
  priority?: number;
  jsonPath: string;
}

export interface CustomResourceSubresourceScale {
  specReplicasPath: string;
  statusReplicasPath: string;
  labelSelectorPath?: string;
}

export interface CustomResourceSubresources {
  status?: Record<string, never>;
  scale?: CustomResourceSubresourceScale;
}

export interface CustomResourceDefinitionVersion {
  name: string;
  served: boolean;
  storage: boolean;
  deprecated?: boolean;
  deprecationWarning?: string;
  schema?: { openAPIV3Schema?: JSONSchemaProps };
  subresources?: CustomResourceSubresources;
  additionalPrinterColumns?: CustomResourceColumnDefinition[];
}

export interface CustomResourceDefinitionNames {
  plural: string;
  singular?: string;
  kind: string;
  listKind?: string;
  shortNames?: string[];
  categories?: string[];
}

export interface CustomResourceDefinition {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; [k: string]: unknown };
  spec: {
    group: string;
    names: CustomResourceDefinitionNames;
    scope: string;
    versions: CustomResourceDefinitionVersion[];
    conversion?: { strategy?: string; webhook?: unknown };
    preserveUnknownFields?: boolean;
  };
  status?: unknown;
}

export interface ValidateCRDOptions {
  /**
   * What to do with schema features skiff does not enforce on custom
   * resources (x-kubernetes-validations CEL rules, allOf/anyOf/oneOf/not other
   * than the int-or-string anyOf idiom). "reject" (default) returns a
   * Forbidden error naming the field; "ignore" accepts the CRD and leaves
   * those constraints unenforced.
   */
  readonly unsupported?: "reject" | "ignore";
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const str = (v: unknown): string => (typeof v === "string" ? v : "");

/** Printer column types, sorted as upstream's sets.String.List() prints them. */
export const PRINTER_COLUMN_TYPES = ["boolean", "date", "integer", "number", "string"] as const;
/** Printer column formats upstream accepts (customResourceColumnDefinitionFormats), sorted. */
export const PRINTER_COLUMN_FORMATS = ["byte", "date", "date-time", "double", "float", "int32", "int64", "password"] as const;

/**
 * Fills upstream's v1 defaults in place (SetDefaults_CustomResourceDefinition…):
 * names.singular = lower-case kind, names.listKind = kind + "List",
 * conversion.strategy = "None", printer column priority 0 (and type/name
 * untouched). Returns the same object.
 */
export function defaultCRD<T extends object>(crd: T): T {
  const spec = (crd as Obj).spec;
  if (!isObj(spec)) return crd;
  const names = spec.names;
  if (isObj(names)) {
    const kind = str(names.kind);
    if (!names.singular && kind) names.singular = kind.toLowerCase();
    if (!names.listKind && kind) names.listKind = `${kind}List`;
  }
  if (!isObj(spec.conversion)) spec.conversion = { strategy: "None" };
  else if (!spec.conversion.strategy) spec.conversion.strategy = "None";
  if (Array.isArray(spec.versions)) {
    for (const v of spec.versions) {
      if (!isObj(v) || !Array.isArray(v.additionalPrinterColumns)) continue;
      for (const col of v.additionalPrinterColumns) {
        if (isObj(col) && col.priority === undefined) col.priority = 0;
      }
    }
  }
  return crd;
}

/** Go's `%#v` of the versions slice, abbreviated to the fields the messages are about. */
function goVersions(versions: readonly unknown[]): GoValue {
  const items = versions.map((v) => {
    const o = isObj(v) ? v : {};
    return `apiextensions.CustomResourceDefinitionVersion{Name:${JSON.stringify(str(o.name))}, Served:${o.served === true}, Storage:${o.storage === true}, ...}`;
  });
  return { go: `[]apiextensions.CustomResourceDefinitionVersion{${items.join(", ")}}` };
}

function validateSimpleJSONPath(s: string, field: string): FieldError[] {
  if (s.length === 0) return [invalidValue(field, goString(s), "must not be empty")];
  if (s[0] !== ".") return [invalidValue(field, goString(s), "must be a simple json path starting with .")];
  return [];
}

function validateNames(names: Obj, field: string): FieldError[] {
  const errs: FieldError[] = [];
  const plural = str(names.plural);
  const singular = str(names.singular);
  const kind = str(names.kind);
  const listKind = str(names.listKind);
  const label = (f: string, v: string) => {
    const e = dns1035Label(v);
    if (v && e.length > 0) errs.push(invalidValue(`${field}.${f}`, goString(v), e.join(",")));
  };
  const mixed = (f: string, v: string) => {
    const e = dns1035Label(v.toLowerCase());
    if (v && e.length > 0) errs.push(invalidValue(`${field}.${f}`, goString(v), `may have mixed case, but should otherwise match: ${e.join(",")}`));
  };
  label("plural", plural);
  label("singular", singular);
  mixed("kind", kind);
  mixed("listKind", listKind);
  const shortNames = Array.isArray(names.shortNames) ? names.shortNames : [];
  shortNames.forEach((s, i) => {
    const e = dns1035Label(str(s));
    if (e.length > 0) errs.push(invalidValue(`${field}.shortNames[${i}]`, goString(str(s)), e.join(",")));
  });
  if (kind && kind === listKind) errs.push(invalidValue(`${field}.listKind`, goString(listKind), "kind and listKind may not be the same"));
  const categories = Array.isArray(names.categories) ? names.categories : [];
  categories.forEach((c, i) => {
    const e = dns1035Label(str(c));
    if (e.length > 0) errs.push(invalidValue(`${field}.categories[${i}]`, goString(str(c)), e.join(",")));
  });
  return errs;
}

function validateColumn(col: Obj, field: string): FieldError[] {
  const errs: FieldError[] = [];
  const name = str(col.name);
  const type = str(col.type);
  const format = str(col.format);
  const jsonPath = str(col.jsonPath);
  if (!name) errs.push(required(`${field}.name`));
  const types = `must be one of ${PRINTER_COLUMN_TYPES.join(",")}`;
  if (!type) errs.push(required(`${field}.type`, types));
  else if (!(PRINTER_COLUMN_TYPES as readonly string[]).includes(type)) errs.push(invalidValue(`${field}.type`, goString(type), types));
  if (format && !(PRINTER_COLUMN_FORMATS as readonly string[]).includes(format)) {
    errs.push(invalidValue(`${field}.format`, goString(format), `must be one of ${PRINTER_COLUMN_FORMATS.join(",")}`));
  }
  if (!jsonPath) errs.push(required(`${field}.jsonPath`));
  else errs.push(...validateSimpleJSONPath(jsonPath, `${field}.jsonPath`));
  if (col.priority !== undefined && (typeof col.priority !== "number" || !Number.isInteger(col.priority))) {
    errs.push(invalidValue(`${field}.priority`, { go: JSON.stringify(col.priority) }, "must be an integer"));
  }
  return errs;
}

function validateSubresources(sub: Obj, field: string): FieldError[] {
  const errs: FieldError[] = [];
  if (!isObj(sub.scale)) return errs;
  const scale = sub.scale;
  const spec = str(scale.specReplicasPath);
  const status = str(scale.statusReplicasPath);
  const selector = str(scale.labelSelectorPath);
  const f = `${field}.scale`;
  if (!spec) errs.push(required(`${f}.specReplicasPath`));
  else {
    const e = validateSimpleJSONPath(spec, `${f}.specReplicasPath`);
    if (e.length > 0) errs.push(...e);
    else if (!spec.startsWith(".spec.")) errs.push(invalidValue(`${f}.specReplicasPath`, goString(spec), "should be a json path under .spec"));
  }
  if (!status) errs.push(required(`${f}.statusReplicasPath`));
  else {
    const e = validateSimpleJSONPath(status, `${f}.statusReplicasPath`);
    if (e.length > 0) errs.push(...e);
    else if (!status.startsWith(".status.")) errs.push(invalidValue(`${f}.statusReplicasPath`, goString(status), "should be a json path under .status"));
  }
  if (selector) {
    const e = validateSimpleJSONPath(selector, `${f}.labelSelectorPath`);
    if (e.length > 0) errs.push(...e);
    else if (!selector.startsWith(".spec.") && !selector.startsWith(".status.")) {
      errs.push(invalidValue(`${f}.labelSelectorPath`, goString(selector), "should be a json path under either .spec or .status"));
    }
  }
  return errs;
}

const SCHEMA_TYPES = ["array", "boolean", "integer", "number", "object", "string"];

/** Upstream's path for a property of a schema: `properties[spec]`. */
const prop = (field: string, key: string) => `${field}.properties[${key}]`;

function isIntOrStringAnyOf(s: JSONSchemaProps): boolean {
  const a = s.anyOf;
  return (
    s["x-kubernetes-int-or-string"] === true &&
    Array.isArray(a) &&
    a.length === 2 &&
    a.some((x) => x.type === "integer") &&
    a.some((x) => x.type === "string") &&
    a.every((x) => Object.keys(x).length === 1)
  );
}

/**
 * Schema checks: the OpenAPI subset v1 allows, structural-schema invariants
 * (types specified, properties and additionalProperties exclusive, items set
 * for arrays) and what skiff does not enforce.
 */
function validateSchema(s: unknown, field: string, level: "root" | "property" | "items", opts: ValidateCRDOptions, errs: FieldError[]): void {
  if (!isObj(s)) {
    errs.push(invalidValue(field, { go: JSON.stringify(s) }, "must be an object"));
    return;
  }
  const schema = s as JSONSchemaProps;
  const raw = s as Obj;
  const type = schema.type ?? "";
  const intOrString = schema["x-kubernetes-int-or-string"] === true;
  const preserve = schema["x-kubernetes-preserve-unknown-fields"];

  if (level === "root") {
    if (!type) errs.push(required(`${field}.type`, "must not be empty at the root"));
    else if (type !== "object") errs.push(invalidValue(`${field}.type`, goString(type), "must be object at the root"));
    if (schema.nullable) errs.push(forbidden(`${field}.nullable`, "must be false at the root"));
    if (schema.default !== undefined) errs.push(forbidden(`${field}.default`, "must not be set at the root"));
  } else if (!type && !intOrString && preserve !== true) {
    errs.push(
      required(`${field}.type`, level === "items" ? "must not be empty for specified array items" : "must not be empty for specified object fields"),
    );
  }
  if (type && !SCHEMA_TYPES.includes(type)) {
    if (type === "null") errs.push(forbidden(`${field}.type`, "type cannot be set to null"));
    else errs.push(notSupported(`${field}.type`, goString(type), SCHEMA_TYPES));
  }
  if (intOrString && type) errs.push(invalidValue(`${field}.type`, goString(type), "must be empty if x-kubernetes-int-or-string is true"));
  if (preserve === false) errs.push(invalidValue(`${field}.x-kubernetes-preserve-unknown-fields`, goNumber(false), "must be true or undefined"));
  if (schema.uniqueItems === true) {
    errs.push(forbidden(`${field}.uniqueItems`, "uniqueItems cannot be set to true since the runtime complexity becomes quadratic"));
  }
  for (const [k, what] of [
    ["$ref", "$ref is not supported"],
    ["id", "id is not supported"],
    ["additionalItems", "additionalItems is not supported"],
    ["patternProperties", "patternProperties is not supported"],
    ["definitions", "definitions is not supported"],
    ["dependencies", "dependencies is not supported"],
  ] as const) {
    if (raw[k] !== undefined) errs.push(forbidden(`${field}.${k}`, what));
  }
  if (schema.pattern !== undefined) {
    try {
      new RegExp(schema.pattern, "u");
    } catch {
      errs.push(invalidValue(`${field}.pattern`, goString(schema.pattern), "must be a valid regular expression"));
    }
  }

  const props = schema.properties;
  if (props !== undefined && !isObj(props)) errs.push(invalidValue(`${field}.properties`, { go: JSON.stringify(props) }, "must be an object"));
  const hasProps = isObj(props) && Object.keys(props).length > 0;
  if (schema.additionalProperties !== undefined) {
    if (schema.additionalProperties === false) errs.push(forbidden(`${field}.additionalProperties`, "additionalProperties cannot be set to false"));
    else if (hasProps) errs.push(forbidden(`${field}.additionalProperties`, "additionalProperties and properties are mutual exclusive"));
    if (isObj(schema.additionalProperties)) validateSchema(schema.additionalProperties, `${field}.additionalProperties`, "property", opts, errs);
  }
  if (isObj(props)) {
    for (const k of Object.keys(props).sort()) {
      if (level === "root" && k === "metadata") {
        const meta = props[k] as Obj;
        const metaProps = isObj(meta?.properties) ? Object.keys(meta.properties) : [];
        const extra = metaProps.filter((p) => p !== "name" && p !== "generateName");
        if (extra.length > 0 || (isObj(meta) && meta.type !== undefined && meta.type !== "object")) {
          errs.push(forbidden(prop(field, k), "must not specify anything other than name and generateName, but metadata is implicitly specified"));
        }
        continue;
      }
      validateSchema(props[k], prop(field, k), "property", opts, errs);
    }
  }
  if (type === "array") {
    if (schema.items === undefined) errs.push(required(`${field}.items`, "must be specified"));
  }
  if (schema.items !== undefined) {
    if (Array.isArray(schema.items)) errs.push(forbidden(`${field}.items`, "items must be a schema object and not an array"));
    else validateSchema(schema.items, `${field}.items`, "items", opts, errs);
  }

  if (opts.unsupported !== "ignore") {
    if (raw["x-kubernetes-validations"] !== undefined) {
      errs.push(forbidden(`${field}.x-kubernetes-validations`, "validation rules (CEL) are not supported by this server"));
    }
    for (const k of ["allOf", "anyOf", "oneOf", "not"] as const) {
      if (raw[k] === undefined) continue;
      if (k === "anyOf" && isIntOrStringAnyOf(schema)) continue;
      errs.push(forbidden(`${field}.${k}`, `${k} is not supported by this server`));
    }
  }
}

/**
 * Validates a v1 CustomResourceDefinition (call `defaultCRD` first, as the
 * API server defaults before it validates). Returns field errors worded as
 * upstream's, e.g. `metadata.name: Invalid value: "foo": must be spec.names.plural+"."+spec.group`.
 */
export function validateCRD(crd: object, opts: ValidateCRDOptions = {}): FieldError[] {
  const errs: FieldError[] = [];
  const o = crd as Obj;
  const meta = isObj(o.metadata) ? o.metadata : {};
  const spec = isObj(o.spec) ? o.spec : {};
  const names = isObj(spec.names) ? spec.names : {};
  const group = str(spec.group);
  const plural = str(names.plural);

  const name = str(meta.name);
  if (!name) {
    if (!meta.generateName) errs.push(required("metadata.name", "name or generateName is required"));
  } else {
    for (const m of dns1123Subdomain(name)) errs.push(invalidValue("metadata.name", goString(name), m));
    if (name !== `${plural}.${group}`) errs.push(invalidValue("metadata.name", goString(name), 'must be spec.names.plural+"."+spec.group'));
  }

  if (!group) errs.push(required("spec.group"));
  else {
    const e = dns1123Subdomain(group);
    if (e.length > 0) errs.push(invalidValue("spec.group", goString(group), e.join(",")));
    else if (group.split(".").length < 2) errs.push(invalidValue("spec.group", goString(group), "should be a domain with at least one dot"));
  }

  const scope = str(spec.scope);
  if (!scope) errs.push(required("spec.scope"));
  else if (scope !== "Cluster" && scope !== "Namespaced") errs.push(notSupported("spec.scope", goString(scope), ["Cluster", "Namespaced"]));

  const versions = Array.isArray(spec.versions) ? spec.versions : [];
  if (versions.length === 0) errs.push(required("spec.versions", "must have exactly one version marked as storage version"));
  let storage = 0;
  let served = 0;
  const seen = new Set<string>();
  let unique = true;
  versions.forEach((v, i) => {
    const f = `spec.versions[${i}]`;
    const ver = isObj(v) ? v : {};
    const vname = str(ver.name);
    if (ver.storage === true) storage++;
    if (ver.served === true) served++;
    if (seen.has(vname)) unique = false;
    seen.add(vname);
    const e = dns1035Label(vname);
    if (e.length > 0) errs.push(invalidValue(`${f}.name`, goString(vname), e.join(",")));

    const schema = isObj(ver.schema) ? ver.schema.openAPIV3Schema : undefined;
    if (schema === undefined || schema === null) errs.push(required(`${f}.schema.openAPIV3Schema`, "schemas are required"));
    else validateSchema(schema, `${f}.schema.openAPIV3Schema`, "root", opts, errs);

    if (ver.subresources !== undefined && ver.subresources !== null) {
      if (!isObj(ver.subresources)) errs.push(invalidValue(`${f}.subresources`, { go: JSON.stringify(ver.subresources) }, "must be an object"));
      else errs.push(...validateSubresources(ver.subresources, `${f}.subresources`));
    }
    const cols = Array.isArray(ver.additionalPrinterColumns) ? ver.additionalPrinterColumns : [];
    cols.forEach((c, j) => {
      errs.push(...validateColumn(isObj(c) ? c : {}, `${f}.additionalPrinterColumns[${j}]`));
    });
  });
  if (!unique) errs.push(invalidValue("spec.versions", goVersions(versions), "must contain unique version names"));
  if (versions.length > 0 && storage !== 1) {
    errs.push(invalidValue("spec.versions", goVersions(versions), "must have exactly one version marked as storage version"));
  }
  if (versions.length > 0 && served === 0) errs.push(invalidValue("spec.versions", goVersions(versions), "must have at least one served version"));

  if (!plural) errs.push(required("spec.names.plural"));
  if (!str(names.singular)) errs.push(required("spec.names.singular"));
  if (!str(names.kind)) errs.push(required("spec.names.kind"));
  if (!str(names.listKind)) errs.push(required("spec.names.listKind"));
  errs.push(...validateNames(names, "spec.names"));

  if (spec.conversion !== undefined) {
    const conv = isObj(spec.conversion) ? spec.conversion : {};
    const strategy = str(conv.strategy);
    if (!strategy) errs.push(required("spec.conversion.strategy"));
    else if (strategy !== "None" && strategy !== "Webhook") {
      errs.push(notSupported("spec.conversion.strategy", goString(strategy), ["None", "Webhook"]));
    } else if (strategy === "Webhook") {
      if (!isObj(conv.webhook)) errs.push(required("spec.conversion.webhook", "required when strategy is set to Webhook"));
      else if (opts.unsupported !== "ignore") errs.push(forbidden("spec.conversion.strategy", "Webhook conversion is not supported by this server"));
    } else if (conv.webhook !== undefined) {
      errs.push(forbidden("spec.conversion.webhook", "should not be set when strategy is not set to Webhook"));
    }
  }

  if (spec.preserveUnknownFields === true) {
    errs.push(
      invalidValue(
        "spec.preserveUnknownFields",
        goNumber(true),
        "cannot set to true, set x-kubernetes-preserve-unknown-fields to true in spec.versions[*].schema instead",
      ),
    );
  }
  return errs;
}

/**
 * Update rules on top of `validateCRD` (ValidateCustomResourceDefinitionSpecUpdate):
 * spec.group and spec.names.plural never change; spec.scope and
 * spec.names.kind are frozen once the CRD is Established.
 */
export function validateCRDUpdate(crd: object, old: object, established: boolean, opts: ValidateCRDOptions = {}): FieldError[] {
  const errs = validateCRD(crd, opts);
  const spec = (x: object): Obj => (isObj((x as Obj).spec) ? ((x as Obj).spec as Obj) : {});
  const names = (x: object): Obj => (isObj(spec(x).names) ? (spec(x).names as Obj) : {});
  const immutable = (field: string, now: string, before: string) => {
    if (now !== before) errs.push(invalidValue(field, goString(now), "field is immutable"));
  };
  if (established) {
    immutable("spec.scope", str(spec(crd).scope), str(spec(old).scope));
    immutable("spec.names.kind", str(names(crd).kind), str(names(old).kind));
  }
  immutable("spec.group", str(spec(crd).group), str(spec(old).group));
  immutable("spec.names.plural", str(names(crd).plural), str(names(old).plural));
  return errs;
}
