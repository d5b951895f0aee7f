/**
 * The review APIs, answered from the server's own authenticator and
 * authorizer chains as upstream's registries do (nothing is stored):
 * - authentication.k8s.io/v1 `tokenreviews`: who a bearer token is
 *   (kubelets' webhook authentication asks this);
 * - authentication.k8s.io/v1 `selfsubjectreviews`: who the caller is
 *   (`kubectl auth whoami`);
 * - authorization.k8s.io/v1 `subjectaccessreviews` and the namespaced
 *   `localsubjectaccessreviews`: may a user do something (kubelets'
 *   webhook authorization asks this);
 * - authorization.k8s.io/v1 `selfsubjectaccessreviews`: may the caller
 *   (`kubectl auth can-i`);
 * - authorization.k8s.io/v1 `selfsubjectrulesreviews`: what the caller may
 *   do in a namespace (`kubectl auth can-i --list`).
 * Bodies are validated as upstream's (422 with upstream's field messages)
 * and answered 201 with the object and its status.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { PolicyRule } from "kubernetes-types/rbac/v1.js";
import type { ResourceType } from "../../api/resources.js";
import { goNull, goString, invalidValue } from "../../machinery/field-errors.js";
import { badRequest, type FieldError, invalid, methodNotSupported } from "../../machinery/status-error.js";
import { decideUnknownFields, fieldValidationOf } from "../field-validation.js";
import { BUILTIN_MEDIA_TYPES, contentTypeOf, decodeObject, readBody, requireObject } from "../http/body.js";
import { send } from "../http/respond.js";
import { negotiate } from "../negotiation.js";
import type { RequestInfo } from "../request-info.js";
import type { Authenticator, UserInfo } from "./authn.js";
import type { Authorizer, RuleResolver } from "./authz.js";

/** Upstream's --api-audiences default with the default service account issuer. */
export const DEFAULT_API_AUDIENCES: readonly string[] = ["https://kubernetes.default.svc.cluster.local"];

function review(group: string, kind: string, plural: string, namespaced = false): ResourceType {
  const pkg = group === "authentication.k8s.io" ? "authentication" : "authorization";
  return { group, version: "v1", kind, plural, singular: kind.toLowerCase(), namespaced, verbs: ["create"], definition: `io.k8s.api.${pkg}.v1.${kind}` };
}

/** The review resources, for discovery (create only; never stored). */
export const REVIEW_RESOURCES: readonly ResourceType[] = [
  review("authentication.k8s.io", "SelfSubjectReview", "selfsubjectreviews"),
  review("authentication.k8s.io", "TokenReview", "tokenreviews"),
  review("authorization.k8s.io", "LocalSubjectAccessReview", "localsubjectaccessreviews", true),
  review("authorization.k8s.io", "SelfSubjectAccessReview", "selfsubjectaccessreviews"),
  review("authorization.k8s.io", "SelfSubjectRulesReview", "selfsubjectrulesreviews"),
  review("authorization.k8s.io", "SubjectAccessReview", "subjectaccessreviews"),
];

/** What a {@link ReviewHandler} answers from. */
export interface ReviewHandlerOptions {
  readonly authenticator: Authenticator;
  readonly authorizer: Authorizer;
  /** The API server's own audiences (--api-audiences). */
  readonly apiAudiences?: readonly string[];
}

/** One review request. */
export interface ReviewRequest {
  readonly info: RequestInfo;
  readonly url: URL;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly user: UserInfo;
}

type Obj = Record<string, unknown>;

/** Known fields per kind, for fieldValidation (the generated definitions lack the review kinds). */
const RESOURCE_ATTRIBUTES = ["namespace", "verb", "group", "version", "resource", "subresource", "name", "fieldSelector", "labelSelector"];
const NON_RESOURCE_ATTRIBUTES = ["path", "verb"];
const SAR_SPEC = ["resourceAttributes", "nonResourceAttributes", "user", "groups", "extra", "uid"];

