/**
 * Parses a request path and method into what it asks for, as upstream's
 * RequestInfoFactory: `/api/v1/namespaces/ns/pods/name/status` →
 * {verb: "get", group: "", version: "v1", namespace: "ns", resource: "pods",
 * name: "name", subresource: "status"}.
 */

export interface RequestInfo {
  /** False for /healthz, /version, discovery roots and other non-resource paths. */
  readonly isResourceRequest: boolean;
  readonly path: string;
  /** Kubernetes verb: get, list, watch, create, update, patch, delete, deletecollection (or the HTTP verb lower-cased for non-resource paths). */
  readonly verb: string;
  readonly apiPrefix: "api" | "apis" | "";
  readonly group: string;
  readonly version: string;
  readonly namespace: string;
  readonly resource: string;
  readonly subresource: string;
  readonly name: string;
  /** Path segments after the group/version. */
  readonly parts: readonly string[];
}

function nonResource(path: string, method: string): RequestInfo {
  return {
    isResourceRequest: false,
    path,
    verb: method.toLowerCase(),
    apiPrefix: "",
    group: "",
    version: "",
    namespace: "",
    resource: "",
    subresource: "",
    name: "",
    parts: [],
  };
}

/** Interprets `method` and `url` (path plus query). */
export function parseRequestInfo(method: string, url: URL): RequestInfo {
  const path = url.pathname;
  const segs: string[] = [];
  for (const s of path.split("/")) {
    // Most segments have no escapes: decodeURIComponent only where one is.
    if (s !== "") segs.push(s.includes("%") ? decodeURIComponent(s) : s);
  }
  const prefix = segs[0];
  if (prefix !== "api" && prefix !== "apis") return nonResource(path, method);
  let rest = segs.slice(1);
  let group = "";
  if (prefix === "apis") {
    if (rest.length < 2) return nonResource(path, method);
    group = rest[0]!;
    rest = rest.slice(1);
  }
  if (rest.length < 1) return nonResource(path, method);
  const version = rest[0]!;
  let parts = rest.slice(1);
  if (parts.length === 0) return { ...nonResource(path, method), apiPrefix: prefix, group, version };

  let verb = method.toLowerCase();
  switch (method) {
    case "POST":
      verb = "create";
      break;
    case "GET":
    case "HEAD":
      verb = "get";
      break;
    case "PUT":
      verb = "update";
      break;
    case "PATCH":
      verb = "patch";
      break;
    case "DELETE":
      verb = "delete";
      break;
  }
  // The deprecated /watch/ path prefix.
  let watchPath = false;
  if (parts[0] === "watch") {
    watchPath = true;
    parts = parts.slice(1);
    verb = "watch";
  }
  let namespace = "";
  if (parts[0] === "namespaces" && parts.length > 1 && parts[2] !== "finalize" && parts[2] !== "status") {
    namespace = parts[1]!;
    if (parts.length > 2) parts = parts.slice(2);
    else parts = ["namespaces", namespace];
  } else if (parts[0] === "namespaces" && parts.length > 1) {
    // /namespaces/NAME/status and /finalize address the namespace itself.
    namespace = parts[1]!;
  }
  const resource = parts[0] ?? "";
  const name = parts[1] ?? "";
  const subresource = parts[2] ?? "";
  if (!watchPath && (verb === "get" || verb === "delete") && name === "") {
    verb = verb === "get" ? (url.searchParams.get("watch") === "true" || url.searchParams.get("watch") === "1" ? "watch" : "list") : "deletecollection";
  } else if (!watchPath && verb === "get" && (url.searchParams.get("watch") === "true" || url.searchParams.get("watch") === "1")) {
    // A watch on a single object is a watch with a name field selector.
    verb = "watch";
  }
  return { isResourceRequest: true, path, verb, apiPrefix: prefix, group, version, namespace, resource, subresource, name, parts };
}
