/**
 * The cluster's PKI on disk, as k3s lays it out in `<data-dir>/tls`: a
 * server CA (signs serving certificates; clients trust it), a separate
 * client CA (signs client certificates; the API server trusts it), the API
 * server's serving certificate and the control-plane client certificates.
 * Made on first start, reused afterwards; leaves are re-issued when they
 * near expiry or no longer fit (missing SAN, other CA, changed subject).
 */
import { chmodSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { networkInterfaces } from "node:os";
import { join } from "node:path";
import { type Clock, systemClock } from "../machinery/clock.js";
import type { Logger } from "../machinery/log.js";
import { writeFileAtomic } from "../machinery/atomic-file.js";
import {
  type CertUsage,
  createCertificateAuthority,
  issueCertificate,
  type KeyPairPem,
  keyMatchesCertificate,
  parseCertificate,
  verifySignedBy,
} from "./certs.js";
import { canonicalIp, isIpAddress } from "./ip.js";

/** A certificate and key as PEM, with the files they live in. */
export interface PkiFiles extends KeyPairPem {
  readonly certFile: string;
  readonly keyFile: string;
}

/** The control-plane client certificates, each signed by the client CA. */
export interface ClusterClientCerts {
  /** `system:admin` in `system:masters`: the admin kubeconfig's user. */
  readonly admin: PkiFiles;
  readonly kubeScheduler: PkiFiles;
  readonly kubeControllerManager: PkiFiles;
  readonly kubeProxy: PkiFiles;
  readonly skiffController: PkiFiles;
  /** `kube-apiserver-kubelet-client` in `system:masters` (kubeadm's name): what the API server shows kubelets for logs, exec and proxy. */
  readonly kubeApiserverKubeletClient: PkiFiles;
}

/** Everything {@link ensureClusterPki} made or found. */
export interface ClusterPki {
  readonly tlsDir: string;
  /** Signs serving certificates; what clients put in `certificate-authority-data`. */
  readonly serverCa: PkiFiles;
  /** Signs client certificates; what the API server verifies clients against. */
  readonly clientCa: PkiFiles;
  /** The API server's serving certificate (server CA). */
  readonly serving: PkiFiles;
  readonly clients: ClusterClientCerts;
  /** The SANs the serving certificate is required to carry. */
  readonly servingSans: { readonly dns: readonly string[]; readonly ips: readonly string[] };
}

/** Options for {@link ensureClusterPki}. */
export interface EnsureClusterPkiOptions {
  /** `<data-dir>/tls`; created with mode 0700. */
  readonly tlsDir: string;
  /** Prefix of the CA common names (`<name>-server-ca@<unix>`); "skiff" unless given. */
  readonly clusterName?: string;
  /** More serving SANs (k3s `--tls-san`); an IP given under `dns` is treated as an IP. */
  readonly extraSans?: { readonly dns?: readonly string[]; readonly ips?: readonly string[] };
  /** The `kubernetes` Service's ClusterIP; 10.43.0.1 unless given. */
  readonly serviceIP?: string;
  /** This host's addresses; every non-internal interface address plus 127.0.0.1 and ::1 unless given. */
  readonly hostAddresses?: readonly string[];
  readonly logger: Logger;
  /** Injectable time (tests). */
  readonly clock?: Clock;
}

const DAY_MS = 24 * 60 * 60 * 1000;
/** Leaves live a year, as k3s and kubeadm issue them. */
const LEAF_VALID_DAYS = 365;
/** Renewed on start when closer than this to expiry (k3s: 90 days). */
const RENEW_BEFORE_MS = 90 * DAY_MS;
const KEY_MODE = 0o600;
const CERT_MODE = 0o644;

/** The in-cluster names of the API server, as kubeadm puts them on its serving certificate. */
const SERVING_DNS = [
  "localhost",
  "kubernetes",
  "kubernetes.default",
  "kubernetes.default.svc",
  "kubernetes.default.svc.cluster.local",
];

interface ClientSpec {
  readonly key: keyof ClusterClientCerts;
  readonly file: string;
  readonly commonName: string;
  readonly organizations: readonly string[];
}

const CLIENTS: readonly ClientSpec[] = [
  { key: "admin", file: "client-admin", commonName: "system:admin", organizations: ["system:masters"] },
  { key: "kubeScheduler", file: "client-kube-scheduler", commonName: "system:kube-scheduler", organizations: [] },
  {
    key: "kubeControllerManager",
    file: "client-kube-controller-manager",
    commonName: "system:kube-controller-manager",
    organizations: [],
  },
  { key: "kubeProxy", file: "client-kube-proxy", commonName: "system:kube-proxy", organizations: [] },
  { key: "skiffController", file: "client-skiff-controller", commonName: "system:skiff-controller", organizations: [] },
  {
    key: "kubeApiserverKubeletClient",
    file: "client-kube-apiserver",
    commonName: "kube-apiserver-kubelet-client",
    organizations: ["system:masters"],
  },
];

/** Every non-internal interface address, plus the loopbacks (the default `hostAddresses`). */
export function defaultHostAddresses(): string[] {
  const out = ["127.0.0.1", "::1"];
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) if (!a.internal) out.push(a.address);
  }
  return out;
}