function unknownFields(kind: string, body: Obj): string[] {
  const out: string[] = [];
  const check = (v: unknown, allowed: readonly string[], path: string) => {
    if (!v || typeof v !== "object" || Array.isArray(v)) return;
    for (const k of Object.keys(v)) if (!allowed.includes(k)) out.push(path ? `${path}.${k}` : k);
  };
  check(body, ["apiVersion", "kind", "metadata", "spec", "status"], "");
  const spec = body.spec as Obj | undefined;
  if (kind === "TokenReview") check(spec, ["token", "audiences"], "spec");
  else if (kind === "SelfSubjectReview") check(spec, [], "spec");
  else if (kind === "SelfSubjectRulesReview") check(spec, ["namespace"], "spec");
  else {
    check(spec, kind === "SelfSubjectAccessReview" ? ["resourceAttributes", "nonResourceAttributes"] : SAR_SPEC, "spec");
    check(spec?.resourceAttributes, RESOURCE_ATTRIBUTES, "spec.resourceAttributes");
    check(spec?.nonResourceAttributes, NON_RESOURCE_ATTRIBUTES, "spec.nonResourceAttributes");
  }
  return out;
}

function str(v: unknown): string {
  return typeof v === "string" ? v : "";
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((s): s is string => typeof s === "string") : [];
}

/** Go's `%#v` of the internal NonResourceAttributes, as upstream's field error prints it. */
function goNonResource(v: Obj | undefined) {
  return v ? { go: `authorization.NonResourceAttributes{Path:${JSON.stringify(str(v.path))}, Verb:${JSON.stringify(str(v.verb))}}` } : goNull;
}

/** Upstream's ValidateSubjectAccessReviewSpec (the self variant skips the user check). */
function validateSpec(spec: Obj, self: boolean): FieldError[] {
  const errs: FieldError[] = [];
  const ra = spec.resourceAttributes as Obj | undefined;
  const nra = spec.nonResourceAttributes as Obj | undefined;
  if (ra && nra) errs.push(invalidValue("spec.nonResourceAttributes", goNonResource(nra), "cannot be specified in combination with resourceAttributes"));
  if (!ra && !nra) errs.push(invalidValue("spec.resourceAttributes", goNull, "exactly one of nonResourceAttributes or resourceAttributes must be specified"));
  if (!self && !str(spec.user) && strings(spec.groups).length === 0) errs.push(invalidValue("spec.user", goString(str(spec.user)), "at least one of user or group must be specified"));
  return errs;
}

/** Whether metadata is empty but for what upstream tolerates (managedFields; the namespace of a local review). */
function metadataEmpty(meta: unknown, allowNamespace: boolean): boolean {
  if (meta === undefined || meta === null) return true;
  if (typeof meta !== "object") return false;
  return Object.entries(meta as Obj).every(([k, v]) => k === "managedFields" || (allowNamespace && k === "namespace") || v === null || v === "" || (k === "creationTimestamp" && v === null));
}

/** Upstream's authorizationutil.ResourceAttributesFrom / NonResourceAttributesFrom, as this server's RequestInfo. */
export function attributesOf(spec: Obj, namespaceOverride?: string): RequestInfo {
  const ra = spec.resourceAttributes as Obj | undefined;
  if (ra) {
    const group = str(ra.group);
    return {
      isResourceRequest: true,
      path: "",
      verb: str(ra.verb),
      apiPrefix: group ? "apis" : "api",
      group,
      // An empty version matches every version, as upstream's "*".
      version: str(ra.version) || "*",
      namespace: namespaceOverride ?? str(ra.namespace),
      resource: str(ra.resource),
      subresource: str(ra.subresource),
      name: str(ra.name),
      parts: [],
    };
  }
  const nra = (spec.nonResourceAttributes ?? {}) as Obj;
  return { isResourceRequest: false, path: str(nra.path), verb: str(nra.verb), apiPrefix: "", group: "", version: "", namespace: "", resource: "", subresource: "", name: "", parts: [] };
}

/** The response body: what was posted, typed, with `status`. */
function answer(kind: string, group: string, body: Obj, status: Obj): Obj {
  const meta = (body.metadata && typeof body.metadata === "object" ? body.metadata : {}) as Obj;
  return { kind, apiVersion: `${group}/v1`, metadata: { ...meta, creationTimestamp: meta.creationTimestamp ?? null }, spec: body.spec ?? {}, status };
}

/** Serves the review resources; see the module comment. */
export class ReviewHandler {
  constructor(private readonly o: ReviewHandlerOptions) {}

  /** Whether `info` is a review request. */
  handles(info: RequestInfo): boolean {
    return info.isResourceRequest && info.version === "v1" && !info.subresource && REVIEW_RESOURCES.some((r) => r.group === info.group && r.plural === info.resource);
  }

