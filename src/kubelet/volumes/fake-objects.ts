/**
 * An in-memory {@link PodObjects} for tests: objects live in maps, misses
 * read as upstream's NotFound messages, and the token API can be made to
 * answer as a server that does not serve it.
 */
import type { TokenRequest } from "kubernetes-types/authentication/v1.js";
import type { ConfigMap, PersistentVolume, PersistentVolumeClaim, Secret, Service } from "kubernetes-types/core/v1.js";
import { type Fetched, fetched, notFoundMessage, type PodObjects } from "./objects.js";

/** Maps keyed `ns/name` (PVs by name). */
export class FakePodObjects implements PodObjects {
  readonly configMaps = new Map<string, ConfigMap>();
  readonly secrets = new Map<string, Secret>();
  readonly services: Service[] = [];
  readonly claims = new Map<string, PersistentVolumeClaim>();
  readonly volumes = new Map<string, PersistentVolume>();
  /** How createToken answers: a token, a 404 route (unserved), or a missing service account. */
  tokenMode: "issue" | "unserved" | "no-sa" = "issue";
  readonly tokenRequests: { namespace: string; serviceAccount: string; request: TokenRequest }[] = [];
  private issued = 0;

  addConfigMap(ns: string, name: string, data: Record<string, string>): void {
    this.configMaps.set(`${ns}/${name}`, { metadata: { namespace: ns, name }, data });
  }

  /** `data` in plain text; stored base64 as the API holds it. */
  addSecret(ns: string, name: string, data: Record<string, string>): void {
    const b64 = Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString("base64")]));
    this.secrets.set(`${ns}/${name}`, { metadata: { namespace: ns, name }, data: b64 });
  }

  async getConfigMap(ns: string, name: string): Promise<Fetched<ConfigMap>> {
    const o = this.configMaps.get(`${ns}/${name}`);
    return o ? fetched(o) : { ok: false, notFound: true, message: notFoundMessage("configmap", name) };
  }

  async getSecret(ns: string, name: string): Promise<Fetched<Secret>> {
    const o = this.secrets.get(`${ns}/${name}`);
    return o ? fetched(o) : { ok: false, notFound: true, message: notFoundMessage("secret", name) };
  }

  async listServices(ns: string): Promise<Fetched<readonly Service[]>> {
    return fetched(this.services.filter((s) => s.metadata?.namespace === ns));
  }

  async getPersistentVolumeClaim(ns: string, name: string): Promise<Fetched<PersistentVolumeClaim>> {
    const o = this.claims.get(`${ns}/${name}`);
    return o ? fetched(o) : { ok: false, notFound: true, message: `persistentvolumeclaims "${name}" not found` };
  }

  async getPersistentVolume(name: string): Promise<Fetched<PersistentVolume>> {
    const o = this.volumes.get(name);
    return o ? fetched(o) : { ok: false, notFound: true, message: `persistentvolumes "${name}" not found` };
  }

  async createToken(namespace: string, serviceAccount: string, request: TokenRequest): Promise<Fetched<TokenRequest>> {
    this.tokenRequests.push({ namespace, serviceAccount, request });
    if (this.tokenMode === "unserved") return { ok: false, notFound: false, unserved: true, message: "the server could not find the requested resource" };
    if (this.tokenMode === "no-sa") return { ok: false, notFound: true, message: `serviceaccounts "${serviceAccount}" not found` };
    this.issued++;
    return fetched({ ...request, status: { token: `token-${this.issued}`, expirationTimestamp: "2999-01-01T00:00:00Z" } });
  }
}
