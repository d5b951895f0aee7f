/**
 * Generates src/api/openapi/definitions.generated.json: the OpenAPI (v2
 * form, `#/definitions/...` refs) schema of every definition reachable from
 * the resources skiff serves, named and shaped as upstream kube-apiserver
 * publishes them.
 *
 * Sources, all read at generation time only:
 * - kubernetes-types' .d.ts files (parsed with the TypeScript compiler API):
 *   types, properties, `required`, descriptions;
 * - @kubernetes/client-node's generated models (a devDependency generated
 *   from upstream's swagger.json): integer/number formats (int32, int64,
 *   double), which kubernetes-types flattens to `number`;
 * - src/api/openapi/patch-meta.ts: patch strategies, list/map types, unions
 *   (upstream Go struct tags and markers, hand-curated);
 * - src/api/openapi/enums.upstream.json: `enum` values and the enum-bearing
 *   descriptions upstream serves for `+enum` fields (provenance in
 *   enums.upstream.md), which kubernetes-types drops;
 * - the small tables below for what neither carries (IntOrString, Time, ...).
 *
 * Run: `node --import tsx scripts/gen-openapi.ts` (`--check` exits 1 when
 * the committed file is stale). Output is deterministic: keys sorted.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  isArrayTypeNode,
  isIdentifier,
  isImportDeclaration,
  isIndexSignatureDeclaration,
  isInterfaceDeclaration,
  isLiteralTypeNode,
  isNamedImports,
  isParenthesizedTypeNode,
  isPropertySignatureDeclaration,
  isStringLiteral,
  isTypeAliasDeclaration,
  isTypeLiteralNode,
  isTypeReferenceNode,
  isUnionTypeNode,
  type Node,
  type SourceFile,
  SyntaxKind,
  type TypeNode,
} from "typescript/unstable/ast";
import { API } from "typescript/unstable/sync";
import { type FieldPatchMeta, PATCH_META, TYPE_META } from "../src/api/openapi/patch-meta.js";
import { BUILTIN_RESOURCES } from "../src/api/resources.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const TYPES_DIR = join(ROOT, "node_modules/kubernetes-types");
const CLIENT_MODELS = join(ROOT, "node_modules/@kubernetes/client-node/dist/gen/models");
const OUT = join(ROOT, "src/api/openapi/definitions.generated.json");
const ENUMS = join(ROOT, "src/api/openapi/enums.upstream.json");

const INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString";

/** A JSON schema as emitted (v2 form). */
type Schema = { [key: string]: unknown };

/** kubernetes-types module (path without .d.ts, relative to the package) → upstream definition prefix. */
function modulePrefix(mod: string): string {
  const special: Record<string, string> = {
    "meta/v1": "io.k8s.apimachinery.pkg.apis.meta.v1",
    "api/resource": "io.k8s.apimachinery.pkg.api.resource",
    runtime: "io.k8s.apimachinery.pkg.runtime",
    version: "io.k8s.apimachinery.pkg.version",
    "apiextensions/v1": "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1",
  };
  if (special[mod]) return special[mod];
  const [group, version] = mod.split("/");
  return `io.k8s.api.${group}.${version}`;
}

/** Upstream definition name → kubernetes-types module and declaration name. */
function locate(definition: string): { mod: string; name: string } {
  const i = definition.lastIndexOf(".");
  const prefix = definition.slice(0, i);
  const name = definition.slice(i + 1);
  const special: Record<string, string> = {
    "io.k8s.apimachinery.pkg.apis.meta.v1": "meta/v1",
    "io.k8s.apimachinery.pkg.api.resource": "api/resource",
    "io.k8s.apimachinery.pkg.runtime": "runtime",
    "io.k8s.apimachinery.pkg.version": "version",
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1": "apiextensions/v1",
  };
  if (special[prefix]) return { mod: special[prefix], name };
  const m = /^io\.k8s\.api\.([^.]+)\.([^.]+)$/.exec(prefix);
  if (!m) throw new Error(`cannot locate ${definition}`);
  return { mod: `${m[1]}/${m[2]}`, name };
}

