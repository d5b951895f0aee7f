/**
 * The TokenRequest API, `POST /api/v1/namespaces/NS/serviceaccounts/NAME/token`
 * (authentication.k8s.io/v1 TokenRequest), as upstream's
 * pkg/registry/core/serviceaccount/storage/token.go: audiences default to
 * the API audiences, `expirationSeconds` to 3600 (at least 600, at most 2^32,
 * clamped to --service-account-max-token-expiration with a warning), the
 * token optionally bound to a Pod, Secret or Node (whose uid must match);
 * pod-bound tokens of the admission plugin's 3607 s are extended to a year
 * and warn after 3607 s (--service-account-extend-token-expiration).
 * Nothing is stored; the answer is 201 with the request and its status.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { BUILTIN_RESOURCES, type ResourceType } from "../../../api/resources.js";
import { goNumber, invalidValue } from "../../../machinery/field-errors.js";
import { badRequest, conflict, type FieldError, invalid, methodNotSupported, notFound } from "../../../machinery/status-error.js";
import type { AdmissionAttributes } from "../../admission/admission.js";
import { BUILTIN_MEDIA_TYPES, contentTypeOf, decodeObject, readBody, requireObject } from "../../http/body.js";
import { send } from "../../http/respond.js";
import { negotiate } from "../../negotiation.js";
import { rfc3339 } from "../../registry/object-store.js";
import type { KObject } from "../../registry/types.js";
import type { RequestInfo } from "../../request-info.js";
import type { UserInfo } from "../authn.js";
import { boundClaims, EXPIRATION_EXTENSION_SECONDS, WARN_ONLY_BOUND_TOKEN_EXPIRATION_SECONDS } from "./claims.js";
import type { TokenGenerator } from "./token-generator.js";
import type { ServiceAccountTokenGetter } from "./token-authenticator.js";

/** v1 defaulting of TokenRequestSpec.expirationSeconds. */
export const DEFAULT_EXPIRATION_SECONDS = 3600;
const MIN_EXPIRATION_SECONDS = 600;
const MAX_EXPIRATION_SECONDS = 2 ** 32;

/** Options of a {@link TokenRequestHandler}. */
export interface TokenRequestOptions {
  readonly generator: TokenGenerator;
  /** --api-audiences. */
  readonly apiAudiences: readonly string[];
  /** --service-account-max-token-expiration in seconds; 0 for none. */
  readonly maxExpirationSeconds: number;
  /** --service-account-extend-token-expiration (true by default upstream). */
  readonly extendExpiration: boolean;
  readonly now: () => number;
}

/** One TokenRequest call. */
export interface TokenRequestCall {
  readonly info: RequestInfo;
  readonly url: URL;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly user: UserInfo;
}

/** Runs validating admission for the request (NodeRestriction and friends), or nothing. */
export type TokenRequestAdmission = (attrs: AdmissionAttributes) => Promise<void>;

type Obj = Record<string, unknown>;
const str = (v: unknown): string => (typeof v === "string" ? v : "");
const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);

/** The core/v1 serviceaccounts resource the subresource hangs off, for admission. */
const SERVICE_ACCOUNTS_RESOURCE: ResourceType = BUILTIN_RESOURCES.find((r) => r.group === "" && r.plural === "serviceaccounts")!;

export class TokenRequestHandler {
  constructor(
    private readonly o: TokenRequestOptions,
    private readonly getter: ServiceAccountTokenGetter,
    private readonly admission?: TokenRequestAdmission,
  ) {}

  /** Whether `info` is `serviceaccounts/token`. */
  static handles(info: RequestInfo): boolean {
    return info.isResourceRequest && info.group === "" && info.version === "v1" && info.resource === "serviceaccounts" && info.subresource === "token";
  }

