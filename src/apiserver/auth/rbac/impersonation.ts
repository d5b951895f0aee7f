/**
 * User impersonation, as upstream's WithImpersonation filter: the
 * `Impersonate-User`, `Impersonate-Group`, `Impersonate-Uid` and
 * `Impersonate-Extra-<key>` headers make the request act as another user,
 * once the requester is authorized to `impersonate` each of them:
 * `users`, `groups` and `serviceaccounts` (a `system:serviceaccount:NS:NAME`
 * user) in the core group, `userextras/<key>` and `uids` in
 * authentication.k8s.io. `kubectl --as` and `--as-group` send these.
 */
import type { IncomingMessage } from "node:http";
import { StatusError } from "../../../machinery/status-error.js";
import type { RequestInfo } from "../../request-info.js";
import type { UserInfo } from "../authn.js";
import { type Authorizer, forbiddenError } from "../authz.js";

const SA_PREFIX = "system:serviceaccount:";
const EXTRA_PREFIX = "impersonate-extra-";

interface Impersonation {
  readonly kind: "ServiceAccount" | "User" | "Group" | "UserExtra" | "UID";
  readonly name: string;
  readonly namespace?: string;
  readonly extraKey?: string;
}

function headerValues(req: IncomingMessage, name: string): string[] {
  const out: string[] = [];
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) if (raw[i]!.toLowerCase() === name) out.push(raw[i + 1]!);
  return out;
}

/** The impersonation requests of a request's headers, in upstream's order. */
function requestsOf(req: IncomingMessage): Impersonation[] {
  const out: Impersonation[] = [];
  const userName = headerValues(req, "impersonate-user")[0] ?? "";
  if (userName) {
    const parts = userName.startsWith(SA_PREFIX) ? userName.slice(SA_PREFIX.length).split(":") : [];
    if (parts.length === 2 && parts[0] && parts[1]) out.push({ kind: "ServiceAccount", namespace: parts[0], name: parts[1] });
    else out.push({ kind: "User", name: userName });
  }
  for (const g of headerValues(req, "impersonate-group")) out.push({ kind: "Group", name: g });
  const extraKeys = new Set<string>();
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const h = req.rawHeaders[i]!.toLowerCase();
    if (h.startsWith(EXTRA_PREFIX)) extraKeys.add(h);
  }
  for (const h of extraKeys) {
    // Keys are percent-escaped in the header name (upstream's unescapeExtraKey).
    let key = h.slice(EXTRA_PREFIX.length);
    try {
      key = decodeURIComponent(key);
    } catch {}
    for (const v of headerValues(req, h)) out.push({ kind: "UserExtra", name: v, extraKey: key });
  }
  const uid = headerValues(req, "impersonate-uid")[0] ?? "";
  if (uid) out.push({ kind: "UID", name: uid });
  return out;
}

function attributesFor(r: Impersonation): RequestInfo {
  const base = { isResourceRequest: true, path: "", verb: "impersonate", apiPrefix: "api" as const, version: "", subresource: "", parts: [] as string[] };
  switch (r.kind) {
    case "ServiceAccount":
      return { ...base, group: "", namespace: r.namespace!, resource: "serviceaccounts", name: r.name };
    case "User":
      return { ...base, group: "", namespace: "", resource: "users", name: r.name };
    case "Group":
      return { ...base, group: "", namespace: "", resource: "groups", name: r.name };
    case "UserExtra":
      return { ...base, apiPrefix: "apis", group: "authentication.k8s.io", namespace: "", resource: "userextras", subresource: r.extraKey!, name: r.name };
    case "UID":
      return { ...base, apiPrefix: "apis", group: "authentication.k8s.io", namespace: "", resource: "uids", name: r.name };
  }
}

/** Go's `%v` of the requests, for the error upstream returns when no user is impersonated. */
function describe(rs: readonly Impersonation[]): string {
  return `[${rs.map((r) => `{${r.kind} ${r.namespace ?? ""} ${r.name}${r.extraKey ? ` ${r.extraKey}` : ""}}`).join(" ")}]`;
}

/**
 * The user a request acts as: `requester` when it carries no impersonation
 * headers, else the impersonated user; throws 403 (upstream's message) when
 * the requester may not impersonate one of them.
 */
export async function impersonate(req: IncomingMessage, requester: UserInfo, authorizer: Authorizer): Promise<UserInfo> {
  if (!req.rawHeaders.some((h, i) => i % 2 === 0 && h.toLowerCase().startsWith("impersonate-"))) return requester;
  const requests = requestsOf(req);
  if (requests.length === 0) return requester;
  if (!requests.some((r) => r.kind === "User" || r.kind === "ServiceAccount")) {
    throw new StatusError({
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: `Internal error occurred: requested ${describe(requests)} without impersonating a user`,
      reason: "InternalError",
      details: { causes: [{ message: `requested ${describe(requests)} without impersonating a user` }] },
      code: 500,
    });
  }
  const groupsSpecified = requests.some((r) => r.kind === "Group");
  let username = "";
  let uid = "";
  let groups: string[] = [];
  const extra: Record<string, string[]> = {};
  for (const r of requests) {
    const attrs = attributesFor(r);
    const d = await authorizer.authorize(requester, attrs);
    if (d.decision !== "allow") throw forbiddenError(requester, attrs, d.reason);
    switch (r.kind) {
      case "ServiceAccount":
        username = `${SA_PREFIX}${r.namespace}:${r.name}`;
        if (!groupsSpecified) groups = ["system:serviceaccounts", `system:serviceaccounts:${r.namespace}`];
        break;
      case "User":
        username = r.name;
        break;
      case "Group":
        groups.push(r.name);
        break;
      case "UserExtra":
        (extra[r.extraKey!] ??= []).push(r.name);
        break;
      case "UID":
        uid = r.name;
        break;
    }
  }
  if (username !== "system:anonymous") {
    if (!groups.includes("system:authenticated") && !groups.includes("system:unauthenticated")) groups.push("system:authenticated");
  } else if (!groups.includes("system:unauthenticated")) groups.push("system:unauthenticated");
  return { username, groups, ...(uid ? { uid } : {}), ...(Object.keys(extra).length > 0 ? { extra } : {}) };
}
