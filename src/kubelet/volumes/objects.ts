/**
 * The API objects a kubelet reads to build containers' environments and
 * volumes: ConfigMaps, Secrets, Services, claims and volumes, and service
 * account tokens. One small interface, so env and volume code is tested
 * with in-memory fakes, and one implementation over ResourceClients.
 *
 * Caching: {@link ApiPodObjects} is upstream's "Cache" change-detection
 * strategy (a TTL cache, as `configMapAndSecretChangeDetectionStrategy:
 * Cache`), not the Watch strategy: a kubelet here may run thousands of
 * simulated nodes on one client, and a watch per referenced object would
 * cost more than a GET per TTL. Reads of one object within the TTL share
 * one request; a NotFound answer is cached like an object (so a pod stuck
 * on a missing ConfigMap does not GET it on every sync), other failures
 * are not cached.
 */
import type { TokenRequest } from "kubernetes-types/authentication/v1.js";
import type { ConfigMap, PersistentVolume, PersistentVolumeClaim, Secret, Service, ServiceAccount } from "kubernetes-types/core/v1.js";
import type { ResourceClient } from "../../client/resource-client.js";
import type { Clock } from "../../machinery/clock.js";
import { StatusError } from "../../machinery/status-error.js";

/** The outcome of a read: the object, or why not (NotFound told apart, as upstream's IsNotFound). */
export type Fetched<T> =
  | { readonly ok: true; readonly value: T }
  | {
      readonly ok: false;
      readonly notFound: boolean;
      readonly message: string;
      /** The API server does not serve the request at all (a 404 naming no object, or 405). */
      readonly unserved?: boolean;
    };

/** What env and volume code read from the API (upstream's configMapManager, secretManager, serviceLister, kubeClient). */
export interface PodObjects {
  /** NotFound reads `configmap "NAME" not found`, as upstream's watch-based manager words it. */
  getConfigMap(namespace: string, name: string): Promise<Fetched<ConfigMap>>;
  /** NotFound reads `secret "NAME" not found`. */
  getSecret(namespace: string, name: string): Promise<Fetched<Secret>>;
  /** Every Service of the namespace. */
  listServices(namespace: string): Promise<Fetched<readonly Service[]>>;
  getPersistentVolumeClaim(namespace: string, name: string): Promise<Fetched<PersistentVolumeClaim>>;
  getPersistentVolume(name: string): Promise<Fetched<PersistentVolume>>;
  /**
   * `POST /api/v1/namespaces/NS/serviceaccounts/SA/token` (the TokenRequest
   * API). Never cached here: the volume code's token manager keeps tokens.
   */
  createToken(namespace: string, serviceAccount: string, request: TokenRequest): Promise<Fetched<TokenRequest>>;
}

/** `{ok:true}` of a value. */
export function fetched<T>(value: T): Fetched<T> {
  return { ok: true, value };
}

/** The upstream NotFound message of a kubelet object manager: `configmap "x" not found`. */
export function notFoundMessage(resource: string, name: string): string {
  return `${resource} "${name}" not found`;
}

/** Turns a client error into a Fetched failure: NotFound gets `notFoundAs` (when given), others their message. */
export function failure(err: unknown, notFoundAs?: string): Fetched<never> {
  if (err instanceof StatusError && err.code === 404) {
    // A 404 naming an object is "that object does not exist"; a bare one means the route is not served.
    const named = !!err.status.details?.name;
    if (!named) return { ok: false, notFound: false, unserved: true, message: err.message };
    return { ok: false, notFound: true, message: notFoundAs ?? err.message };
  }
  if (err instanceof StatusError && err.code === 405) return { ok: false, notFound: false, unserved: true, message: err.message };
  return { ok: false, notFound: false, message: err instanceof Error ? err.message : String(err) };
}