function uniq(values: Iterable<string>): string[] {
  return [...new Set(values)];
}

/** The SANs the serving certificate must carry, normalised (DNS lower case, IPs canonical). */
function requiredServingSans(opts: EnsureClusterPkiOptions): { dns: string[]; ips: string[] } {
  const extraDns = opts.extraSans?.dns ?? [];
  const ips = [
    "127.0.0.1",
    "::1",
    opts.serviceIP ?? "10.43.0.1",
    ...(opts.hostAddresses ?? defaultHostAddresses()),
    ...(opts.extraSans?.ips ?? []),
    ...extraDns.filter(isIpAddress),
  ].map(canonicalIp);
  const dns = [...SERVING_DNS, ...extraDns.filter((d) => !isIpAddress(d))].map((d) => d.trim().toLowerCase());
  return { dns: uniq(dns), ips: uniq(ips) };
}

function readPair(tlsDir: string, base: string): { certFile: string; keyFile: string; certPem?: string; keyPem?: string } {
  const certFile = join(tlsDir, `${base}.crt`);
  const keyFile = join(tlsDir, `${base}.key`);
  return {
    certFile,
    keyFile,
    certPem: existsSync(certFile) ? readFileSync(certFile, "utf8") : undefined,
    keyPem: existsSync(keyFile) ? readFileSync(keyFile, "utf8") : undefined,
  };
}

/** Key first: a crash between the two leaves a mismatched pair, which the next start re-issues. */
function writePair(certFile: string, keyFile: string, pair: KeyPairPem): void {
  writeFileAtomic(keyFile, pair.keyPem, { mode: KEY_MODE });
  writeFileAtomic(certFile, pair.certPem, { mode: CERT_MODE });
}

/** Where and when {@link ensureCa} and {@link ensureLeaf} work (the etcd PKI uses them too). */
export interface PkiContext {
  readonly tlsDir: string;
  readonly log: Logger;
  readonly now: Date;
}