// ---------------------------------------------------------------------------
// Parsing kubernetes-types with the TypeScript compiler API.

interface Decl {
  mod: string;
  name: string;
  node: Node;
  doc: string | undefined;
  source: SourceFile;
}

interface Module {
  decls: Map<string, Decl>;
  /** Imported identifier → module it comes from. */
  imports: Map<string, string>;
}

/** The text of a node's last JSDoc comment, as the description upstream had. */
function docOf(node: Node, source: SourceFile): string | undefined {
  const docs = node.jsDoc;
  if (!docs || docs.length === 0) return undefined;
  const last = docs[docs.length - 1]!;
  let raw = source.text.slice(last.pos, last.end).trim();
  if (!raw.startsWith("/**")) return undefined;
  raw = raw.slice(3, raw.endsWith("*/") ? -2 : undefined);
  const lines = raw.split("\n").map((l) => l.replace(/^\s*\* ?/, "").replace(/\s+$/, ""));
  while (lines.length > 0 && lines[0] === "") lines.shift();
  while (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  const text = lines.join("\n").trim();
  return text === "" ? undefined : text;
}

function loadModules(): Map<string, Module> {
  const mods = new Map<string, Module>();
  const wanted = new Set<string>();
  for (const r of BUILTIN_RESOURCES) wanted.add(locate(r.definition).mod);
  for (const m of ["meta/v1", "api/resource", "runtime", "version", "autoscaling/v1", "policy/v1", "authentication/v1"]) wanted.add(m);
  const api = new API({ cwd: ROOT });
  try {
    const files = [...wanted].map((m) => join(TYPES_DIR, `${m}.d.ts`));
    const snapshot = api.updateSnapshot({ openFiles: files });
    const queue = [...wanted];
    while (queue.length > 0) {
      const mod = queue.shift()!;
      if (mods.has(mod)) continue;
      const file = join(TYPES_DIR, `${mod}.d.ts`);
      const project = snapshot.getDefaultProjectForFile(file);
      const source = project?.program.getSourceFile(file);
      if (!source) throw new Error(`kubernetes-types: cannot parse ${file}`);
      const entry: Module = { decls: new Map(), imports: new Map() };
      mods.set(mod, entry);
      for (const st of source.statements) {
        if (isImportDeclaration(st)) {
          const spec = st.moduleSpecifier;
          if (!isStringLiteral(spec)) continue;
          const target = relative(TYPES_DIR, resolve(dirname(file), spec.text));
          const bindings = st.importClause?.namedBindings;
          if (bindings && isNamedImports(bindings)) for (const el of bindings.elements) entry.imports.set(el.name.text, target);
          if (!mods.has(target)) queue.push(target);
        } else if (isInterfaceDeclaration(st) || isTypeAliasDeclaration(st)) {
          entry.decls.set(st.name.text, { mod, name: st.name.text, node: st, doc: docOf(st, source), source });
        }
      }
    }
  } finally {
    api.close();
  }
  return mods;
}

// ---------------------------------------------------------------------------
// Integer formats from @kubernetes/client-node's models.

interface Attribute {
  name: string;
  baseName: string;
  type: string;
  format: string;
}

const attributeCache = new Map<string, Attribute[] | null>();

function clientModel(definition: string): Attribute[] | null {
  if (attributeCache.has(definition)) return attributeCache.get(definition)!;
  const { mod, name } = locate(definition);
  const [group, version] = mod.includes("/") ? mod.split("/") : ["", ""];
  const cap = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
  const candidates = [`${cap(group!)}${cap(version!)}${name}`, `${cap(version!)}${name}`];
  let attrs: Attribute[] | null = null;
  for (const c of candidates) {
    const file = join(CLIENT_MODELS, `${c}.js`);
    if (!existsSync(file)) continue;
    const m = /\.attributeTypeMap = (\[[\s\S]*?\n\]);/.exec(readFileSync(file, "utf8"));
    if (m) attrs = JSON.parse(m[1]!) as Attribute[];
    break;
  }
  attributeCache.set(definition, attrs);
  return attrs;
}

/**
 * Formats client-node lacks (fields newer than its models know, or models it
 * names differently), as upstream's swagger.json has them.
 */
const FORMAT_FALLBACK: Record<string, string> = {};

const unresolvedNumbers: string[] = [];

function upstreamFormat(definition: string, field: string): string | undefined {
  const a = clientModel(definition)?.find((x) => x.baseName === field);
  return a?.format || FORMAT_FALLBACK[`${definition}.${field}`];
}

/** A string field; `[]byte` fields are base64 strings upstream (format byte). */
function stringSchema(definition: string, field: string): Schema {
  return upstreamFormat(definition, field) === "byte" ? { type: "string", format: "byte" } : { type: "string" };
}

/** The type/format of a `number` field, from upstream facts. */
function numberSchema(definition: string, field: string): Schema {
  const format = upstreamFormat(definition, field);
  if (format === "int32" || format === "int64") return { type: "integer", format };
  if (format === "double" || format === "float") return { type: "number", format };
  unresolvedNumbers.push(`${definition}.${field}`);
  return { type: "integer", format: "int32" };
}

// ---------------------------------------------------------------------------
// Schema building.

/** Definitions whose schema is not derived from the .d.ts shape. */
const FIXED: Record<string, Schema> = {
  "io.k8s.apimachinery.pkg.api.resource.Quantity": { type: "string" },
  "io.k8s.apimachinery.pkg.apis.meta.v1.Time": { type: "string", format: "date-time" },
  "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime": { type: "string", format: "date-time" },
  "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1": { type: "object" },
  "io.k8s.apimachinery.pkg.runtime.RawExtension": { type: "object" },
  "io.k8s.apimachinery.pkg.apis.meta.v1.Patch": { type: "object" },
  "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSON": {},
  "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrArray": {},
  "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrBool": {},
  "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrStringArray": {},
};

/** Upstream's IntOrString, which kubernetes-types inlines as `number | string`. */
const INT_OR_STRING_SCHEMA: Schema = {
  description:
    "IntOrString is a type that can hold an int32 or a string.  When used in JSON or YAML marshalling and unmarshalling, it produces or consumes the inner type.  This allows you to have, for example, a JSON field that can accept a name or number.",
  format: "int-or-string",
  type: "string",
};

/**
 * JSONSchemaProps' `x-kubernetes-*` properties, which kubernetes-types drops
 * (their names are not identifiers). Descriptions as upstream's
 * apiextensions/v1 types_jsonschema.go.
 */
const JSON_SCHEMA_PROPS_EXTRA: Record<string, Schema> = {
  "x-kubernetes-embedded-resource": {
    description:
      "x-kubernetes-embedded-resource defines that the value is an embedded Kubernetes runtime.Object, with TypeMeta and ObjectMeta. The type must be object. It is allowed to further restrict the embedded object. kind, apiVersion and metadata are validated automatically. x-kubernetes-preserve-unknown-fields is allowed to be true, but does not have to be if the object is fully specified (up to kind, apiVersion, metadata).",
    type: "boolean",
  },
  "x-kubernetes-int-or-string": {
    description:
      "x-kubernetes-int-or-string specifies that this value is either an integer or a string. If this is true, an empty type is allowed and type as child of anyOf is permitted if following one of the following patterns:\n\n1) anyOf:\n   - type: integer\n   - type: string\n2) allOf:\n   - anyOf:\n     - type: integer\n     - type: string\n   - ... zero or more",
    type: "boolean",
  },
  "x-kubernetes-list-map-keys": {
    description:
      "x-kubernetes-list-map-keys annotates an array with the x-kubernetes-list-type `map` by specifying the keys used as the index of the map.\n\nThis tag MUST only be used on lists that have the \"x-kubernetes-list-type\" extension set to \"map\". Also, the values specified for this attribute must be a scalar typed field of the child structure (no nesting is supported).\n\nThe properties specified must either be required or have a default value, to ensure those properties are present for all list items.",
    items: { type: "string" },
    type: "array",
    "x-kubernetes-list-type": "atomic",
  },
  "x-kubernetes-list-type": {
    description:
      "x-kubernetes-list-type annotates an array to further describe its topology. This extension must only be used on lists and may have 3 possible values:\n\n1) `atomic`: the list is treated as a single entity, like a scalar.\n     Atomic lists will be entirely replaced when updated. This extension\n     may be used on any type of list (struct, scalar, ...).\n2) `set`:\n     Sets are lists that must not have multiple items with the same value. Each\n     value must be a scalar, an object with x-kubernetes-map-type `atomic` or an\n     array with x-kubernetes-list-type `atomic`.\n3) `map`:\n     These lists are like maps in that their elements have a non-index key\n     used to identify them. Order is preserved upon merge. The map tag\n     must only be used on a list with elements of type object.\nDefaults to atomic for arrays.",
    type: "string",
  },
  "x-kubernetes-map-type": {
    description:
      "x-kubernetes-map-type annotates an object to further describe its topology. This extension must only be used when type is object and may have 2 possible values:\n\n1) `granular`:\n     These maps are actual maps (key-value pairs) and each fields are independent\n     from each other (they can each be manipulated by separate actors). This is\n     the default behaviour for all maps.\n2) `atomic`: the list is treated as a single entity, like a scalar.\n     Atomic maps will be entirely replaced when updated.",
    type: "string",
  },
  "x-kubernetes-preserve-unknown-fields": {
    description:
      "x-kubernetes-preserve-unknown-fields stops the API server decoding step from pruning fields which are not specified in the validation schema. This affects fields recursively, but switches back to normal pruning behaviour if nested properties or additionalProperties are specified in the schema. This can either be true or undefined. False is forbidden.",
    type: "boolean",
  },
  "x-kubernetes-validations": {
    description:
      "x-kubernetes-validations describes a list of validation rules written in the CEL expression language.",
    items: { $ref: "#/definitions/io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.ValidationRule" },
    type: "array",
    "x-kubernetes-list-map-keys": ["rule"],
    "x-kubernetes-list-type": "map",
    "x-kubernetes-patch-merge-key": "rule",
    "x-kubernetes-patch-strategy": "merge",
  },
};

/** Extra definitions reachable from no served kind but used by paths (bodies, subresources, discovery). */
const EXTRA_ROOTS = [
  "io.k8s.apimachinery.pkg.apis.meta.v1.APIGroup",
  "io.k8s.apimachinery.pkg.apis.meta.v1.APIGroupList",
  "io.k8s.apimachinery.pkg.apis.meta.v1.APIResourceList",
  "io.k8s.apimachinery.pkg.apis.meta.v1.APIVersions",
  "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions",
  "io.k8s.apimachinery.pkg.apis.meta.v1.Patch",
  "io.k8s.apimachinery.pkg.apis.meta.v1.Status",
  "io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent",
  "io.k8s.apimachinery.pkg.version.Info",
  "io.k8s.api.autoscaling.v1.Scale",
  "io.k8s.api.policy.v1.Eviction",
  "io.k8s.api.authentication.v1.TokenRequest",
];

function refTo(definition: string): Schema {
  return { $ref: `#/definitions/${definition}` };
}

class Generator {
  readonly out = new Map<string, Schema>();
  private readonly queue: string[] = [];

  constructor(private readonly mods: Map<string, Module>) {}

  want(definition: string): void {
    if (!this.out.has(definition) && !this.queue.includes(definition)) this.queue.push(definition);
  }

  run(): void {
    while (this.queue.length > 0) {
      const def = this.queue.shift()!;
      if (this.out.has(def)) continue;
      this.out.set(def, this.build(def));
    }
  }

  private decl(definition: string): Decl {
    const { mod, name } = locate(definition);
    const d = this.mods.get(mod)?.decls.get(name);
    if (!d) throw new Error(`kubernetes-types has no ${name} in ${mod} (for ${definition})`);
    return d;
  }

  /** Resolves a type name used in `mod` to its upstream definition name. */
  private resolveName(mod: string, name: string): string {
    const m = this.mods.get(mod)!;
    if (m.decls.has(name)) return `${modulePrefix(mod)}.${name}`;
    const from = m.imports.get(name);
    if (from) return `${modulePrefix(from)}.${name}`;
    throw new Error(`unresolved type ${name} in ${mod}`);
  }

  private build(definition: string): Schema {
    if (definition === INT_OR_STRING) return { ...INT_OR_STRING_SCHEMA };
    const d = this.decl(definition);
    const schema: Schema = {};
    if (d.doc) schema.description = d.doc;
    if (FIXED[definition]) return { ...schema, ...FIXED[definition] };
    if (!isInterfaceDeclaration(d.node)) throw new Error(`${definition}: type alias without a fixed schema`);
    const properties: Record<string, Schema> = {};
    const required: string[] = [];
    const fieldMeta = PATCH_META[definition] ?? {};
    for (const member of d.node.members) {
      if (!isPropertySignatureDeclaration(member)) continue;
      const nameNode = member.name;
      const field = isIdentifier(nameNode) ? nameNode.text : isStringLiteral(nameNode) ? nameNode.text : undefined;
      if (field === undefined || !member.type) throw new Error(`${definition}: unsupported member`);
      const prop = this.typeSchema(member.type, d.mod, definition, field);
      const doc = docOf(member, d.source);
      const withDoc: Schema = doc ? { ...prop, description: doc } : prop;
      properties[field] = applyPatchMeta(withDoc, fieldMeta[field]);
      if (member.postfixToken?.kind !== SyntaxKind.QuestionToken) required.push(field);
    }
    if (definition === "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps") {
      for (const [k, v] of Object.entries(JSON_SCHEMA_PROPS_EXTRA)) properties[k] = v;
      this.want("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.ValidationRule");
    }
    for (const field of Object.keys(fieldMeta)) {
      if (!(field in properties)) throw new Error(`patch-meta: ${definition}.${field} is not a field kubernetes-types knows`);
    }
    if (Object.keys(properties).length > 0) schema.properties = properties;
    if (required.length > 0) schema.required = required;
    schema.type = "object";
    const typeMeta = TYPE_META[definition];
    if (typeMeta?.mapType) schema["x-kubernetes-map-type"] = typeMeta.mapType;
    if (typeMeta?.unions) schema["x-kubernetes-unions"] = typeMeta.unions;
    return schema;
  }

  private typeSchema(t: TypeNode, mod: string, definition: string, field: string): Schema {
    if (isParenthesizedTypeNode(t)) return this.typeSchema(t.type, mod, definition, field);
    switch (t.kind) {
      case SyntaxKind.StringKeyword:
        return stringSchema(definition, field);
      case SyntaxKind.BooleanKeyword:
        return { type: "boolean" };
      case SyntaxKind.NumberKeyword:
        return numberSchema(definition, field);
      default:
        break;
    }
    if (isLiteralTypeNode(t)) {
      if (isStringLiteral(t.literal)) return { type: "string" };
      throw new Error(`${definition}.${field}: unsupported literal type`);
    }
    if (isUnionTypeNode(t)) {
      const kinds = t.types.map((x) => x.kind).sort();
      if (kinds.length === 2 && kinds.includes(SyntaxKind.NumberKeyword) && kinds.includes(SyntaxKind.StringKeyword)) {
        this.want(INT_OR_STRING);
        return refTo(INT_OR_STRING);
      }
      throw new Error(`${definition}.${field}: unsupported union type`);
    }
    if (isArrayTypeNode(t)) return { type: "array", items: this.typeSchema(t.elementType, mod, definition, field) };
    if (isTypeReferenceNode(t)) {
      const name = isIdentifier(t.typeName) ? t.typeName.text : undefined;
      if (name === "Array" && t.typeArguments?.length === 1) {
        return { type: "array", items: this.typeSchema(t.typeArguments[0]!, mod, definition, field) };
      }
      if (name === undefined) throw new Error(`${definition}.${field}: qualified type names are not supported`);
      const target = this.resolveName(mod, name);
      this.want(target);
      return refTo(target);
    }
    if (isTypeLiteralNode(t)) {
      const [only] = t.members;
      if (t.members.length === 1 && only && isIndexSignatureDeclaration(only) && only.type) {
        return { type: "object", additionalProperties: this.typeSchema(only.type, mod, definition, field) };
      }
      throw new Error(`${definition}.${field}: unsupported type literal`);
    }
    throw new Error(`${definition}.${field}: unsupported type node ${SyntaxKind[t.kind]}`);
  }
}

/** Merges a field's patch metadata into its schema as upstream's extensions. */
function applyPatchMeta(schema: Schema, meta: FieldPatchMeta | undefined): Schema {
  if (!meta) return schema;
  const out: Schema = { ...schema };
  if (meta.listMapKeys) out["x-kubernetes-list-map-keys"] = [...meta.listMapKeys];
  if (meta.listType) out["x-kubernetes-list-type"] = meta.listType;
  if (meta.mapType) out["x-kubernetes-map-type"] = meta.mapType;
  if (meta.patchMergeKey) out["x-kubernetes-patch-merge-key"] = meta.patchMergeKey;
  if (meta.patchStrategy) out["x-kubernetes-patch-strategy"] = meta.patchStrategy;
  return out;
}

/** One field's entry in enums.upstream.json. */
interface EnumFact {
  enum?: string[];
  description?: string;
  items?: { enum: string[] };
  additionalProperties?: { enum: string[] };
}

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === "string");
}

