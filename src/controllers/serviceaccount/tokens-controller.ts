/**
 * The legacy token controller (`serviceaccount-token`), as upstream's
 * pkg/controller/serviceaccount/tokens_controller.go since 1.24 (no Secret
 * is made on its own any more): a Secret of type
 * `kubernetes.io/service-account-token` annotated
 * `kubernetes.io/service-account.name` gets `token` (a non-expiring legacy
 * JWT signed with --service-account-private-key-file), `ca.crt` and
 * `namespace`, and the ServiceAccount's uid annotation; a token Secret whose
 * ServiceAccount is gone (or has another uid) is deleted, as are the token
 * Secrets of a deleted ServiceAccount; a deleted token Secret is dropped
 * from its ServiceAccount's `secrets`.
 */
import type { Secret, ServiceAccount } from "kubernetes-types/core/v1.js";
import { readFileSync } from "node:fs";
import type { SharedInformer } from "../../client/informer.js";
import { ResourceClient } from "../../client/resource-client.js";
import { SECRETS, SERVICE_ACCOUNTS } from "../../client/resources.js";
import type { RestClient } from "../../client/rest-client.js";
import { WorkQueue } from "../../client/work-queue.js";
import { type Logger, silentLogger } from "../../machinery/log.js";
import { isConflict, isNotFound } from "../../machinery/status-error.js";
import { LEGACY_ISSUER, legacyClaims } from "../../apiserver/auth/serviceaccount/claims.js";
import { loadSigningKey } from "../../apiserver/auth/serviceaccount/keys.js";
import { jwtTokenGenerator, type TokenGenerator } from "../../apiserver/auth/serviceaccount/token-generator.js";
import type { Controller, ControllerContext } from "../manager.js";
import { runKeyedWorkers } from "./keyed-worker.js";
import { rootCaOf } from "./root-ca-publisher.js";

export const SERVICE_ACCOUNT_TOKEN_TYPE = "kubernetes.io/service-account-token";
export const SERVICE_ACCOUNT_NAME_KEY = "kubernetes.io/service-account.name";
export const SERVICE_ACCOUNT_UID_KEY = "kubernetes.io/service-account.uid";
/** upstream's --concurrent-serviceaccount-token-syncs default. */
export const DEFAULT_TOKEN_SYNCS = 5;

/** The calls the controller makes; {@link restTokensApi} for a real server. */
export interface TokensApi {
  getSecret(ns: string, name: string): Promise<Secret | undefined>;
  updateSecret(secret: Secret): Promise<void>;
  /** Deletes with a uid precondition. */
  deleteSecret(ns: string, name: string, uid: string): Promise<void>;
  getServiceAccount(ns: string, name: string): Promise<ServiceAccount | undefined>;
  updateServiceAccount(sa: ServiceAccount): Promise<void>;
}

async function orUndefined<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

export function restTokensApi(rest: RestClient): TokensApi {
  const secrets = new ResourceClient<Secret>(rest, SECRETS);
  const sas = new ResourceClient<ServiceAccount>(rest, SERVICE_ACCOUNTS);
  return {
    getSecret: (ns, name) => orUndefined(secrets.namespace(ns).get(name)),
    updateSecret: async (s) => {
      await secrets.namespace(s.metadata?.namespace ?? "").update(s);
    },
    deleteSecret: (ns, name, uid) => secrets.namespace(ns).delete(name, { preconditions: { uid } }),
    getServiceAccount: (ns, name) => orUndefined(sas.namespace(ns).get(name)),
    updateServiceAccount: async (sa) => {
      await sas.namespace(sa.metadata?.namespace ?? "").update(sa);
    },
  };
}

export interface TokensControllerOptions {
  readonly serviceAccounts: SharedInformer<ServiceAccount>;
  /** Secrets of the token type (a field-selected informer). */
  readonly secrets: SharedInformer<Secret>;
  readonly api: TokensApi;
  /** Signs legacy tokens (issuer `kubernetes/serviceaccount`). */
  readonly generator: TokenGenerator;
  /** PEM put in `ca.crt`; empty leaves `ca.crt` alone. */
  readonly rootCA: string;
  readonly workers?: number;
  readonly logger?: Logger;
}

interface SaKey {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
}

interface SecretKey extends SaKey {
  readonly saName: string;
  readonly saUid: string;
}

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
const unb64 = (s: string | undefined) => (s ? Buffer.from(s, "base64").toString("utf8") : "");