/** Clients {@link ApiPodObjects} reads through. */
export interface ApiPodObjectsOptions {
  readonly configMaps: ResourceClient<ConfigMap>;
  readonly secrets: ResourceClient<Secret>;
  readonly services: ResourceClient<Service>;
  readonly persistentVolumeClaims: ResourceClient<PersistentVolumeClaim>;
  readonly persistentVolumes: ResourceClient<PersistentVolume>;
  readonly serviceAccounts: ResourceClient<ServiceAccount>;
  readonly clock: Clock;
  /** How long a read is reused (5 s unless given; upstream's Cache strategy uses the node's TTL annotation, 1 min by default). */
  readonly ttlMs?: number;
}

interface Entry {
  readonly at: number;
  value: Promise<Fetched<unknown>>;
}

/** {@link PodObjects} over ResourceClients with a TTL cache (see the file comment). */
export class ApiPodObjects implements PodObjects {
  private readonly cache = new Map<string, Entry>();
  private readonly ttlMs: number;

  constructor(private readonly o: ApiPodObjectsOptions) {
    this.ttlMs = o.ttlMs ?? 5_000;
  }

  getConfigMap(namespace: string, name: string): Promise<Fetched<ConfigMap>> {
    return this.cached(`configmaps/${namespace}/${name}`, () => this.o.configMaps.namespace(namespace).get(name), notFoundMessage("configmap", name));
  }

  getSecret(namespace: string, name: string): Promise<Fetched<Secret>> {
    return this.cached(`secrets/${namespace}/${name}`, () => this.o.secrets.namespace(namespace).get(name), notFoundMessage("secret", name));
  }

  listServices(namespace: string): Promise<Fetched<readonly Service[]>> {
    return this.cached(`services/${namespace}`, async () => (await this.o.services.namespace(namespace).listAll()).items);
  }

  getPersistentVolumeClaim(namespace: string, name: string): Promise<Fetched<PersistentVolumeClaim>> {
    return this.once(() => this.o.persistentVolumeClaims.namespace(namespace).get(name));
  }

  getPersistentVolume(name: string): Promise<Fetched<PersistentVolume>> {
    return this.once(() => this.o.persistentVolumes.get(name));
  }

  createToken(namespace: string, serviceAccount: string, request: TokenRequest): Promise<Fetched<TokenRequest>> {
    const body: TokenRequest = { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", ...request };
    return this.once(() => this.o.serviceAccounts.namespace(namespace).subresource<TokenRequest>(serviceAccount, "token", body));
  }

  /** Forgets every cached read (tests; a kubelet that knows objects changed). */
  invalidate(): void {
    this.cache.clear();
  }

  private async once<T>(read: () => Promise<T>): Promise<Fetched<T>> {
    try {
      return fetched(await read());
    } catch (err) {
      return failure(err);
    }
  }

  private cached<T>(key: string, read: () => Promise<T>, notFoundAs?: string): Promise<Fetched<T>> {
    const now = this.o.clock.now();
    const hit = this.cache.get(key);
    if (hit && now - hit.at < this.ttlMs) return hit.value as Promise<Fetched<T>>;
    const entry: { at: number; value: Promise<Fetched<unknown>> } = { at: now, value: Promise.resolve(fetched(undefined)) };
    const value = (async (): Promise<Fetched<T>> => {
      try {
        return fetched(await read());
      } catch (err) {
        const f = failure(err, notFoundAs);
        // Only "it does not exist" is an answer worth keeping; anything else is retried next time.
        if (!f.ok && !f.notFound && this.cache.get(key) === entry) this.cache.delete(key);
        return f;
      }
    })();
    entry.value = value;
    this.cache.set(key, entry);
    if (this.cache.size > 10_000) this.sweep(now);
    return value;
  }

  /** Drops expired entries so the cache stays as small as what pods reference. */
  private sweep(now: number): void {
    for (const [k, e] of this.cache) if (now - e.at >= this.ttlMs) this.cache.delete(k);
  }
}