/**
 * Merges enums.upstream.json: `enum` (and the description that lists the
 * values) on string fields, `items.enum` on arrays of strings,
 * `additionalProperties.enum` on maps of strings. Every entry must name a
 * generated string field of that shape: a stale entry is an error.
 */
function applyEnums(out: Map<string, Schema>, facts: Record<string, Record<string, EnumFact>>): number {
  let n = 0;
  for (const [def, fields] of Object.entries(facts)) {
    const properties = out.get(def)?.properties as Record<string, Schema> | undefined;
    if (!properties) throw new Error(`enums.upstream.json: ${def} is not a generated definition`);
    for (const [field, fact] of Object.entries(fields)) {
      const prop = properties[field];
      const where = `enums.upstream.json: ${def}.${field}`;
      if (!prop) throw new Error(`${where} is not a field kubernetes-types knows`);
      if (fact.enum !== undefined || fact.description !== undefined) {
        if (prop.type !== "string" || !isStringArray(fact.enum) || typeof fact.description !== "string") {
          throw new Error(`${where}: expected a string field with enum and description`);
        }
        prop.enum = [...fact.enum];
        prop.description = fact.description;
      } else if (fact.items) {
        const items = prop.items as Schema | undefined;
        if (prop.type !== "array" || items?.type !== "string" || !isStringArray(fact.items.enum)) throw new Error(`${where}: expected an array of strings`);
        items.enum = [...fact.items.enum];
      } else if (fact.additionalProperties) {
        const values = prop.additionalProperties as Schema | undefined;
        if (prop.type !== "object" || values?.type !== "string" || !isStringArray(fact.additionalProperties.enum)) {
          throw new Error(`${where}: expected a map of strings`);
        }
        values.enum = [...fact.additionalProperties.enum];
      } else {
        throw new Error(`${where}: empty entry`);
      }
      n++;
    }
  }
  return n;
}