export class TokensController implements Controller {
  readonly serviceAccountQueue = new WorkQueue<string>();
  readonly secretQueue = new WorkQueue<string>();
  private readonly log: Logger;

  constructor(private readonly o: TokensControllerOptions) {
    this.log = o.logger ?? silentLogger;
    const queueSa = (sa: ServiceAccount) => {
      const m = sa.metadata ?? {};
      this.serviceAccountQueue.add(JSON.stringify({ namespace: m.namespace ?? "", name: m.name ?? "", uid: m.uid ?? "" } satisfies SaKey));
    };
    o.serviceAccounts.addEventHandler({ onAdd: queueSa, onUpdate: (_old, sa) => queueSa(sa), onDelete: queueSa });
    const queueSecret = (s: Secret) => {
      if (s.type !== SERVICE_ACCOUNT_TOKEN_TYPE) return;
      const m = s.metadata ?? {};
      const key: SecretKey = {
        namespace: m.namespace ?? "",
        name: m.name ?? "",
        uid: m.uid ?? "",
        saName: m.annotations?.[SERVICE_ACCOUNT_NAME_KEY] ?? "",
        saUid: m.annotations?.[SERVICE_ACCOUNT_UID_KEY] ?? "",
      };
      this.secretQueue.add(JSON.stringify(key));
    };
    o.secrets.addEventHandler({ onAdd: queueSecret, onUpdate: (_old, s) => queueSecret(s), onDelete: queueSecret });
  }

  async run(signal: AbortSignal): Promise<void> {
    await runKeyedWorkers({
      name: "serviceaccount-token",
      queues: [
        { queue: this.serviceAccountQueue, sync: (k) => this.syncServiceAccount(JSON.parse(k) as SaKey) },
        { queue: this.secretQueue, sync: (k) => this.syncSecret(JSON.parse(k) as SecretKey) },
      ],
      informers: [this.o.serviceAccounts, this.o.secrets],
      workers: this.o.workers ?? DEFAULT_TOKEN_SYNCS,
      logger: this.log,
      signal,
    });
  }

  /** A deleted ServiceAccount takes its token Secrets with it. */
  async syncServiceAccount(key: SaKey): Promise<void> {
    const sa = await this.getServiceAccount(key.namespace, key.name, key.uid, false);
    if (sa) return;
    for (const s of this.o.secrets.list()) {
      if (s.metadata?.namespace !== key.namespace || !this.isTokenFor(s, key.name, key.uid)) continue;
      await this.deleteToken(s);
    }
  }

  /** Fills a token Secret, deletes it when its ServiceAccount is gone, or unlinks a deleted one. */
  async syncSecret(key: SecretKey): Promise<void> {
    const secret = this.o.secrets.get(`${key.namespace}/${key.name}`);
    if (!secret || (key.uid && secret.metadata?.uid !== key.uid)) {
      await this.removeSecretReference(key);
      return;
    }
    const sa = await this.getServiceAccount(key.namespace, key.saName, key.saUid, true);
    if (!sa) {
      // No such ServiceAccount (any more): the token must not live on.
      await this.deleteToken(secret);
      return;
    }
    await this.generateTokenIfNeeded(sa, secret);
  }

  private isTokenFor(s: Secret, saName: string, saUid: string): boolean {
    const a = s.metadata?.annotations ?? {};
    if (s.type !== SERVICE_ACCOUNT_TOKEN_TYPE || a[SERVICE_ACCOUNT_NAME_KEY] !== saName) return false;
    return !a[SERVICE_ACCOUNT_UID_KEY] || a[SERVICE_ACCOUNT_UID_KEY] === saUid;
  }

  /** upstream getServiceAccount: the cache, then (if asked) a live read; a uid, when given, must match. */
  private async getServiceAccount(ns: string, name: string, uid: string, fetchOnCacheMiss: boolean): Promise<ServiceAccount | undefined> {
    if (!name) return undefined;
    const cached = this.o.serviceAccounts.get(`${ns}/${name}`);
    if (cached && (!uid || cached.metadata?.uid === uid)) return cached;
    if (!fetchOnCacheMiss) return undefined;
    const live = await this.o.api.getServiceAccount(ns, name);
    if (live && (!uid || live.metadata?.uid === uid)) return live;
    return undefined;
  }

