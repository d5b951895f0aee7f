/**
 * The REST operations kube-apiserver publishes in OpenAPI for the resources
 * skiff serves (src/api/resources.ts), in a protocol-neutral model that
 * documents.ts renders as OpenAPI v2 and v3. Paths, operation ids, tags,
 * `x-kubernetes-action` values, parameters, content types and responses
 * follow upstream's API installer.
 */
import { BUILTIN_RESOURCES, type ResourceType, type Subresource } from "../resources.js";
import {
  CREATE_PARAMS,
  DELETE_COLLECTION_PARAMS,
  DELETE_PARAMS,
  LIST_PARAMS,
  NAMESPACE_PATH,
  namePath,
  PATCH_PARAMS,
  POD_ATTACH_PARAMS,
  POD_EXEC_PARAMS,
  POD_LOG_PARAMS,
  POD_PORTFORWARD_PARAMS,
  PRETTY,
  type Param,
  PROXY_PATH_PATH,
  proxyPathQuery,
  UPDATE_PARAMS,
} from "./parameters.js";

export type Method = "get" | "put" | "post" | "delete" | "patch" | "head" | "options";

export interface GVK {
  readonly group: string;
  readonly version: string;
  readonly kind: string;
}

/** What a response or request body carries: a definition, or a plain string (logs, streams). */
export type Payload = { readonly ref: string } | { readonly type: "string" };

export interface Response {
  readonly code: string;
  readonly description: string;
  readonly payload?: Payload;
}

export interface Operation {
  readonly method: Method;
  readonly operationId: string;
  readonly description: string;
  readonly tag: string;
  /** `x-kubernetes-action`. */
  readonly action?: string;
  /** `x-kubernetes-group-version-kind`. */
  readonly gvk?: GVK;
  readonly params: readonly Param[];
  /** Request body (a definition name); PATCH bodies are `meta/v1.Patch`. */
  readonly body?: string;
  /** The body may be omitted (custom resources' DELETE, whose DeleteOptions upstream marks not required). */
  readonly bodyOptional?: boolean;
  readonly consumes: readonly string[];
  readonly produces: readonly string[];
  readonly responses: readonly Response[];
}

export interface PathItem {
  readonly path: string;
  /** Which /openapi/v3 document carries this path: "api/v1", "apis/apps/v1", "api", "apis", "apis/apps", "version". */
  readonly document: string;
  readonly params: readonly Param[];
  readonly operations: readonly Operation[];
}

const META = "io.k8s.apimachinery.pkg.apis.meta.v1";
const STATUS = `${META}.Status`;
const PATCH_BODY = `${META}.Patch`;
const DELETE_OPTIONS = `${META}.DeleteOptions`;
const WATCH_EVENT = `${META}.WatchEvent`;

const JSON_YAML_PB = ["application/json", "application/yaml", "application/vnd.kubernetes.protobuf"];
const STREAMING = [...JSON_YAML_PB, "application/json;stream=watch", "application/vnd.kubernetes.protobuf;stream=watch"];
const ANY = ["*/*"];
const PATCH_TYPES = [
  "application/json-patch+json",
  "application/merge-patch+json",
  "application/strategic-merge-patch+json",
  "application/apply-patch+yaml",
];

const UNAUTHORIZED: Response = { code: "401", description: "Unauthorized" };

function ok(ref: string): Response {
  return { code: "200", description: "OK", payload: { ref } };
}
function created(ref: string): Response {
  return { code: "201", description: "Created", payload: { ref } };
}
function accepted(ref: string): Response {
  return { code: "202", description: "Accepted", payload: { ref } };
}
const OK_STRING: Response = { code: "200", description: "OK", payload: { type: "string" } };

/** Upstream's tag for a group: "core", "apps", "rbacAuthorization", "apiextensions", ... */
export function groupTag(group: string): string {
  if (group === "") return "core";
  const parts = group.replace(/\.k8s\.io$/, "").split(".");
  return parts.map((p, i) => (i === 0 ? p : p.charAt(0).toUpperCase() + p.slice(1))).join("");
}