/** Every `$ref` must name a generated definition. */
function checkReferences(out: Map<string, Schema>): void {
  const visit = (v: unknown, where: string) => {
    if (Array.isArray(v)) for (const x of v) visit(x, where);
    else if (v && typeof v === "object") {
      for (const [k, x] of Object.entries(v)) {
        if (k === "$ref" && typeof x === "string" && !out.has(x.replace("#/definitions/", ""))) throw new Error(`${where}: dangling ${x}`);
        visit(x, where);
      }
    }
  };
  for (const [name, schema] of out) visit(schema, name);
}

interface GVK {
  group: string;
  version: string;
  kind: string;
}

/**
 * `x-kubernetes-group-version-kind` on every served kind and its List, on
 * the subresource bodies (Scale, Eviction, TokenRequest) and on the meta
 * kinds, as upstream lists them (DeleteOptions and WatchEvent in every
 * served group-version), sorted by group, version, kind.
 */
function addGroupVersionKinds(out: Map<string, Schema>): void {
  const gvks = new Map<string, GVK[]>();
  const add = (def: string, gvk: GVK) => {
    const list = gvks.get(def) ?? [];
    if (!list.some((g) => g.group === gvk.group && g.version === gvk.version && g.kind === gvk.kind)) list.push(gvk);
    gvks.set(def, list);
  };
  const groupVersions: { group: string; version: string }[] = [];
  for (const r of BUILTIN_RESOURCES) {
    add(r.definition, { group: r.group, version: r.version, kind: r.kind });
    if (r.verbs.includes("list")) add(`${r.definition}List`, { group: r.group, version: r.version, kind: `${r.kind}List` });
    if (!groupVersions.some((g) => g.group === r.group && g.version === r.version)) groupVersions.push({ group: r.group, version: r.version });
  }
  const meta = "io.k8s.apimachinery.pkg.apis.meta.v1";
  for (const kind of ["APIGroup", "APIGroupList", "APIResourceList", "APIVersions", "Status"]) add(`${meta}.${kind}`, { group: "", version: "v1", kind });
  for (const kind of ["DeleteOptions", "WatchEvent"]) for (const gv of groupVersions) add(`${meta}.${kind}`, { ...gv, kind });
  add("io.k8s.api.autoscaling.v1.Scale", { group: "autoscaling", version: "v1", kind: "Scale" });
  add("io.k8s.api.policy.v1.Eviction", { group: "policy", version: "v1", kind: "Eviction" });
  add("io.k8s.api.authentication.v1.TokenRequest", { group: "authentication.k8s.io", version: "v1", kind: "TokenRequest" });
  for (const [def, list] of gvks) {
    const schema = out.get(def);
    if (!schema) throw new Error(`GVK for ${def}, which is not generated`);
    const cmp = (x: string, y: string) => (x < y ? -1 : x > y ? 1 : 0);
    list.sort((a, b) => cmp(a.group, b.group) || cmp(a.version, b.version) || cmp(a.kind, b.kind));
    schema["x-kubernetes-group-version-kind"] = list;
  }
}

