/**
 * The OpenAPI documents kube-apiserver serves, built from the generated
 * definitions (definitions.generated.json, see scripts/gen-openapi.ts) and
 * the path model (paths.ts):
 *
 * - `GET /openapi/v2`: Swagger 2.0 JSON ({@link openapiV2Json}), or gnostic
 *   protobuf for `Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf`
 *   ({@link openapiV2Protobuf}), which kubectl 1.27–1.28 request;
 * - `GET /openapi/v3`: the index ({@link openapiV3Index}), mapping each
 *   group-version ("api/v1", "apis/apps/v1", ...) to
 *   `/openapi/v3/<gv>?hash=<HASH>`;
 * - `GET /openapi/v3/<gv>`: one OpenAPI 3.0 document per group-version
 *   ({@link openapiV3Document}).
 *
 * Custom resources' OpenAPI ({@link CustomOpenAPISpecs}, published by the
 * API server as it serves CustomResourceDefinitions) is merged in as
 * upstream's apiextensions controllers do: into /openapi/v2 (built-in paths
 * and definitions win a conflict) and into one /openapi/v3 document per
 * custom group-version (merged with a built-in document of the same
 * group-version, if there were one). Pass the registry to the functions
 * below; without it (or with none published) they serve the built-in
 * documents only.
 *
 * Every document is built once and cached. The built-in ones never change;
 * what includes custom resources is rebuilt, lazily, only after the
 * registry's generation moves. Hashes are upstream's: the
 * uppercase hex SHA-512 of the JSON bytes (the protobuf encoding of
 * /openapi/v2 shares the JSON's hash, as upstream's does); ETags are the
 * quoted hash. {@link negotiateOpenAPIV2} and {@link negotiateOpenAPIV3}
 * pick the representation from an Accept header exactly as kube-openapi's
 * handlers do (406 when nothing matches; answer with `Vary: Accept`).
 * Serving `/openapi/v3/<gv>?hash=H` with `H` equal to the current hash may
 * use immutable cache headers (upstream: `Cache-Control: public,
 * immutable, max-age=31536000` and `Expires` a year ahead); a request with a
 * stale hash should be redirected (upstream: 301 to the current hash URL).
 */
import { createHash } from "node:crypto";
import definitionsJson from "./definitions.generated.json" with { type: "json" };
import type { CustomOpenAPISpec, CustomOpenAPISpecs } from "./custom-specs.js";
import { encodeOpenAPIV2 } from "./gnostic.js";
import type { Param } from "./parameters.js";
import { allPaths, type Operation, type Payload, type PathItem } from "./paths.js";

/** A JSON value. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
/** A JSON object (an OpenAPI document, schema, ...). */
export type JsonObject = { [key: string]: Json };

/** A document ready to serve. */
export interface ServedDocument {
  /** The response body. */
  readonly body: Buffer;
  /** The Content-Type to answer with. */
  readonly contentType: string;
  /** Uppercase hex SHA-512 of the document's JSON encoding (upstream's `?hash=` value). */
  readonly hash: string;
  /** `"<hash>"`, for ETag / If-None-Match. */
  readonly etag: string;
}

/** Content type of the gnostic protobuf encoding of /openapi/v2, as upstream answers it. */
export const OPENAPI_V2_PROTOBUF = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";
/** The older spelling clients (kubectl ≤ 1.28) send in Accept; answered with {@link OPENAPI_V2_PROTOBUF}. */
export const OPENAPI_V2_PROTOBUF_DEPRECATED = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf";
/** Content type of /openapi/v3 documents (and the v2 JSON). */
export const OPENAPI_JSON = "application/json";

const DEFINITIONS = definitionsJson as unknown as Readonly<Record<string, JsonObject>>;

const INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString";
const QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity";

const SECURITY_DEFINITIONS: JsonObject = {
  BearerToken: { description: "Bearer Token authentication", in: "header", name: "authorization", type: "apiKey" },
};

function served(body: Buffer, contentType: string, hash = sha512(body)): ServedDocument {
  return { body, contentType, hash, etag: `"${hash}"` };
}

