/**
 * Who may use the kubelet API, as upstream's kubelet server decides it:
 * callers authenticate with a client certificate signed by the cluster's
 * client CA or a bearer token (checked by a {@link TokenAuthenticator}, the
 * API server's TokenReview in practice), and each request is authorized as
 * a `nodes/<subresource>` request on this node (a {@link KubeletAuthorizer},
 * the API server's SubjectAccessReview in practice). Anonymous requests are
 * refused, as with upstream's KubeletConfiguration default
 * `authentication.anonymous.enabled: false`.
 */
import type { IncomingMessage } from "node:http";
import type { TLSSocket } from "node:tls";

/** An authenticated caller (upstream's user.Info). */
export interface KubeletUser {
  readonly username: string;
  readonly uid?: string;
  readonly groups: readonly string[];
  readonly extra?: Readonly<Record<string, readonly string[]>>;
}

/** A token check's outcome: a user, a rejection (`user` undefined), or an error (the check itself failed). */
export type TokenResult = { readonly ok: true; readonly user?: KubeletUser } | { readonly ok: false; readonly error: string };

/** Checks bearer tokens (see webhook.ts for the TokenReview one). */
export interface TokenAuthenticator {
  authenticateToken(token: string): Promise<TokenResult>;
}

/** What a kubelet request asks for, as authorization attributes (upstream's nodeAuthorizerAttributesGetter). */
export interface KubeletRequestAttributes {
  readonly user: KubeletUser;
  /** get, create, update, patch, delete (from the HTTP method). */
  readonly verb: string;
  readonly apiGroup: "";
  readonly apiVersion: "v1";
  readonly resource: "nodes";
  /** proxy, stats, metrics, log, spec or checkpoint. */
  readonly subresource: string;
  /** This node's name. */
  readonly name: string;
  readonly path: string;
}

/** An authorization outcome; only `allow` lets the request through. `error`: the check itself failed. */
export type KubeletDecision =
  | { readonly decision: "allow" | "deny" | "no-opinion"; readonly reason?: string }
  | { readonly decision: "error"; readonly error: string };

/** Decides requests (see webhook.ts for the SubjectAccessReview one). */
export interface KubeletAuthorizer {
  authorize(attrs: KubeletRequestAttributes): Promise<KubeletDecision>;
}

const VERBS: Readonly<Record<string, string>> = { POST: "create", GET: "get", HEAD: "get", PUT: "update", PATCH: "patch", DELETE: "delete" };

/** Upstream's isSubpath: `path` is `prefix` or below it. */
function isSubpath(path: string, prefix: string): boolean {
  const p = prefix.replace(/\/$/, "");
  return path === p || path.startsWith(`${p}/`);
}

/** Upstream's kubelet mapping of a request path to `nodes/<subresource>`. */
export function subresourceOf(path: string): string {
  if (isSubpath(path, "/stats/")) return "stats";
  if (isSubpath(path, "/metrics")) return "metrics";
  if (isSubpath(path, "/logs/")) return "log";
  if (isSubpath(path, "/spec/")) return "spec";
  if (isSubpath(path, "/checkpoint/")) return "checkpoint";
  return "proxy";
}

/** The authorization attributes of a request by `user` to this node's kubelet. */
export function requestAttributes(user: KubeletUser, method: string, path: string, nodeName: string): KubeletRequestAttributes {
  return {
    user,
    verb: VERBS[method.toUpperCase()] ?? "",
    apiGroup: "",
    apiVersion: "v1",
    resource: "nodes",
    subresource: subresourceOf(path),
    name: nodeName,
    path,
  };
}

/** Upstream's 403 body: `Forbidden (user=U, verb=V, resource=nodes, subresource=S)`. */
export function forbiddenText(a: KubeletRequestAttributes): string {
  return `Forbidden (user=${a.user.username}, verb=${a.verb}, resource=${a.resource}, subresource=${a.subresource})`;
}

/** Upstream's 500 body when the authorizer failed. */
export function authorizationErrorText(a: KubeletRequestAttributes): string {
  return `Authorization error (user=${a.user.username}, verb=${a.verb}, resource=${a.resource}, subresource=${a.subresource})`;
}

/** The identity of each verified TLS connection, parsed once (keep-alive connections carry many requests). */
const bySocket = new WeakMap<TLSSocket, KubeletUser | null>();

/**
 * The caller's verified client certificate as a user (CN the name, each O a
 * group), or undefined without one. The TLS layer verified it against the
 * client CA (`socket.authorized`); an unverified certificate counts as none.
 */
export function certificateUser(req: IncomingMessage): KubeletUser | undefined {
  const socket = req.socket as TLSSocket;
  if (!socket.authorized || typeof socket.getPeerCertificate !== "function") return undefined;
  const known = bySocket.get(socket);
  if (known !== undefined) return known ?? undefined;
  const cert = socket.getPeerCertificate();
  const cn = cert?.subject?.CN;
  let user: KubeletUser | null = null;
  if (cn) {
    const o = cert.subject.O;
    user = { username: Array.isArray(cn) ? cn[0]! : cn, groups: o === undefined ? [] : Array.isArray(o) ? o : [o] };
  }
  bySocket.set(socket, user);
  return user ?? undefined;
}

/** The bearer token of a request, if any. */
export function bearerToken(req: IncomingMessage): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? "");
  return m?.[1];
}

/** Adds system:authenticated, as upstream's authenticator union does for every authenticated user. */
export function withAuthenticatedGroup(u: KubeletUser): KubeletUser {
  return u.groups.includes("system:authenticated") ? u : { ...u, groups: [...u.groups, "system:authenticated"] };
}