/** A CA in `tlsDir` (`<base>.crt`/`.key`): made once, never replaced. */
export async function ensureCa(ctx: PkiContext, base: string, commonNamePrefix: string): Promise<PkiFiles> {
  const f = readPair(ctx.tlsDir, base);
  if (f.certPem !== undefined && f.keyPem !== undefined) {
    let matches: boolean;
    try {
      matches = keyMatchesCertificate(f.keyPem, f.certPem) && parseCertificate(f.certPem).isCA;
    } catch (err) {
      throw new Error(`${f.certFile} or ${f.keyFile} is unreadable (${(err as Error).message}); restore them from a backup`);
    }
    // Never replace a CA silently: every node and kubeconfig trusting it would break.
    if (!matches) throw new Error(`${f.keyFile} is not the key of CA certificate ${f.certFile}; restore the matching pair`);
    const { notAfter } = parseCertificate(f.certPem);
    if (notAfter.getTime() - ctx.now.getTime() < RENEW_BEFORE_MS) {
      ctx.log.warn("certificate authority expires soon; it is not rotated automatically", {
        file: f.certFile,
        notAfter: notAfter.toISOString(),
      });
    }
    ctx.log.debug("reusing certificate authority", { file: f.certFile });
    return { certFile: f.certFile, keyFile: f.keyFile, certPem: f.certPem, keyPem: f.keyPem };
  }
  if (f.certPem !== undefined) {
    throw new Error(
      `${f.certFile} exists but its key ${f.keyFile} does not; restore the key, or remove both to make a new CA (every node must then rejoin)`,
    );
  }
  // No certificate: nothing can have been signed by an orphan key, so it is safe to start over.
  if (f.keyPem !== undefined) ctx.log.warn("replacing a CA key that has no certificate", { file: f.keyFile });
  const commonName = `${commonNamePrefix}@${Math.floor(ctx.now.getTime() / 1000)}`;
  const pair = await createCertificateAuthority({ commonName, now: ctx.now });
  writePair(f.certFile, f.keyFile, pair);
  ctx.log.info("created certificate authority", { file: f.certFile, cn: commonName });
  return { certFile: f.certFile, keyFile: f.keyFile, ...pair };
}

/** One leaf certificate {@link ensureLeaf} keeps current. */
export interface LeafSpec {
  readonly base: string;
  readonly ca: KeyPairPem;
  readonly commonName: string;
  readonly organizations: readonly string[];
  readonly usages: readonly CertUsage[];
  readonly dnsNames?: readonly string[];
  readonly ipAddresses?: readonly string[];
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && [...a].sort().join("\n") === [...b].sort().join("\n");
}

/** Why an existing leaf must be re-issued, or undefined if it can stay. */
function staleReason(ctx: PkiContext, spec: LeafSpec, certPem: string, keyPem: string): string | undefined {
  let cert: ReturnType<typeof parseCertificate>;
  try {
    cert = parseCertificate(certPem);
    if (!keyMatchesCertificate(keyPem, certPem)) return "key-mismatch";
    if (!verifySignedBy(certPem, spec.ca.certPem)) return "other-ca";
  } catch {
    return "unreadable";
  }
  if (cert.notAfter.getTime() - ctx.now.getTime() < RENEW_BEFORE_MS) return "expiring";
  if (cert.commonName !== spec.commonName || !sameSet(cert.organizations, spec.organizations)) return "subject-changed";
  const haveDns = new Set(cert.dnsNames.map((d) => d.toLowerCase()));
  const haveIps = new Set(cert.ipAddresses);
  const missing = [
    ...(spec.dnsNames ?? []).filter((d) => !haveDns.has(d)),
    ...(spec.ipAddresses ?? []).filter((ip) => !haveIps.has(ip)),
  ];
  if (missing.length > 0) return `missing-san:${missing.join(",")}`;
  return undefined;
}

/** A leaf in `tlsDir`, re-issued from its CA when missing, mismatched, expiring or missing a SAN. */
export async function ensureLeaf(ctx: PkiContext, spec: LeafSpec): Promise<PkiFiles> {
  const f = readPair(ctx.tlsDir, spec.base);
  const reason =
    f.certPem === undefined || f.keyPem === undefined ? "missing" : staleReason(ctx, spec, f.certPem, f.keyPem);
  if (reason === undefined && f.certPem !== undefined && f.keyPem !== undefined) {
    ctx.log.debug("reusing certificate", { file: f.certFile });
    return { certFile: f.certFile, keyFile: f.keyFile, certPem: f.certPem, keyPem: f.keyPem };
  }
  const pair = await issueCertificate({
    ca: spec.ca,
    commonName: spec.commonName,
    organizations: spec.organizations,
    dnsNames: spec.dnsNames,
    ipAddresses: spec.ipAddresses,
    usages: spec.usages,
    validDays: LEAF_VALID_DAYS,
    now: ctx.now,
  });
  writePair(f.certFile, f.keyFile, pair);
  ctx.log.info(reason === "missing" ? "created certificate" : "renewed certificate", {
    file: f.certFile,
    cn: spec.commonName,
    reason,
  });
  return { certFile: f.certFile, keyFile: f.keyFile, ...pair };
}