function sha512(body: Buffer): string {
  return createHash("sha512").update(body).digest("hex").toUpperCase();
}

/** Recursively sorts object keys, as Go's encoding of upstream's documents does; arrays keep their order. */
function sortKeys<T extends Json>(v: T): T {
  if (Array.isArray(v)) return v.map(sortKeys) as T;
  if (v && typeof v === "object") {
    const out: JsonObject = {};
    for (const k of Object.keys(v).sort()) out[k] = sortKeys((v as JsonObject)[k]!);
    return out as T;
  }
  return v;
}

function gvkJson(op: Operation): JsonObject {
  const g = op.gvk!;
  return { group: g.group, kind: g.kind, version: g.version };
}

// ---------------------------------------------------------------------------
// OpenAPI v2

function v2Param(p: Param): JsonObject {
  const out: JsonObject = { description: p.description, in: p.in, name: p.name, type: p.type, uniqueItems: true };
  if (p.required) out.required = true;
  return out;
}

function v2Payload(p: Payload): JsonObject {
  return "ref" in p ? { $ref: `#/definitions/${p.ref}` } : { type: p.type };
}

function v2Operation(op: Operation): JsonObject {
  const params: JsonObject[] = [];
  if (op.body) {
    const body: JsonObject = { in: "body", name: "body", schema: { $ref: `#/definitions/${op.body}` } };
    if (!op.bodyOptional) body.required = true;
    params.push(body);
  }
  params.push(...op.params.map(v2Param));
  const responses: JsonObject = {};
  for (const r of op.responses) responses[r.code] = r.payload ? { description: r.description, schema: v2Payload(r.payload) } : { description: r.description };
  const out: JsonObject = {
    consumes: [...op.consumes],
    description: op.description,
    operationId: op.operationId,
    produces: [...op.produces],
    responses,
    schemes: ["https"],
    tags: [op.tag],
  };
  if (params.length > 0) out.parameters = params;
  if (op.action) out["x-kubernetes-action"] = op.action;
  if (op.gvk) out["x-kubernetes-group-version-kind"] = gvkJson(op);
  return out;
}

function v2PathItem(item: PathItem): JsonObject {
  const out: JsonObject = {};
  for (const op of item.operations) out[op.method] = v2Operation(op);
  if (item.params.length > 0) out.parameters = item.params.map(v2Param);
  return out;
}

let v2Document: JsonObject | undefined;

/** The Swagger 2.0 document (every served path and definition), without `info` (added per server version). */
function openapiV2Base(): JsonObject {
  if (!v2Document) {
    const paths: JsonObject = {};
    for (const item of allPaths()) paths[item.path] = v2PathItem(item);
    v2Document = { definitions: DEFINITIONS as unknown as JsonObject, paths, security: [{ BearerToken: [] }], securityDefinitions: SECURITY_DEFINITIONS, swagger: "2.0" };
  }
  return v2Document;
}

const v2Builtin = new Map<string, JsonObject>();

/** The built-in /openapi/v2 document, keys sorted, cached per server version. */
function builtinV2Object(version: string): JsonObject {
  let doc = v2Builtin.get(version);
  if (!doc) {
    doc = sortKeys({ ...openapiV2Base(), info: { title: "Kubernetes", version } });
    v2Builtin.set(version, doc);
  }
  return doc;
}

/** `sorted`'s entries plus `extra`'s (sorted here), `sorted` winning a conflict, keys in order. */
function mergeSorted(sorted: JsonObject, extra: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const k of [...new Set([...Object.keys(sorted), ...Object.keys(extra)])].sort()) out[k] = k in sorted ? sorted[k]! : sortKeys(extra[k]!);
  return out;
}