  private async deleteToken(s: Secret): Promise<void> {
    const m = s.metadata ?? {};
    try {
      await this.o.api.deleteSecret(m.namespace ?? "", m.name ?? "", m.uid ?? "");
      this.log.info("deleted token secret of a missing service account", { secret: `${m.namespace}/${m.name}` });
    } catch (err) {
      if (isNotFound(err) || isConflict(err)) return;
      throw err;
    }
  }

  private needs(s: Secret): { ca: boolean; namespace: boolean; token: boolean } {
    const d = s.data ?? {};
    return { ca: this.o.rootCA.length > 0 && unb64(d["ca.crt"]) !== this.o.rootCA, namespace: !d.namespace, token: !d.token };
  }

  /** upstream generateTokenIfNeeded: decided on the cache, confirmed on a live read of the same version. */
  private async generateTokenIfNeeded(sa: ServiceAccount, cached: Secret): Promise<void> {
    let n = this.needs(cached);
    if (!n.ca && !n.namespace && !n.token) return;
    const live = await this.o.api.getSecret(cached.metadata?.namespace ?? "", cached.metadata?.name ?? "");
    // Gone, or our view is behind: the informer brings the change back here.
    if (!live || live.metadata?.resourceVersion !== cached.metadata?.resourceVersion) return;
    n = this.needs(live);
    if (!n.ca && !n.namespace && !n.token) return;
    const data = { ...(live.data ?? {}) };
    if (n.ca) data["ca.crt"] = b64(this.o.rootCA);
    if (n.namespace) data.namespace = b64(live.metadata?.namespace ?? "");
    if (n.token) {
      const m = sa.metadata ?? {};
      const token = await this.o.generator.generate(legacyClaims({ namespace: m.namespace ?? "", name: m.name ?? "", uid: m.uid ?? "" }, live.metadata?.name ?? ""));
      data.token = b64(token);
    }
    const annotations = { ...(live.metadata?.annotations ?? {}), [SERVICE_ACCOUNT_NAME_KEY]: sa.metadata?.name ?? "", [SERVICE_ACCOUNT_UID_KEY]: sa.metadata?.uid ?? "" };
    try {
      await this.o.api.updateSecret({ ...live, metadata: { ...live.metadata, annotations }, data });
      this.log.debug("populated service account token secret", { secret: `${live.metadata?.namespace}/${live.metadata?.name}` });
    } catch (err) {
      // Someone else changed it first: the update event brings it back here.
      if (isConflict(err) || isNotFound(err)) return;
      throw err;
    }
  }

  /** A deleted token Secret leaves its ServiceAccount's `secrets` list. */
  private async removeSecretReference(key: SecretKey): Promise<void> {
    const sa = await this.getServiceAccount(key.namespace, key.saName, key.saUid, false);
    if (!sa || !(sa.secrets ?? []).some((r) => r.name === key.name)) return;
    const live = await this.o.api.getServiceAccount(key.namespace, key.saName);
    if (!live || (key.saUid && live.metadata?.uid !== key.saUid)) return;
    const secrets = (live.secrets ?? []).filter((r) => r.name !== key.name);
    if (secrets.length === (live.secrets ?? []).length) return;
    try {
      await this.o.api.updateServiceAccount({ ...live, secrets });
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
  }
}

/** The `serviceaccount-token` controller of a controller manager (not started without a private key, as upstream). */
export function newTokensController(ctx: ControllerContext): Controller {
  const log = ctx.logger.with({ controller: "serviceaccount-token" });
  const file = ctx.settings.serviceAccountPrivateKeyFile;
  if (!file) {
    return {
      run: async () => {
        log.warn("no --service-account-private-key-file: legacy token secrets are not filled", {});
      },
    };
  }
  const key = loadSigningKey(readFileSync(file, "utf8"), file);
  return new TokensController({
    serviceAccounts: ctx.informers.informerFor<ServiceAccount>(SERVICE_ACCOUNTS),
    secrets: ctx.informers.informerFor<Secret>(SECRETS, { fieldSelector: `type=${SERVICE_ACCOUNT_TOKEN_TYPE}` }),
    api: restTokensApi(ctx.rest),
    generator: jwtTokenGenerator(LEGACY_ISSUER, key),
    rootCA: rootCaOf(ctx),
    logger: log,
  });
}