/** A context for `tlsDir` (created 0700), logging as the pki component, at the clock's time. */
export function pkiContext(tlsDir: string, logger: Logger, clock: Clock = systemClock): PkiContext {
  mkdirSync(tlsDir, { recursive: true, mode: 0o700 });
  // mkdir leaves an existing directory's mode alone; keys must not be listable by others.
  chmodSync(tlsDir, 0o700);
  return { tlsDir, log: logger.with({ component: "pki" }), now: new Date(clock.now()) };
}

/**
 * Makes the cluster PKI in `tlsDir` on first start and reuses it on later
 * ones. The CAs are never replaced (a CA certificate whose key is gone is an
 * error to fix by hand); leaves are re-issued from the same CA when missing,
 * unreadable, not matching their key or CA, within 90 days of expiry, or (the
 * serving certificate) missing a required SAN. Logs each file it writes.
 */
export async function ensureClusterPki(opts: EnsureClusterPkiOptions): Promise<ClusterPki> {
  const { tlsDir } = opts;
  const ctx = pkiContext(tlsDir, opts.logger, opts.clock);
  const prefix = opts.clusterName ?? "skiff";
  const serverCa = await ensureCa(ctx, "server-ca", `${prefix}-server-ca`);
  const clientCa = await ensureCa(ctx, "client-ca", `${prefix}-client-ca`);
  const sans = requiredServingSans(opts);
  const serving = await ensureLeaf(ctx, {
    base: "serving-kube-apiserver",
    ca: serverCa,
    commonName: "kube-apiserver",
    organizations: [],
    usages: ["server"],
    dnsNames: sans.dns,
    ipAddresses: sans.ips,
  });
  const clients: Partial<Record<keyof ClusterClientCerts, PkiFiles>> = {};
  for (const c of CLIENTS) {
    clients[c.key] = await ensureLeaf(ctx, {
      base: c.file,
      ca: clientCa,
      commonName: c.commonName,
      organizations: c.organizations,
      usages: ["client"],
    });
  }
  return { tlsDir, serverCa, clientCa, serving, clients: clients as ClusterClientCerts, servingSans: sans };
}

// Node names are DNS subdomains (RFC 1123), which is also all a CN or SAN here may safely hold.
const NODE_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function checkNodeName(nodeName: string): void {
  if (nodeName.length > 253 || !NODE_NAME.test(nodeName)) {
    throw new Error(`invalid node name ${JSON.stringify(nodeName)}: must be a lower-case RFC 1123 subdomain`);
  }
}

/**
 * A kubelet's client certificate (client CA): `system:node:<name>` in
 * `system:nodes`, the identity the Node authorizer expects. Not written to
 * disk: the server hands it to the joining agent.
 */
export async function issueNodeClientCert(pki: ClusterPki, nodeName: string): Promise<KeyPairPem> {
  checkNodeName(nodeName);
  return issueCertificate({
    ca: pki.clientCa,
    commonName: `system:node:${nodeName}`,
    organizations: ["system:nodes"],
    usages: ["client"],
    validDays: LEAF_VALID_DAYS,
  });
}

/**
 * A kubelet's serving certificate (server CA), as the kubelet-serving signer
 * issues it: `system:node:<name>` in `system:nodes`, SANs the node name,
 * localhost, the loopbacks and `addresses` (IPs or host names).
 */
export async function issueKubeletServingCert(
  pki: ClusterPki,
  nodeName: string,
  addresses: readonly string[],
): Promise<KeyPairPem> {
  checkNodeName(nodeName);
  return issueCertificate({
    ca: pki.serverCa,
    commonName: `system:node:${nodeName}`,
    organizations: ["system:nodes"],
    dnsNames: uniq([nodeName, "localhost", ...addresses.filter((a) => !isIpAddress(a)).map((a) => a.toLowerCase())]),
    ipAddresses: uniq(["127.0.0.1", "::1", ...addresses.filter(isIpAddress)].map(canonicalIp)),
    usages: ["server"],
    validDays: LEAF_VALID_DAYS,
  });
}

export { caHash } from "./certs.js";