/** /openapi/v2 with the custom resources merged in, as upstream's MergeSpecs does (the static spec wins conflicts). */
function mergedV2Object(version: string, custom: CustomOpenAPISpecs): JsonObject {
  const base = builtinV2Object(version);
  const paths: JsonObject = {};
  const definitions: JsonObject = {};
  for (const specs of custom.byGroupVersion().values()) {
    for (const spec of specs) {
      for (const item of spec.paths) paths[item.path] = v2PathItem(item);
      Object.assign(definitions, spec.definitions);
    }
  }
  return { ...base, definitions: mergeSorted(base.definitions as JsonObject, definitions), paths: mergeSorted(base.paths as JsonObject, paths) };
}

/**
 * The /openapi/v2 document as a JSON value (for tests and tooling); with
 * `custom`, its resources merged in. Shared with the cache: do not mutate.
 */
export function openapiV2Object(version: string, custom?: CustomOpenAPISpecs): JsonObject {
  return custom && !custom.empty ? mergedV2Object(version, custom) : builtinV2Object(version);
}

const v2Json = new Map<string, ServedDocument>();
const v2Proto = new Map<string, ServedDocument>();

/**
 * `GET /openapi/v2` as JSON; `version` is the server's git version (e.g.
 * "v1.30.14+skiff"); `custom` adds the custom resources being served.
 */
export function openapiV2Json(version: string, custom?: CustomOpenAPISpecs): ServedDocument {
  const cache = custom && !custom.empty ? customCache(custom).v2Json : v2Json;
  let doc = cache.get(version);
  if (!doc) {
    doc = served(Buffer.from(JSON.stringify(openapiV2Object(version, custom))), OPENAPI_JSON);
    cache.set(version, doc);
  }
  return doc;
}

/** `GET /openapi/v2` as gnostic protobuf (`Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf`). */
export function openapiV2Protobuf(version: string, custom?: CustomOpenAPISpecs): ServedDocument {
  const cache = custom && !custom.empty ? customCache(custom).v2Proto : v2Proto;
  let doc = cache.get(version);
  if (!doc) {
    doc = served(encodeOpenAPIV2(openapiV2Object(version, custom)), OPENAPI_V2_PROTOBUF, openapiV2Json(version, custom).hash);
    cache.set(version, doc);
  }
  return doc;
}

// ---------------------------------------------------------------------------
// OpenAPI v3

/** Schema keywords whose values are schemas (or lists of them). */
const SUBSCHEMA_KEYS = new Set(["items", "additionalProperties", "allOf", "oneOf", "anyOf", "not"]);

/**
 * A v2 schema in v3 form: `#/components/schemas/` refs, a `$ref` that has
 * siblings (description, extensions) wrapped in `allOf` as upstream does.
 */
function v3Schema(s: Json): Json {
  if (Array.isArray(s)) return s.map(v3Schema);
  if (!s || typeof s !== "object") return s;
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(s)) {
    if (k === "$ref" && typeof v === "string") out[k] = v.replace("#/definitions/", "#/components/schemas/");
    else if (k === "properties") {
      const props: JsonObject = {};
      for (const [name, p] of Object.entries(v as JsonObject)) props[name] = v3Schema(p);
      out[k] = props;
    } else if (SUBSCHEMA_KEYS.has(k)) out[k] = v3Schema(v);
    // Everything else (description, type, required, x-kubernetes-* extensions) is a value, copied as is.
    else out[k] = v;
  }
  if (typeof out.$ref === "string" && Object.keys(out).length > 1) {
    const { $ref, ...rest } = out;
    return { allOf: [{ $ref }], ...rest };
  }
  return out;
}

/** A definition in v3 form; IntOrString and Quantity carry upstream's v3 `oneOf`. */
function v3Definition(name: string): JsonObject {
  const def = DEFINITIONS[name];
  if (!def) throw new Error(`openapi: no definition ${name}`);
  const out = v3Schema(def) as JsonObject;
  if (name === INT_OR_STRING) {
    const { type: _type, ...rest } = out;
    return { ...rest, oneOf: [{ type: "integer" }, { type: "string" }] };
  }
  if (name === QUANTITY) {
    const { type: _type, ...rest } = out;
    return { ...rest, oneOf: [{ type: "string" }, { type: "number" }] };
  }
  return out;
}