function cap(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** The /openapi/v3 document name of a group-version: "api/v1", "apis/apps/v1". */
export function groupVersionDocument(group: string, version: string): string {
  return group === "" ? `api/${version}` : `apis/${group}/${version}`;
}

/** Definition name of a kind of another group-version (Scale, Eviction, TokenRequest, Binding). */
function definitionOf(gvk: GVK): string {
  const pkg = gvk.group === "" ? "core" : gvk.group.split(".")[0];
  return `io.k8s.api.${pkg}.${gvk.version}.${gvk.kind}`;
}

/** Bodies of `create` subresources whose kind resources.ts does not name. */
const CREATE_SUBRESOURCE_KINDS: Record<string, GVK> = {
  binding: { group: "", version: "v1", kind: "Binding" },
  token: { group: "authentication.k8s.io", version: "v1", kind: "TokenRequest" },
};

/** Kinds of the options objects connect subresources take (upstream's `x-kubernetes-group-version-kind`). */
const CONNECT_KINDS: Record<string, string> = {
  attach: "PodAttachOptions",
  exec: "PodExecOptions",
  portforward: "PodPortForwardOptions",
};

const CONNECT_METHODS: Record<string, readonly Method[]> = {
  create: ["post"],
  get: ["get"],
  delete: ["delete"],
  patch: ["patch"],
  update: ["put"],
};

function resourcePaths(r: ResourceType): PathItem[] {
  const doc = groupVersionDocument(r.group, r.version);
  const prefix = r.group === "" ? `/api/${r.version}` : `/apis/${r.group}/${r.version}`;
  const tag = `${groupTag(r.group)}_${r.version}`;
  const opPrefix = `${cap(groupTag(r.group))}${cap(r.version)}`;
  const ns = r.namespaced ? "Namespaced" : "";
  const gvk: GVK = { group: r.group, version: r.version, kind: r.kind };
  const def = r.definition;
  const list = `${def}List`;
  const has = (v: string) => (r.verbs as readonly string[]).includes(v);
  const base = r.namespaced ? `${prefix}/namespaces/{namespace}/${r.plural}` : `${prefix}/${r.plural}`;
  const scopeParams = r.namespaced ? [NAMESPACE_PATH] : [];
  const nameParams = [namePath(r.kind), ...scopeParams];
  const items: PathItem[] = [];

  // The collection: list, create, deletecollection.
  const collectionOps: Operation[] = [];
  if (has("list")) {
    collectionOps.push({
      method: "get",
      operationId: `list${opPrefix}${ns}${r.kind}`,
      description: `list or watch objects of kind ${r.kind}`,
      tag,
      action: "list",
      gvk,
      params: LIST_PARAMS,
      consumes: ANY,
      produces: STREAMING,
      responses: [ok(list), UNAUTHORIZED],
    });
  }
  if (has("create")) {
    collectionOps.push({
      method: "post",
      operationId: `create${opPrefix}${ns}${r.kind}`,
      description: `create ${article(r.kind)} ${r.kind}`,
      tag,
      action: "post",
      gvk,
      params: CREATE_PARAMS,
      body: def,
      consumes: ANY,
      produces: JSON_YAML_PB,
      responses: [ok(def), created(def), accepted(def), UNAUTHORIZED],
    });
  }
  if (has("deletecollection")) {
    collectionOps.push({
      method: "delete",
      operationId: `delete${opPrefix}Collection${ns}${r.kind}`,
      description: `delete collection of ${r.kind}`,
      tag,
      action: "deletecollection",
      gvk,
      params: DELETE_COLLECTION_PARAMS,
      body: DELETE_OPTIONS,
      consumes: ANY,
      produces: JSON_YAML_PB,
      responses: [ok(STATUS), UNAUTHORIZED],
    });
  }
  if (collectionOps.length > 0) items.push({ path: base, document: doc, params: [...scopeParams, PRETTY], operations: collectionOps });

  // One object: read, replace, patch, delete.
  const itemOps: Operation[] = [];
  if (has("get")) {
    itemOps.push({
      method: "get",
      operationId: `read${opPrefix}${ns}${r.kind}`,
      description: `read the specified ${r.kind}`,
      tag,
      action: "get",
      gvk,
      params: [],
      consumes: ANY,
      produces: JSON_YAML_PB,
      responses: [ok(def), UNAUTHORIZED],
    });
  }
  if (has("update")) {
    itemOps.push({
      method: "put",
      operationId: `replace${opPrefix}${ns}${r.kind}`,
      description: `replace the specified ${r.kind}`,
      tag,
      action: "put",
      gvk,
      params: UPDATE_PARAMS,
      body: def,
      consumes: ANY,
      produces: JSON_YAML_PB,
      responses: [ok(def), created(def), UNAUTHORIZED],
    });
  }
  if (has("patch")) {
    itemOps.push({
      method: "patch",
      operationId: `patch${opPrefix}${ns}${r.kind}`,
      description: `partially update the specified ${r.kind}`,
      tag,
      action: "patch",
      gvk,
      params: PATCH_PARAMS,
      body: PATCH_BODY,
      consumes: PATCH_TYPES,
      produces: JSON_YAML_PB,
      responses: [ok(def), created(def), UNAUTHORIZED],
    });
  }
  if (has("delete")) {
    // Graceful deletion returns the object (pods); other resources return a Status.
    const deleted = r.kind === "Pod" ? def : STATUS;
    itemOps.push({
      method: "delete",
      operationId: `delete${opPrefix}${ns}${r.kind}`,
      description: `delete ${article(r.kind)} ${r.kind}`,
      tag,
      action: "delete",
      gvk,
      params: DELETE_PARAMS,
      body: DELETE_OPTIONS,
      consumes: ANY,
      produces: JSON_YAML_PB,
      responses: [ok(deleted), accepted(deleted), UNAUTHORIZED],
    });
  }
  if (itemOps.length > 0) items.push({ path: `${base}/{name}`, document: doc, params: [...nameParams, PRETTY], operations: itemOps });

  for (const sub of r.subresources ?? []) items.push(...subresourcePaths(r, sub, { doc, base, tag, opPrefix, ns, gvk, nameParams }));

  // Lists across namespaces, and the deprecated watch endpoints.
  if (r.namespaced && has("list")) {
    items.push({
      path: `${prefix}/${r.plural}`,
      document: doc,
      params: [...LIST_PARAMS, PRETTY].sort(byName),
      operations: [
        {
          method: "get",
          operationId: `list${opPrefix}${r.kind}ForAllNamespaces`,
          description: `list or watch objects of kind ${r.kind}`,
          tag,
          action: "list",
          gvk,
          params: [],
          consumes: ANY,
          produces: STREAMING,
          responses: [ok(list), UNAUTHORIZED],
        },
      ],
    });
  }
  if (has("watch")) {
    const watchBase = r.namespaced ? `${prefix}/watch/namespaces/{namespace}/${r.plural}` : `${prefix}/watch/${r.plural}`;
    const watchParams = (extra: Param[]) => [...LIST_PARAMS, PRETTY, ...extra].sort(byName);
    items.push({
      path: watchBase,
      document: doc,
      params: watchParams(scopeParams),
      operations: [
        {
          method: "get",
          operationId: `watch${opPrefix}${ns}${r.kind}List`,
          description: `watch individual changes to a list of ${r.kind}. deprecated: use the 'watch' parameter with a list operation instead.`,
          tag,
          action: "watchlist",
          gvk,
          params: [],
          consumes: ANY,
          produces: STREAMING,
          responses: [ok(WATCH_EVENT), UNAUTHORIZED],
        },
      ],
    });
    items.push({
      path: `${watchBase}/{name}`,
      document: doc,
      params: watchParams(nameParams),
      operations: [
        {
          method: "get",
          operationId: `watch${opPrefix}${ns}${r.kind}`,
          description: `watch changes to an object of kind ${r.kind}. deprecated: use the 'watch' parameter with a list operation instead, filtered to a single item with the 'fieldSelector' parameter.`,
          tag,
          action: "watch",
          gvk,
          params: [],
          consumes: ANY,
          produces: STREAMING,
          responses: [ok(WATCH_EVENT), UNAUTHORIZED],
        },
      ],
    });
    if (r.namespaced) {
      items.push({
        path: `${prefix}/watch/${r.plural}`,
        document: doc,
        params: watchParams([]),
        operations: [
          {
            method: "get",
            operationId: `watch${opPrefix}${r.kind}ListForAllNamespaces`,
            description: `watch individual changes to a list of ${r.kind}. deprecated: use the 'watch' parameter with a list operation instead.`,
            tag,
            action: "watchlist",
            gvk,
            params: [],
            consumes: ANY,
            produces: STREAMING,
            responses: [ok(WATCH_EVENT), UNAUTHORIZED],
          },
        ],
      });
    }
  }
  return items;
}

interface Ctx {
  doc: string;
  base: string;
  tag: string;
  opPrefix: string;
  ns: string;
  gvk: GVK;
  nameParams: Param[];
}

function subresourcePaths(r: ResourceType, sub: Subresource, c: Ctx): PathItem[] {
  const path = `${c.base}/{name}/${sub.name}`;
  const subCap = cap(sub.name);
  const verbs = new Set(sub.verbs);
  const params = [...c.nameParams, PRETTY];

  if (sub.name === "log") {
    return [
      {
        path,
        document: c.doc,
        params,
        operations: [
          {
            method: "get",
            operationId: `read${c.opPrefix}${c.ns}${r.kind}Log`,
            description: `read log of the specified ${r.kind}`,
            tag: c.tag,
            action: "get",
            gvk: c.gvk,
            params: POD_LOG_PARAMS,
            consumes: ANY,
            produces: ["text/plain", ...JSON_YAML_PB],
            responses: [OK_STRING, UNAUTHORIZED],
          },
        ],
      },
    ];
  }

  if (sub.name === "proxy" || CONNECT_KINDS[sub.name]) {
    const optionsKind = CONNECT_KINDS[sub.name] ?? `${r.kind}ProxyOptions`;
    const gvk: GVK = { group: "", version: "v1", kind: optionsKind };
    const methods: Method[] =
      sub.name === "proxy" ? ["delete", "get", "head", "options", "patch", "post", "put"] : sub.verbs.flatMap((v) => CONNECT_METHODS[v] ?? []);
    const query =
      sub.name === "exec"
        ? POD_EXEC_PARAMS
        : sub.name === "attach"
          ? POD_ATTACH_PARAMS
          : sub.name === "portforward"
            ? POD_PORTFORWARD_PARAMS
            : [proxyPathQuery(r.kind)];
    const connectOps = (withPath: boolean): Operation[] =>
      methods.map((m) => ({
        method: m,
        operationId: `connect${c.opPrefix}${cap(m)}${c.ns}${r.kind}${subCap}${withPath ? "WithPath" : ""}`,
        description: `connect ${m.toUpperCase()} requests to ${sub.name} of ${r.kind}`,
        tag: c.tag,
        action: "connect",
        gvk,
        params: withPath ? [] : query,
        consumes: ANY,
        produces: ANY,
        responses: [OK_STRING, UNAUTHORIZED],
      }));
    const items: PathItem[] = [{ path, document: c.doc, params: c.nameParams, operations: connectOps(false) }];
    if (sub.name === "proxy") {
      items.push({
        path: `${path}/{path}`,
        document: c.doc,
        params: [...c.nameParams, PROXY_PATH_PATH, query[0]!],
        operations: connectOps(true),
      });
    }
    return items;
  }

  if (verbs.has("create") && !verbs.has("get")) {
    const gvk = sub.kind ?? CREATE_SUBRESOURCE_KINDS[sub.name];
    if (!gvk) throw new Error(`openapi: no body kind known for ${r.plural}/${sub.name}`);
    const def = definitionOf(gvk);
    return [
      {
        path,
        document: c.doc,
        params: [...c.nameParams, PRETTY],
        operations: [
          {
            method: "post",
            operationId: `create${c.opPrefix}${c.ns}${r.kind}${subCap}`,
            description: `create ${sub.name} of ${article(r.kind)} ${r.kind}`,
            tag: c.tag,
            action: "post",
            gvk,
            params: CREATE_PARAMS,
            body: def,
            consumes: ANY,
            produces: JSON_YAML_PB,
            responses: [ok(def), created(def), accepted(def), UNAUTHORIZED],
          },
        ],
      },
    ];
  }

  // status, scale, ephemeralcontainers, finalize: the object (or Scale) itself.
  const gvk = sub.kind ?? c.gvk;
  const def = sub.kind ? definitionOf(sub.kind) : r.definition;
  const ops: Operation[] = [];
  if (verbs.has("get")) {
    ops.push({
      method: "get",
      operationId: `read${c.opPrefix}${c.ns}${r.kind}${subCap}`,
      description: `read ${sub.name} of the specified ${r.kind}`,
      tag: c.tag,
      action: "get",
      gvk,
      params: [],
      consumes: ANY,
      produces: JSON_YAML_PB,
      responses: [ok(def), UNAUTHORIZED],
    });
  }
  if (verbs.has("update")) {
    ops.push({
      method: "put",
      operationId: `replace${c.opPrefix}${c.ns}${r.kind}${subCap}`,
      description: `replace ${sub.name} of the specified ${r.kind}`,
      tag: c.tag,
      action: "put",
      gvk,
      params: UPDATE_PARAMS,
      body: def,
      consumes: ANY,
      produces: JSON_YAML_PB,
      responses: [ok(def), created(def), UNAUTHORIZED],
    });
  }
  if (verbs.has("patch")) {
    ops.push({
      method: "patch",
      operationId: `patch${c.opPrefix}${c.ns}${r.kind}${subCap}`,
      description: `partially update ${sub.name} of the specified ${r.kind}`,
      tag: c.tag,
      action: "patch",
      gvk,
      params: PATCH_PARAMS,
      body: PATCH_BODY,
      consumes: PATCH_TYPES,
      produces: JSON_YAML_PB,
      responses: [ok(def), created(def), UNAUTHORIZED],
    });
  }
  return ops.length > 0 ? [{ path, document: c.doc, params, operations: ops }] : [];
}

function article(kind: string): string {
  return /^[AEIOU]/.test(kind) ? "an" : "a";
}

function byName(a: Param, b: Param): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** Discovery and version endpoints, as upstream publishes them. */
function discoveryPaths(): PathItem[] {
  const items: PathItem[] = [];
  const discovery = (path: string, document: string, operationId: string, description: string, tag: string, ref: string): PathItem => ({
    path,
    document,
    params: [],
    operations: [
      {
        method: "get",
        operationId,
        description,
        tag,
        consumes: JSON_YAML_PB,
        produces: JSON_YAML_PB,
        params: [],
        responses: [ok(ref), UNAUTHORIZED],
      },
    ],
  });
  items.push(discovery("/api/", "api", "getCoreAPIVersions", "get available API versions", "core", `${META}.APIVersions`));
  items.push(discovery("/apis/", "apis", "getAPIVersions", "get available API versions", "apis", `${META}.APIGroupList`));
  const seenGroups = new Set<string>();
  const seenVersions = new Set<string>();
  for (const r of BUILTIN_RESOURCES) {
    const gv = groupVersionDocument(r.group, r.version);
    if (!seenVersions.has(gv)) {
      seenVersions.add(gv);
      const tag = `${groupTag(r.group)}_${r.version}`;
      items.push(
        discovery(`/${gv}/`, gv, `get${cap(groupTag(r.group))}${cap(r.version)}APIResources`, "get available resources", tag, `${META}.APIResourceList`),
      );
    }
    if (r.group !== "" && !seenGroups.has(r.group)) {
      seenGroups.add(r.group);
      items.push(
        discovery(`/apis/${r.group}/`, `apis/${r.group}`, `get${cap(groupTag(r.group))}APIGroup`, "get information of a group", groupTag(r.group), `${META}.APIGroup`),
      );
    }
  }
  items.push({
    path: "/version/",
    document: "version",
    params: [],
    operations: [
      {
        method: "get",
        operationId: "getCodeVersion",
        description: "get the code version",
        tag: "version",
        consumes: ["application/json"],
        produces: ["application/json"],
        params: [],
        responses: [ok("io.k8s.apimachinery.pkg.version.Info"), UNAUTHORIZED],
      },
    ],
  });
  return items;
}

let cached: readonly PathItem[] | undefined;

/** Every path skiff publishes, sorted by path. */
export function allPaths(): readonly PathItem[] {
  if (!cached) {
    const items = [...discoveryPaths(), ...BUILTIN_RESOURCES.flatMap(resourcePaths)];
    const seen = new Set<string>();
    for (const p of items) {
      if (seen.has(p.path)) throw new Error(`openapi: duplicate path ${p.path}`);
      seen.add(p.path);
    }
    cached = items.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }
  return cached;
}
