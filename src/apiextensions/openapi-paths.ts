/**
 * The REST operations upstream publishes for one served CRD version
 * (apiextensions-apiserver pkg/controller/openapi/builder `generateBuilder`
 * and `buildRoute`, rendered by kube-openapi): list (plus list across
 * namespaces), create and deletecollection on the collection; read, replace,
 * delete and patch on an object; read/replace/patch of `status` and `scale`
 * when those subresources are enabled. Watching is the list operation's
 * `watch` parameter: upstream publishes no `/watch/` paths for custom
 * resources.
 *
 * As kube-openapi does, parameters every operation of a path shares become
 * the path's parameters; the rest stay on the operation; both sorted by name.
 */
import {
  CREATE_PARAMS,
  DELETE_PARAMS,
  LIST_PARAMS,
  NAMESPACE_PATH,
  namePath,
  PATCH_PARAMS,
  PRETTY,
  type Param,
  RESOURCE_VERSION,
  UPDATE_PARAMS,
} from "../api/openapi/parameters.js";
import type { GVK, Method, Operation, PathItem, Response } from "../api/openapi/paths.js";

const META = "io.k8s.apimachinery.pkg.apis.meta.v1";
const STATUS = `${META}.Status`;
const PATCH = `${META}.Patch`;
const DELETE_OPTIONS = `${META}.DeleteOptions`;
const SCALE = "io.k8s.api.autoscaling.v1.Scale";

const JSON_YAML = ["application/json", "application/yaml"];
/** Custom resources take no strategic merge patch. */
const PATCH_TYPES = ["application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml"];

/** What the paths are built from: the CRD's names and this version's subresources. */
export interface CustomResourcePathsInput {
  readonly group: string;
  readonly version: string;
  readonly kind: string;
  readonly listKind: string;
  readonly plural: string;
  readonly namespaced: boolean;
  readonly status: boolean;
  readonly scale: boolean;
  /** Definition names of the kind and its list (`com.example.v1.Widget`, `...WidgetList`). */
  readonly definition: string;
  readonly listDefinition: string;
}

/** apiserver's `ToValidOperationID`: letters (and later digits, `_`) kept, anything else capitalizes the next. */
export function toValidOperationID(s: string, capitalizeFirstLetter: boolean): string {
  let out = "";
  let capitalize = capitalizeFirstLetter;
  [...s].forEach((r, i) => {
    if (/\p{L}/u.test(r) || r === "_" || (i !== 0 && /\p{Nd}/u.test(r))) {
      out += capitalize ? r.toUpperCase() : r;
      capitalize = false;
    } else capitalize = true;
  });
  return out;
}

/** The verbs apiserver's `GetOperationIDAndTags` recognizes; the shortest one prefixing the operation wins. */
const VERBS = ["get", "log", "read", "replace", "patch", "delete", "deletecollection", "watch", "connect", "proxy", "list", "create"];

/** apiserver's `GetOperationIDAndTags`: "listExampleComV1NamespacedWidget" and tag "exampleCom_v1". */
export function operationIdAndTag(operation: string, path: string): { operationId: string; tag: string } {
  let prefix = VERBS.filter((v) => operation.startsWith(v)).sort((a, b) => a.length - b.length)[0];
  if (!prefix) throw new Error(`openapi: operation ${operation} does not start with a verb`);
  const rest = operation.slice(prefix.length);
  const parts = path.replace(/^\/+|\/+$/g, "").split("/");
  const trimmed = parts[1]!.replace(/\.k8s\.io$/, "");
  prefix += toValidOperationID(trimmed, true);
  let tag = toValidOperationID(trimmed, false);
  if (parts.length > 2) {
    prefix += toValidOperationID(parts[2]!, true);
    tag += `_${toValidOperationID(parts[2]!, false)}`;
  }
  return { operationId: prefix + toValidOperationID(rest, true), tag };
}

/** apiserver's `GetArticleForNoun` with " " padding: " a ", " an ", or " " for plurals. */
function article(noun: string): string {
  if (!noun.endsWith("ss") && noun.endsWith("s")) return " ";
  return /^[aeiou]/i.test(noun) ? " an " : " a ";
}

/** The builder's `descriptionFor`. */
function describe(kind: string, sub: string, verb: string): string {
  const of = sub ? ` ${sub} of` : "";
  switch (verb) {
    case "list":
      return `list${of} objects of kind ${kind}`;
    case "read":
    case "replace":
      return `${verb}${of} the specified ${kind}`;
    case "patch":
      return `partially update${of} the specified ${kind}`;
    case "deletecollection":
      return `delete collection of${sub ? `${of} a` : ""} ${kind}`;
    default:
      return `${verb}${of}${article(kind)}${kind}`;
  }
}

interface Route {
  readonly path: string;
  readonly method: Method;
  readonly operation: Operation;
}

function byName(a: Param, b: Param): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : a.in < b.in ? -1 : a.in > b.in ? 1 : 0;
}