  async serve(r: ReviewRequest): Promise<void> {
    const { info } = r;
    const resource = REVIEW_RESOURCES.find((x) => x.group === info.group && x.plural === info.resource)!;
    if (info.verb !== "create" || info.name) throw methodNotSupported({ group: resource.group, resource: resource.plural }, info.verb);
    if (resource.namespaced && !info.namespace) {
      throw badRequest("the server could not find the requested resource: a namespaced resource is created under /namespaces/NAMESPACE/");
    }
    const rendering = negotiate(r.req.headers.accept);
    const body = requireObject(decodeObject(await readBody(r.req), contentTypeOf(r.req), BUILTIN_MEDIA_TYPES)) as Obj;
    const apiVersion = `${resource.group}/v1`;
    if (body.apiVersion !== undefined && body.apiVersion !== apiVersion) {
      throw badRequest(`the API version in the data (${String(body.apiVersion)}) does not match the expected API version (${apiVersion})`);
    }
    if (body.kind !== undefined && body.kind !== resource.kind) {
      throw badRequest(`the kind in the data (${String(body.kind)}) does not match the expected kind (${resource.kind})`);
    }
    const warnings = decideUnknownFields(unknownFields(resource.kind, body), resource.kind, "v1", fieldValidationOf(r.url));
    if (warnings.length > 0) r.res.setHeader("Warning", warnings.map((w) => `299 - ${JSON.stringify(w)}`));
    let out: Obj;
    switch (resource.kind) {
      case "TokenReview":
        out = await this.tokenReview(body);
        break;
      case "SelfSubjectReview":
        out = answer(resource.kind, resource.group, { metadata: body.metadata }, { userInfo: userInfoJson(r.user) });
        delete out.spec;
        break;
      case "SelfSubjectRulesReview":
        out = this.rulesReview(body, r.user);
        break;
      case "SelfSubjectAccessReview":
        out = await this.accessReview(resource, body, r.user, { self: true });
        break;
      case "LocalSubjectAccessReview":
        out = await this.accessReview(resource, body, undefined, { namespace: info.namespace });
        break;
      default:
        out = await this.accessReview(resource, body, undefined, {});
    }
    send(r.res, 201, out, rendering.kind === "yaml" ? rendering : undefined);
  }

  /** Upstream's tokenreview REST Create. */
  private async tokenReview(body: Obj): Promise<Obj> {
    const spec = (body.spec ?? {}) as Obj;
    const meta = body.metadata as Obj | undefined;
    if (meta && str(meta.namespace)) throw badRequest(`namespace is not allowed on this type: ${str(meta.namespace)}`);
    const token = str(spec.token);
    if (!token) throw badRequest("token is required for TokenReview in authentication");
    const requested = strings(spec.audiences);
    const implicit = this.o.apiAudiences ?? DEFAULT_API_AUDIENCES;
    const auds = requested.length > 0 ? requested : [...implicit];
    // This server's authenticators are audience-agnostic: a token is good for the API's own audiences
    // only, so a review for other audiences fails (upstream's WrapAudienceAgnosticRequest).
    const granted = implicit.filter((a) => auds.includes(a));
    let user: UserInfo | undefined;
    if (granted.length > 0) user = await this.o.authenticator.authenticate(tokenOnlyRequest(token));
    const status: Obj = { user: user ? userInfoJson(user) : {} };
    if (user) {
      status.authenticated = true;
      status.audiences = granted;
    }
    return answer("TokenReview", "authentication.k8s.io", body, status);
  }

  /** Upstream's selfsubjectrulesreview REST Create: the answer carries only the status. */
  private rulesReview(body: Obj, user: UserInfo): Obj {
    const namespace = str(((body.spec ?? {}) as Obj).namespace);
    if (!namespace) throw badRequest("no namespace on request");
    const resolver = this.o.authorizer as Partial<RuleResolver>;
    const resolved = typeof resolver.rulesFor === "function" ? resolver.rulesFor(user, namespace) : { rules: [], incomplete: true, error: "the authorizer cannot list rules" };
    const status: Obj = { ...rulesStatus(resolved.rules), incomplete: resolved.incomplete };
    if (resolved.error) status.evaluationError = resolved.error;
    return { kind: "SelfSubjectRulesReview", apiVersion: "authorization.k8s.io/v1", metadata: { creationTimestamp: null }, spec: {}, status };
  }