function v3Param(p: Param): JsonObject {
  const out: JsonObject = { description: p.description, in: p.in, name: p.name, schema: { type: p.type, uniqueItems: true } };
  if (p.required) out.required = true;
  return out;
}

function v3Payload(p: Payload): JsonObject {
  return "ref" in p ? { $ref: `#/components/schemas/${p.ref}` } : { type: p.type };
}

function v3Operation(op: Operation): JsonObject {
  const responses: JsonObject = {};
  for (const r of op.responses) {
    const resp: JsonObject = { description: r.description };
    if (r.payload) {
      const content: JsonObject = {};
      for (const mime of op.produces) content[mime] = { schema: v3Payload(r.payload) };
      resp.content = content;
    }
    responses[r.code] = resp;
  }
  const out: JsonObject = { description: op.description, operationId: op.operationId, responses, tags: [op.tag] };
  if (op.params.length > 0) out.parameters = op.params.map(v3Param);
  if (op.body) {
    const content: JsonObject = {};
    for (const mime of op.consumes) content[mime] = { schema: { $ref: `#/components/schemas/${op.body}` } };
    out.requestBody = op.bodyOptional ? { content } : { content, required: true };
  }
  if (op.action) out["x-kubernetes-action"] = op.action;
  if (op.gvk) out["x-kubernetes-group-version-kind"] = gvkJson(op);
  return out;
}

function v3PathItem(item: PathItem): JsonObject {
  const out: JsonObject = {};
  for (const op of item.operations) out[op.method] = v3Operation(op);
  if (item.params.length > 0) out.parameters = item.params.map(v3Param);
  return out;
}