/** The paths of one served custom resource version, sorted by path. */
export function customResourcePaths(r: CustomResourcePathsInput): PathItem[] {
  const gvk: GVK = { group: r.group, version: r.version, kind: r.kind };
  const document = `apis/${r.group}/${r.version}`;
  const ns = r.namespaced ? "Namespaced" : "";
  const clusterRoot = `/apis/${r.group}/${r.version}/${r.plural}`;
  const root = r.namespaced ? `/apis/${r.group}/${r.version}/namespaces/{namespace}/${r.plural}` : clusterRoot;
  const routes: Route[] = [];

  const route = (
    base: string,
    sub: "" | "/{name}" | "/{name}/status" | "/{name}/scale",
    method: Method,
    action: string,
    verb: string,
    sample: string,
    opts: { body?: string; bodyOptional?: boolean; operation?: string } = {},
  ): void => {
    const path = base + sub;
    const subresource = sub.split("/")[2] ?? "";
    const operation = opts.operation ?? `${verb}${ns}${r.kind}${subresource ? subresource.charAt(0).toUpperCase() + subresource.slice(1) : ""}`;
    const { operationId, tag } = operationIdAndTag(operation, path);
    const params: Param[] = [PRETTY];
    if (path.includes("{namespace}")) params.push(NAMESPACE_PATH);
    if (path.includes("{name}")) params.push(namePath(r.kind));
    switch (action) {
      case "get":
        params.push(RESOURCE_VERSION);
        break;
      case "list":
      case "deletecollection":
        params.push(...LIST_PARAMS);
        break;
      case "put":
        params.push(...UPDATE_PARAMS);
        break;
      case "patch":
        params.push(...PATCH_PARAMS);
        break;
      case "post":
        params.push(...CREATE_PARAMS);
        break;
      case "delete":
        params.push(...DELETE_PARAMS);
        break;
    }
    const responses: Response[] = [{ code: "200", description: "OK", payload: { ref: sample } }];
    if (action === "post") {
      responses.push({ code: "201", description: "Created", payload: { ref: sample } }, { code: "202", description: "Accepted", payload: { ref: sample } });
    } else if (action === "put") {
      responses.push({ code: "201", description: "Created", payload: { ref: sample } });
    } else if (action === "delete") {
      responses.push({ code: "202", description: "Accepted", payload: { ref: sample } });
    }
    responses.push({ code: "401", description: "Unauthorized" });
    routes.push({
      path,
      method,
      operation: {
        method,
        operationId,
        description: describe(r.kind, subresource, verb),
        tag,
        action,
        gvk,
        params,
        ...(opts.body ? { body: opts.body } : {}),
        ...(opts.bodyOptional ? { bodyOptional: true } : {}),
        consumes: method === "patch" ? PATCH_TYPES : JSON_YAML,
        produces: JSON_YAML,
        responses,
      },
    });
  };

  if (r.namespaced) route(clusterRoot, "", "get", "list", "list", r.listDefinition, { operation: `list${r.kind}ForAllNamespaces` });
  route(root, "", "get", "list", "list", r.listDefinition);
  route(root, "", "post", "post", "create", r.definition, { body: r.definition });
  route(root, "", "delete", "deletecollection", "deletecollection", STATUS);
  route(root, "/{name}", "get", "get", "read", r.definition);
  route(root, "/{name}", "put", "put", "replace", r.definition, { body: r.definition });
  route(root, "/{name}", "delete", "delete", "delete", STATUS, { body: DELETE_OPTIONS, bodyOptional: true });
  route(root, "/{name}", "patch", "patch", "patch", r.definition, { body: PATCH });
  if (r.status) {
    route(root, "/{name}/status", "get", "get", "read", r.definition);
    route(root, "/{name}/status", "put", "put", "replace", r.definition, { body: r.definition });
    route(root, "/{name}/status", "patch", "patch", "patch", r.definition, { body: PATCH });
  }
  if (r.scale) {
    route(root, "/{name}/scale", "get", "get", "read", SCALE);
    route(root, "/{name}/scale", "put", "put", "replace", SCALE, { body: SCALE });
    route(root, "/{name}/scale", "patch", "patch", "patch", SCALE, { body: PATCH });
  }

  const byPath = new Map<string, Route[]>();
  for (const rt of routes) byPath.set(rt.path, [...(byPath.get(rt.path) ?? []), rt]);
  const items: PathItem[] = [];
  for (const [path, rts] of byPath) {
    // kube-openapi's findCommonParameters: what every operation of the path takes moves up to the path.
    const key = (p: Param) => `${p.in}/${p.name}`;
    const common = rts[0]!.operation.params.filter((p) => rts.every((rt) => rt.operation.params.some((q) => key(q) === key(p))));
    const commonKeys = new Set(common.map(key));
    items.push({
      path,
      document,
      params: [...common].sort(byName),
      operations: rts.map((rt) => ({ ...rt.operation, params: rt.operation.params.filter((p) => !commonKeys.has(key(p))).sort(byName) })),
    });
  }
  return items.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
