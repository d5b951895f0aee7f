/**
 * Serving certificates of the HTTPS listener, chosen per connection by SNI:
 * each `spec.tls[]` entry of a served Ingress maps its `hosts` (precise or
 * `*.wildcard`) to the `kubernetes.io/tls` Secret `secretName` in the
 * Ingress's namespace; an entry without hosts covers every host no other
 * entry names (the spec: hosts default to the controller's wildcard).
 * Anything else, and a host whose Secret is missing or unusable (logged),
 * gets the default certificate, as ingress-nginx serves its fake one.
 * On a conflict the oldest Ingress wins.
 */
import { createSecureContext, type SecureContext } from "node:tls";
import type { Secret } from "kubernetes-types/core/v1.js";
import type { Ingress } from "kubernetes-types/networking/v1.js";
import type { Logger } from "../../machinery/log.js";
import { createCertificateAuthority, issueCertificate, type KeyPairPem } from "../../pki/certs.js";
import { byAge } from "./routes.js";

/** Subject CN of the default certificate, as ingress-nginx names its own. */
export const DEFAULT_CERT_CN = "Kubernetes Ingress Controller Fake Certificate";

/** A self-signed (throwaway CA) certificate for `ingress.local`, served when no Secret covers a host. */
export async function defaultIngressCertificate(now = new Date()): Promise<KeyPairPem> {
  const ca = await createCertificateAuthority({ commonName: `skiff-ingress-ca@${Math.floor(now.getTime() / 1000)}`, validDays: 3650, now });
  const leaf = await issueCertificate({ ca, commonName: DEFAULT_CERT_CN, dnsNames: ["ingress.local"], usages: ["server"], validDays: 3650, now });
  return { certPem: leaf.certPem + ca.certPem, keyPem: leaf.keyPem };
}

/** Certificates by host, rebuilt from the served Ingresses and the TLS Secrets. */
export class TlsStore {
  #exact = new Map<string, SecureContext>();
  #wildcard = new Map<string, SecureContext>();
  #fallback: SecureContext | undefined;
  /** Contexts by Secret `ns/name` and resourceVersion, so a rebuild does not re-parse unchanged keys. */
  #cache = new Map<string, { rv: string; ctx: SecureContext | string }>();
  /** Problems already logged (once per Secret version). */
  readonly #warned = new Set<string>();

  constructor(
    private readonly getSecret: (key: string) => Secret | undefined,
    private readonly log: Logger,
  ) {}

  /** Recomputes the host → certificate map. */
  rebuild(ingresses: readonly Ingress[]): void {
    const exact = new Map<string, SecureContext>();
    const wildcard = new Map<string, SecureContext>();
    let fallback: SecureContext | undefined;
    const used = new Set<string>();
    for (const ing of [...ingresses].sort(byAge)) {
      const ns = ing.metadata?.namespace ?? "default";
      for (const t of ing.spec?.tls ?? []) {
        if (!t.secretName) continue;
        const key = `${ns}/${t.secretName}`;
        used.add(key);
        const ctx = this.#context(key, `${ns}/${ing.metadata?.name ?? ""}`);
        if (ctx === undefined) continue;
        const hosts = t.hosts ?? [];
        if (hosts.length === 0) fallback ??= ctx;
        for (const h of hosts) {
          const host = h.toLowerCase();
          const [map, k] = host.startsWith("*.") ? [wildcard, host.slice(2)] : [exact, host];
          if (!map.has(k)) map.set(k, ctx);
        }
      }
    }
    for (const k of this.#cache.keys()) if (!used.has(k)) this.#cache.delete(k);
    this.#exact = exact;
    this.#wildcard = wildcard;
    this.#fallback = fallback;
  }

  /** The context for an SNI server name; undefined means the listener's default certificate. */
  lookup(servername: string): SecureContext | undefined {
    const host = servername.toLowerCase();
    const hit = this.#exact.get(host);
    if (hit !== undefined) return hit;
    const dot = host.indexOf(".");
    if (dot > 0) {
      const w = this.#wildcard.get(host.slice(dot + 1));
      if (w !== undefined) return w;
    }
    return this.#fallback;
  }

  /** Hosts with a certificate of their own (tests, diagnostics). */
  hosts(): string[] {
    return [...this.#exact.keys(), ...[...this.#wildcard.keys()].map((k) => `*.${k}`)];
  }

  #context(key: string, ingress: string): SecureContext | undefined {
    const secret = this.getSecret(key);
    const rv = secret?.metadata?.resourceVersion ?? "";
    let entry = this.#cache.get(key);
    if (entry === undefined || entry.rv !== rv || secret === undefined) {
      entry = { rv, ctx: this.#parse(key, secret) };
      if (secret !== undefined) this.#cache.set(key, entry);
    }
    if (typeof entry.ctx === "string") {
      const note = `${key}@${rv} ${ingress}`;
      if (!this.#warned.has(note)) {
        this.#warned.add(note);
        this.log.warn("serving the default certificate instead of an Ingress's TLS Secret", { ingress, secret: key, reason: entry.ctx });
      }
      return undefined;
    }
    return entry.ctx;
  }

  #parse(key: string, secret: Secret | undefined): SecureContext | string {
    if (secret === undefined) return `secret ${key} not found`;
    if (secret.type !== "kubernetes.io/tls") return `secret ${key} is of type ${secret.type ?? "Opaque"}, not kubernetes.io/tls`;
    const crt = secret.data?.["tls.crt"];
    const k = secret.data?.["tls.key"];
    if (!crt || !k) return `secret ${key} lacks tls.crt or tls.key`;
    try {
      return createSecureContext({ cert: Buffer.from(crt, "base64"), key: Buffer.from(k, "base64") });
    } catch (err) {
      return `secret ${key} holds no usable certificate and key: ${(err as Error).message}`;
    }
  }
}