/** Recursively sorts object keys so the output is stable (arrays keep their order). */
function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) out[k] = sortKeys((v as Record<string, unknown>)[k]);
    return out;
  }
  return v;
}

function main(): void {
  const check = process.argv.includes("--check");
  const mods = loadModules();
  const gen = new Generator(mods);
  for (const r of BUILTIN_RESOURCES) {
    gen.want(r.definition);
    if (r.verbs.includes("list")) gen.want(`${r.definition}List`);
  }
  for (const d of EXTRA_ROOTS) gen.want(d);
  gen.run();
  for (const def of Object.keys(PATCH_META)) {
    if (!gen.out.has(def)) throw new Error(`patch-meta: ${def} is not a served definition`);
  }
  for (const def of Object.keys(TYPE_META)) {
    if (!gen.out.has(def)) throw new Error(`patch-meta: type ${def} is not a served definition`);
  }
  addGroupVersionKinds(gen.out);
  const enumFields = applyEnums(gen.out, JSON.parse(readFileSync(ENUMS, "utf8")) as Record<string, Record<string, EnumFact>>);
  checkReferences(gen.out);
  if (unresolvedNumbers.length > 0) {
    throw new Error(`no integer format known for:\n  ${unresolvedNumbers.join("\n  ")}\n(add them to FORMAT_FALLBACK)`);
  }
  const defs: Record<string, Schema> = {};
  for (const k of [...gen.out.keys()].sort()) defs[k] = gen.out.get(k)!;
  const text = `${JSON.stringify(sortKeys(defs), null, 1)}\n`;
  if (check) {
    const current = existsSync(OUT) ? readFileSync(OUT, "utf8") : "";
    if (current !== text) {
      console.error(`${relative(ROOT, OUT)} is stale: run node --import tsx scripts/gen-openapi.ts`);
      process.exit(1);
    }
    console.log(`${relative(ROOT, OUT)} is up to date (${gen.out.size} definitions, ${enumFields} enum fields)`);
    return;
  }
  writeFileSync(OUT, text);
  console.log(`wrote ${relative(ROOT, OUT)}: ${gen.out.size} definitions, ${enumFields} enum fields, ${text.length} bytes`);
}

main();