  /** Upstream's (self, local) subjectaccessreview REST Create. */
  private async accessReview(resource: ResourceType, body: Obj, self: UserInfo | undefined, opts: { self?: boolean; namespace?: string }): Promise<Obj> {
    const spec = (body.spec ?? {}) as Obj;
    const errs = validateSpec(spec, !!opts.self);
    const meta = body.metadata as Obj | undefined;
    if (opts.namespace !== undefined) {
      const metaNs = str(meta?.namespace);
      if (metaNs && metaNs !== opts.namespace) throw badRequest("the namespace of the provided object does not match the namespace sent on the request");
      if (!metadataEmpty(meta, true)) errs.push(invalidValue("metadata", { go: "metav1.ObjectMeta{...}" }, "must be empty except for namespace"));
      const ra = spec.resourceAttributes as Obj | undefined;
      if (ra && str(ra.namespace) !== opts.namespace) errs.push(invalidValue("spec.resourceAttributes.namespace", goString(str(ra.namespace)), "must match metadata.namespace"));
      if (spec.nonResourceAttributes) errs.push(invalidValue("spec.nonResourceAttributes", goNonResource(spec.nonResourceAttributes as Obj), "disallowed on this kind of request"));
    } else if (!metadataEmpty(meta, false)) {
      errs.push(invalidValue("metadata", { go: "metav1.ObjectMeta{...}" }, "must be empty"));
    }
    if (errs.length > 0) throw invalid(resource.kind, resource.group, "", errs);
    const user: UserInfo = self ?? {
      username: str(spec.user),
      ...(str(spec.uid) ? { uid: str(spec.uid) } : {}),
      groups: strings(spec.groups),
      ...(spec.extra && typeof spec.extra === "object" ? { extra: spec.extra as Record<string, string[]> } : {}),
    };
    let decision: "allow" | "deny" | "no-opinion";
    let reason = "";
    let evaluationError = "";
    try {
      const d = await this.o.authorizer.authorize(user, attributesOf(spec));
      decision = d.decision;
      reason = d.reason ?? "";
    } catch (err) {
      decision = "no-opinion";
      evaluationError = (err as Error).message;
    }
    const status: Obj = { allowed: decision === "allow" };
    if (decision === "deny") status.denied = true;
    if (reason) status.reason = reason;
    if (evaluationError) status.evaluationError = evaluationError;
    const out = answer(resource.kind, resource.group, body, status);
    if (opts.namespace !== undefined) (out.metadata as Obj).namespace = opts.namespace;
    return out;
  }
}

/** authorization/v1 ResourceRule and NonResourceRule lists of policy rules (upstream's getResourceRules/getNonResourceRules). */
function rulesStatus(rules: readonly PolicyRule[]): { resourceRules: Obj[]; nonResourceRules: Obj[] } {
  const resourceRules: Obj[] = [];
  const nonResourceRules: Obj[] = [];
  for (const r of rules) {
    if (r.resources?.length) {
      resourceRules.push({
        verbs: [...r.verbs],
        ...(r.apiGroups?.length ? { apiGroups: [...r.apiGroups] } : {}),
        resources: [...r.resources],
        ...(r.resourceNames?.length ? { resourceNames: [...r.resourceNames] } : {}),
      });
    }
    if (r.nonResourceURLs?.length) nonResourceRules.push({ verbs: [...r.verbs], nonResourceURLs: [...r.nonResourceURLs] });
  }
  return { resourceRules, nonResourceRules };
}

/** authentication/v1 UserInfo as JSON (empty fields left out, as omitempty does). */
function userInfoJson(u: UserInfo): Obj {
  return {
    username: u.username,
    ...(u.uid ? { uid: u.uid } : {}),
    ...(u.groups.length > 0 ? { groups: [...u.groups] } : {}),
    ...(u.extra && Object.keys(u.extra).length > 0 ? { extra: u.extra } : {}),
  };
}

/** A request carrying nothing but the token, as upstream's TokenReview builds one for the authenticator chain. */
function tokenOnlyRequest(token: string): IncomingMessage {
  return { headers: { authorization: `Bearer ${token}` }, rawHeaders: ["Authorization", `Bearer ${token}`], socket: {} } as unknown as IncomingMessage;
}