/** A `$ref` target's definition name, in either document's spelling. */
function refName(ref: string): string {
  return ref.replace(/^#\/(definitions|components\/schemas)\//, "");
}

/**
 * Names of the definitions `roots` reference, transitively (including the
 * roots), looked up in `lookup` (default: the built-in definitions).
 */
function closure(roots: Iterable<string>, lookup: (name: string) => Json | undefined = (n) => DEFINITIONS[n]): string[] {
  const seen = new Set<string>();
  const queue = [...roots];
  const visit = (v: Json) => {
    if (Array.isArray(v)) v.forEach(visit);
    else if (v && typeof v === "object") {
      for (const [k, x] of Object.entries(v)) {
        if (k === "$ref" && typeof x === "string") queue.push(refName(x));
        else visit(x);
      }
    }
  };
  while (queue.length > 0) {
    const name = queue.pop()!;
    if (seen.has(name)) continue;
    seen.add(name);
    const def = lookup(name);
    if (!def) throw new Error(`openapi: reference to unknown definition ${name}`);
    visit(def);
  }
  return [...seen].sort();
}

function operationRefs(op: Operation): string[] {
  const refs: string[] = [];
  if (op.body) refs.push(op.body);
  for (const r of op.responses) if (r.payload && "ref" in r.payload) refs.push(r.payload.ref);
  return refs;
}

/** A built document: its JSON value (to merge custom resources into) and what is served. */
interface BuiltDocument {
  readonly object: JsonObject;
  readonly served: ServedDocument;
}

let v3Docs: Map<string, BuiltDocument> | undefined;

function buildV3(): Map<string, BuiltDocument> {
  const byDoc = new Map<string, PathItem[]>();
  for (const item of allPaths()) {
    const list = byDoc.get(item.document) ?? [];
    list.push(item);
    byDoc.set(item.document, list);
  }
  const docs = new Map<string, BuiltDocument>();
  for (const [name, items] of byDoc) {
    const paths: JsonObject = {};
    const roots: string[] = [];
    for (const item of items) {
      paths[item.path] = v3PathItem(item);
      for (const op of item.operations) roots.push(...operationRefs(op));
    }
    const schemas: JsonObject = {};
    for (const def of closure(roots)) schemas[def] = v3Definition(def);
    const doc: JsonObject = sortKeys({
      components: { schemas, securitySchemes: SECURITY_DEFINITIONS },
      info: { title: "Kubernetes", version: "unversioned" },
      openapi: "3.0.0",
      paths,
      security: [{ BearerToken: [] }],
    });
    docs.set(name, { object: doc, served: served(Buffer.from(JSON.stringify(doc)), OPENAPI_JSON) });
  }
  return docs;
}

function v3(): Map<string, BuiltDocument> {
  v3Docs ??= buildV3();
  return v3Docs;
}

/**
 * The /openapi/v3 document of one custom group-version: the CRDs' paths and
 * schemas plus the built-in definitions they reference (ObjectMeta, Status,
 * Scale, ...), so it stands alone. Upstream's builder titles these
 * "Kubernetes CRD Swagger"; a built-in document of the same group-version
 * keeps its own header and wins conflicts.
 */
function customV3Object(specs: readonly CustomOpenAPISpec[], builtin: JsonObject | undefined): JsonObject {
  const paths: JsonObject = {};
  const schemas: JsonObject = {};
  const roots: string[] = [];
  for (const spec of specs) {
    for (const item of spec.paths) {
      paths[item.path] = v3PathItem(item);
      for (const op of item.operations) roots.push(...operationRefs(op));
    }
    Object.assign(schemas, spec.schemas);
    roots.push(...Object.keys(spec.schemas));
  }
  for (const name of closure(roots, (n) => schemas[n] ?? DEFINITIONS[n])) schemas[name] ??= v3Definition(name);
  if (!builtin) {
    return sortKeys({ components: { schemas }, info: { title: "Kubernetes CRD Swagger", version: "v0.1.0" }, openapi: "3.0.0", paths });
  }
  const components = builtin.components as JsonObject;
  return {
    ...builtin,
    components: { ...components, schemas: mergeSorted(components.schemas as JsonObject, schemas) },
    paths: mergeSorted(builtin.paths as JsonObject, paths),
  };
}

/** What was derived from one generation of a {@link CustomOpenAPISpecs}. */
interface CustomCache {
  readonly generation: number;
  readonly v2Json: Map<string, ServedDocument>;
  readonly v2Proto: Map<string, ServedDocument>;
  v3?: Map<string, ServedDocument>;
  index?: ServedDocument;
}

const customCaches = new WeakMap<CustomOpenAPISpecs, CustomCache>();

function customCache(custom: CustomOpenAPISpecs): CustomCache {
  let c = customCaches.get(custom);
  if (!c || c.generation !== custom.generation) {
    c = { generation: custom.generation, v2Json: new Map(), v2Proto: new Map() };
    customCaches.set(custom, c);
  }
  return c;
}

/** Every /openapi/v3 document: the built-in ones, with the custom group-versions added or merged in. */
let builtinV3Served: ReadonlyMap<string, ServedDocument> | undefined;

function v3Served(custom: CustomOpenAPISpecs | undefined): ReadonlyMap<string, ServedDocument> {
  builtinV3Served ??= new Map([...v3()].map(([k, d]) => [k, d.served]));
  if (!custom || custom.empty) return builtinV3Served;
  const cache = customCache(custom);
  if (!cache.v3) {
    const docs = new Map(builtinV3Served);
    for (const [gv, specs] of custom.byGroupVersion()) {
      docs.set(gv, served(Buffer.from(JSON.stringify(customV3Object(specs, v3().get(gv)?.object))), OPENAPI_JSON));
    }
    cache.v3 = docs;
  }
  return cache.v3;
}

/**
 * The group-version paths /openapi/v3 lists: "api", "api/v1", "apis",
 * "apis/apps", "apis/apps/v1", ..., "version", and those of the custom
 * resources in `custom`.
 */
export function openapiV3Paths(custom?: CustomOpenAPISpecs): string[] {
  return [...v3Served(custom).keys()].sort();
}

/** `GET /openapi/v3/<groupVersionPath>` (e.g. "api/v1", "apis/apps/v1"); undefined when not served. */
export function openapiV3Document(groupVersionPath: string, custom?: CustomOpenAPISpecs): ServedDocument | undefined {
  return v3Served(custom).get(groupVersionPath.replace(/^\/+|\/+$/g, ""));
}

let index: ServedDocument | undefined;

function buildIndex(docs: ReadonlyMap<string, ServedDocument>): ServedDocument {
  const paths: JsonObject = {};
  for (const name of [...docs.keys()].sort()) paths[name] = { serverRelativeURL: `/openapi/v3/${name}?hash=${docs.get(name)!.hash}` };
  return served(Buffer.from(JSON.stringify({ paths })), OPENAPI_JSON);
}

/** `GET /openapi/v3`: `{"paths": {"api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=<HASH>"}, ...}}`. */
export function openapiV3Index(custom?: CustomOpenAPISpecs): ServedDocument {
  if (!custom || custom.empty) {
    index ??= buildIndex(v3Served(undefined));
    return index;
  }
  const cache = customCache(custom);
  cache.index ??= buildIndex(v3Served(custom));
  return cache.index;
}

// ---------------------------------------------------------------------------
// Content negotiation

interface AcceptClause {
  type: string;
  subType: string;
  q: number;
}

/** Parses an Accept header and orders it as goautoneg does: by q, then by specificity. */
function parseAccept(accept: string | undefined): AcceptClause[] {
  const clauses: AcceptClause[] = [];
  for (const part of (accept?.trim() ? accept : "*/*").split(",")) {
    const [media, ...params] = part.split(";").map((x) => x.trim());
    if (!media) continue;
    const slash = media.indexOf("/");
    const type = slash < 0 ? media : media.slice(0, slash);
    const subType = slash < 0 ? "*" : media.slice(slash + 1);
    let q = 1;
    for (const p of params) {
      const m = /^q=([0-9.]+)$/.exec(p);
      if (m) q = Number(m[1]);
    }
    if (q > 0) clauses.push({ type, subType, q });
  }
  const specificity = (c: AcceptClause) => (c.type === "*" ? 0 : c.subType === "*" ? 1 : 2);
  return clauses
    .map((c, i) => ({ c, i }))
    .sort((a, b) => b.c.q - a.c.q || specificity(b.c) - specificity(a.c) || a.i - b.i)
    .map((x) => x.c);
}

function negotiate<T>(accept: string | undefined, offers: readonly (readonly [string, () => T])[]): T | undefined {
  for (const clause of parseAccept(accept)) {
    for (const [media, get] of offers) {
      const [type, subType] = media.split("/") as [string, string];
      if (clause.type !== type && clause.type !== "*") continue;
      if (clause.subType !== subType && clause.subType !== "*") continue;
      return get();
    }
  }
  return undefined;
}

/**
 * The /openapi/v2 representation for an Accept header: JSON, or gnostic
 * protobuf for either protobuf media type; undefined means 406 Not Acceptable.
 */
export function negotiateOpenAPIV2(accept: string | undefined, version: string, custom?: CustomOpenAPISpecs): ServedDocument | undefined {
  return negotiate(accept, [
    ["application/json", () => openapiV2Json(version, custom)],
    [OPENAPI_V2_PROTOBUF_DEPRECATED, () => openapiV2Protobuf(version, custom)],
    [OPENAPI_V2_PROTOBUF, () => openapiV2Protobuf(version, custom)],
  ]);
}

/**
 * The /openapi/v3/<gv> representation for an Accept header. Only JSON is
 * served (clients, kubectl included, ask for JSON); `notAcceptable` for an
 * Accept that excludes JSON (e.g. only the v3 protobuf media type), which
 * skiff does not produce. undefined when the group-version is not served.
 */
export function negotiateOpenAPIV3(
  accept: string | undefined,
  groupVersionPath: string,
  custom?: CustomOpenAPISpecs,
): ServedDocument | "notAcceptable" | undefined {
  const doc = openapiV3Document(groupVersionPath, custom);
  if (!doc) return undefined;
  return negotiate(accept, [["application/json", () => doc]]) ?? "notAcceptable";
}