  async serve(c: TokenRequestCall): Promise<void> {
    const { info } = c;
    if (info.verb !== "create") throw methodNotSupported({ group: "", resource: "serviceaccounts/token" }, info.verb);
    const namespace = info.namespace;
    const name = info.name;
    // client-go 1.32+ sends built-in kinds as protobuf.
    const body = requireObject(decodeObject(await readBody(c.req), contentTypeOf(c.req), BUILTIN_MEDIA_TYPES)) as Obj;
    if (body.apiVersion !== undefined && body.apiVersion !== "authentication.k8s.io/v1") {
      throw badRequest(`the API version in the data (${String(body.apiVersion)}) does not match the expected API version (authentication.k8s.io/v1)`);
    }
    if (body.kind !== undefined && body.kind !== "TokenRequest") {
      throw badRequest(`the kind in the data (${String(body.kind)}) does not match the expected kind (TokenRequest)`);
    }
    const meta = isObj(body.metadata) ? body.metadata : {};
    const spec = isObj(body.spec) ? { ...body.spec } : {};
    if (str(meta.name) && meta.name !== name) {
      throw invalid("TokenRequest", "authentication.k8s.io", name, [invalidValue("metadata.name", { go: JSON.stringify(str(meta.name)) }, "must match the service account name if specified")]);
    }
    if (str(meta.namespace) && meta.namespace !== namespace) {
      throw invalid("TokenRequest", "authentication.k8s.io", name, [
        invalidValue("metadata.namespace", { go: JSON.stringify(str(meta.namespace)) }, "must match the service account namespace if specified"),
      ]);
    }
    const sa = await this.getter.getServiceAccount(namespace, name);
    if (!sa) throw notFound({ group: "", resource: "serviceaccounts" }, name);
    let audiences = Array.isArray(spec.audiences) ? spec.audiences.filter((a): a is string => typeof a === "string") : [];
    if (audiences.length === 0) audiences = [...this.o.apiAudiences];
    let expirationSeconds = spec.expirationSeconds === undefined || spec.expirationSeconds === null ? DEFAULT_EXPIRATION_SECONDS : Number(spec.expirationSeconds);
    if (!Number.isInteger(expirationSeconds)) throw badRequest(`spec.expirationSeconds: must be a whole number of seconds, not ${String(spec.expirationSeconds)}`);
    const now = this.o.now();
    const errs: FieldError[] = [];
    if (expirationSeconds < MIN_EXPIRATION_SECONDS) errs.push(invalidValue("spec.expirationSeconds", goNumber(expirationSeconds), "may not specify a duration less than 10 minutes"));
    if (expirationSeconds > MAX_EXPIRATION_SECONDS) errs.push(invalidValue("spec.expirationSeconds", goNumber(expirationSeconds), "may not specify a duration larger than 2^32 seconds"));
    if (errs.length > 0) throw invalid("TokenRequest", "authentication.k8s.io", "", errs);
    const request: Obj = {
      kind: "TokenRequest",
      apiVersion: "authentication.k8s.io/v1",
      metadata: { name: str(meta.name) || name, namespace: str(meta.namespace) || namespace, creationTimestamp: rfc3339(now) },
      spec: { ...spec, audiences, expirationSeconds, boundObjectRef: spec.boundObjectRef ?? null },
      status: {},
    };
    await this.admission?.({
      operation: "CREATE",
      resource: SERVICE_ACCOUNTS_RESOURCE,
      subresource: "token",
      namespace,
      name,
      object: request as KObject,
      user: c.user,
      dryRun: false,
    });
    const bound = await this.boundObject(namespace, name, spec.boundObjectRef);
    if (this.o.maxExpirationSeconds > 0 && expirationSeconds > this.o.maxExpirationSeconds) {
      c.res.setHeader("Warning", `299 - ${JSON.stringify(`requested expiration of ${expirationSeconds} seconds shortened to ${this.o.maxExpirationSeconds} seconds`)}`);
      expirationSeconds = this.o.maxExpirationSeconds;
      (request.spec as Obj).expirationSeconds = expirationSeconds;
    }
    let exp = expirationSeconds;
    let warnAfter = 0;
    const kubeAudiences = audiences.every((a) => this.o.apiAudiences.includes(a));
    if (this.o.extendExpiration && bound.pod && expirationSeconds === WARN_ONLY_BOUND_TOKEN_EXPIRATION_SECONDS && kubeAudiences) {
      warnAfter = exp;
      exp = EXPIRATION_EXTENSION_SECONDS;
    }
    const claims = boundClaims({
      serviceAccount: { namespace, name: sa.metadata?.name ?? name, uid: sa.metadata?.uid ?? "" },
      ...bound,
      expirationSeconds: exp,
      warnAfterSeconds: warnAfter,
      audiences,
      now,
    });
    const token = await this.o.generator.generate(claims);
    request.status = { token, expirationTimestamp: rfc3339(Math.floor(now / 1000) * 1000 + expirationSeconds * 1000) };
    send(c.res, 201, request, negotiate(c.req.headers.accept));
  }

  /** Resolves `spec.boundObjectRef` to the object's name and uid (and a pod's node). */
  private async boundObject(namespace: string, saName: string, ref: unknown): Promise<Pick<Parameters<typeof boundClaims>[0], "pod" | "secret" | "node">> {
    if (!isObj(ref)) return {};
    const apiVersion = str(ref.apiVersion);
    const kind = str(ref.kind);
    const refName = str(ref.name);
    const slash = apiVersion.indexOf("/");
    const group = slash >= 0 ? apiVersion.slice(0, slash) : "";
    const version = slash >= 0 ? apiVersion.slice(slash + 1) : apiVersion;
    let obj: KObject | undefined;
    let out: Pick<Parameters<typeof boundClaims>[0], "pod" | "secret" | "node">;
    if (group === "" && kind === "Pod") {
      obj = await this.getter.getPod(namespace, refName);
      if (!obj) throw notFound({ group: "", resource: "pods" }, refName);
      const podSa = str((obj.spec as Obj | undefined)?.serviceAccountName);
      if (podSa !== saName) throw badRequest(`cannot bind token for serviceaccount "${saName}" to pod running with different serviceaccount name.`);
      out = { pod: { name: refName, uid: obj.metadata?.uid ?? "" } };
      const nodeName = str((obj.spec as Obj | undefined)?.nodeName);
      if (nodeName) {
        // The node is extra information: a node not found leaves it out, as upstream.
        const node = await this.getter.getNode(nodeName).catch(() => undefined);
        if (node) out = { ...out, node: { name: nodeName, uid: node.metadata?.uid ?? "" } };
      }
    } else if (group === "" && kind === "Node") {
      obj = await this.getter.getNode(refName);
      if (!obj) throw notFound({ group: "", resource: "nodes" }, refName);
      out = { node: { name: refName, uid: obj.metadata?.uid ?? "" } };
    } else if (group === "" && kind === "Secret") {
      obj = await this.getter.getSecret(namespace, refName);
      if (!obj) throw notFound({ group: "", resource: "secrets" }, refName);
      out = { secret: { name: refName, uid: obj.metadata?.uid ?? "" } };
    } else {
      throw badRequest(`cannot bind token for serviceaccount "${saName}" to object of type ${group}/${version}, Kind=${kind}`);
    }
    const uid = str(ref.uid);
    if (uid && uid !== obj.metadata?.uid) {
      throw conflict(
        { group, resource: kind },
        refName,
        `the UID in the bound object reference (${uid}) does not match the UID in record. The object might have been deleted and then recreated`,
      );
    }
    return out;
  }
}
