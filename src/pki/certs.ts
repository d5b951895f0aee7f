/**
 * X.509 for the cluster: ECDSA P-256 keys, self-signed CAs and leaf
 * certificates shaped the way Go's crypto/x509 (kubectl, client-go, the
 * kubelet) and OpenSSL (Node's TLS) both accept, as kubeadm and k3s make
 * them. Keys are PKCS#8 PEM ("BEGIN PRIVATE KEY"), certificates PEM.
 */
import { createHash, createPrivateKey, createPublicKey, randomBytes, webcrypto, X509Certificate as NodeX509 } from "node:crypto";
// @peculiar/x509's dependency injection (tsyringe) needs the Reflect metadata API
// installed before the library loads; ESM evaluates imports in order.
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { certificateRawFields, subjectPublicKeyOf } from "./der.js";
import { keyMatchesCertificate } from "./key-match.js";
import { canonicalIp } from "./ip.js";

// Node 20's WebCrypto, stated once, so the library never falls back to a global.
x509.cryptoProvider.set(webcrypto);

/** A certificate and its private key, both PEM. */
export interface KeyPairPem {
  readonly certPem: string;
  readonly keyPem: string;
}

/** What a leaf certificate is for: `server` → serverAuth, `client` → clientAuth. */
export type CertUsage = "server" | "client";

/** How far back notBefore is set, so peers with slightly slow clocks accept a fresh certificate (kubeadm: 5 min). */
const BACKDATE_MS = 5 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;

const EC_P256: webcrypto.EcKeyGenParams = { name: "ECDSA", namedCurve: "P-256" };

/** A new ECDSA P-256 key pair (extractable, so it can be written out). */
export async function generateKeyPair(): Promise<webcrypto.CryptoKeyPair> {
  return webcrypto.subtle.generateKey(EC_P256, true, ["sign", "verify"]) as Promise<webcrypto.CryptoKeyPair>;
}

/** A public key as SPKI PEM ("BEGIN PUBLIC KEY"). */
export async function publicKeyToPem(key: webcrypto.CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey("spki", key));
  return x509.PemConverter.encode(der, "PUBLIC KEY");
}

/** A private key as PKCS#8 PEM. */
export async function privateKeyToPem(key: webcrypto.CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", key));
  return x509.PemConverter.encode(der, "PRIVATE KEY");
}

interface SigningKey {
  readonly key: webcrypto.CryptoKey;
  readonly algorithm: webcrypto.Algorithm | webcrypto.EcdsaParams;
}

/**
 * Imports a CA key for signing. Our CAs are P-256, but a user-supplied CA
 * (kubeadm makes RSA ones) may be P-384 or RSA; anything else is refused.
 * Node parses PKCS#8, SEC1 ("EC PRIVATE KEY") and PKCS#1 alike.
 */
async function importSigningKey(keyPem: string): Promise<SigningKey> {
  const k = createPrivateKey(keyPem);
  const pkcs8 = k.export({ type: "pkcs8", format: "der" });
  if (k.asymmetricKeyType === "ec") {
    const curve = k.asymmetricKeyDetails?.namedCurve;
    const params =
      curve === "prime256v1"
        ? { named: "P-256", hash: "SHA-256" }
        : curve === "secp384r1"
          ? { named: "P-384", hash: "SHA-384" }
          : undefined;
    if (!params) throw new Error(`unsupported CA key curve ${curve ?? "unknown"}: use P-256, P-384 or RSA`);
    const key = await webcrypto.subtle.importKey("pkcs8", pkcs8, { name: "ECDSA", namedCurve: params.named }, false, ["sign"]);
    return { key, algorithm: { name: "ECDSA", hash: params.hash } };
  }
  if (k.asymmetricKeyType === "rsa") {
    const alg = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
    return { key: await webcrypto.subtle.importKey("pkcs8", pkcs8, alg, false, ["sign"]), algorithm: alg };
  }
  throw new Error(`unsupported CA key type ${k.asymmetricKeyType ?? "unknown"}: use ECDSA or RSA`);
}

/**
 * 16 random bytes with the top bit clear: positive, so DER needs no sign
 * byte, and unpredictable, as CA/B guidance and Go (128-bit serials) want.
 */
function randomSerialHex(): string {
  const b = randomBytes(16);
  b[0] = b[0]! & 0x7f;
  return b.toString("hex");
}

// PrintableString's alphabet (X.680 §41.4); anything else goes as UTF8String, as Go marshals names.
const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;

function attr(value: string): x509.JsonAttributeObject {
  return PRINTABLE.test(value) ? { printableString: value } : { utf8String: value };
}

/** Subject in Go's order (O before CN), one RDN per value, values passed through without escaping rules. */
function subjectName(commonName: string, organizations: readonly string[] = []): x509.Name {
  const rdns: x509.JsonAttributeAndObjectValue[] = organizations.map((o) => ({ O: [attr(o)] }));
  rdns.push({ CN: [attr(commonName)] });
  return new x509.Name(rdns);
}

/** RFC 5280 §4.2.1.2 method 1 (what Go uses): SHA-1 of the subjectPublicKey bits. */
function keyIdentifier(subjectPublicKey: Uint8Array): string {
  return createHash("sha1").update(subjectPublicKey).digest("hex");
}

async function spkiOf(publicKey: webcrypto.CryptoKey): Promise<Uint8Array> {
  return new Uint8Array(await webcrypto.subtle.exportKey("spki", publicKey));
}

function pemOf(cert: x509.X509Certificate): string {
  return cert.toString("pem") + "\n";
}

/** Options for {@link createCertificateAuthority}. */
export interface CreateCaOptions {
  readonly commonName: string;
  /** 3650 (10 years, as k3s and kubeadm) unless given. */
  readonly validDays?: number;
  /** Issue time; the current time unless given (tests). */
  readonly now?: Date;
}

/**
 * A self-signed CA: basicConstraints CA:true (critical), keyUsage
 * keyCertSign|cRLSign|digitalSignature (critical), a SubjectKeyIdentifier,
 * subject and issuer the same bytes. No AuthorityKeyIdentifier, as Go omits
 * it on self-signed certificates.
 */
export async function createCertificateAuthority(opts: CreateCaOptions): Promise<KeyPairPem> {
  const now = opts.now ?? new Date();
  const keys = await generateKeyPair();
  const spki = await spkiOf(keys.publicKey);
  const name = subjectName(opts.commonName);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerialHex(),
    subject: name,
    issuer: name,
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(now.getTime() + (opts.validDays ?? 3650) * DAY_MS),
    publicKey: keys.publicKey,
    signingKey: keys.privateKey,
    signingAlgorithm: { name: "ECDSA", hash: "SHA-256" } as webcrypto.EcdsaParams,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature,
        true,
      ),
      new x509.SubjectKeyIdentifierExtension(keyIdentifier(subjectPublicKeyOf(spki))),
    ],
  });
  return { certPem: pemOf(cert), keyPem: await privateKeyToPem(keys.privateKey) };
}

/** Options for {@link issueCertificate}. */
export interface IssueCertificateOptions {
  /** The signing CA: its certificate and key. */
  readonly ca: KeyPairPem;
  readonly commonName: string;
  /** Subject O values; Kubernetes reads them as the user's groups. */
  readonly organizations?: readonly string[];
  readonly dnsNames?: readonly string[];
  /** IPv4 or IPv6 addresses; any spelling, stored canonically. */
  readonly ipAddresses?: readonly string[];
  readonly usages: readonly CertUsage[];
  readonly validDays: number;
  /** Issue time; the current time unless given (tests). */
  readonly now?: Date;
  /**
   * Certify this P-256 public key (SPKI PEM, the requester keeps its private
   * key) instead of making a fresh key pair; the result's `keyPem` is then "".
   */
  readonly publicKeyPem?: string;
}

/** A P-256 public key from SPKI PEM; throws a message when it is anything else. */
async function importPublicKey(pem: string): Promise<webcrypto.CryptoKey> {
  const k = createPublicKey(pem);
  if (k.asymmetricKeyType !== "ec" || k.asymmetricKeyDetails?.namedCurve !== "prime256v1") {
    throw new Error("the public key must be an ECDSA P-256 key");
  }
  const der = k.export({ type: "spki", format: "der" });
  return webcrypto.subtle.importKey("spki", der, EC_P256, true, ["verify"]);
}

/**
 * A leaf certificate with a fresh P-256 key (or the given public key), signed by `ca`: not a CA,
 * keyUsage digitalSignature, extKeyUsage from `usages`, SANs, SKI, and an
 * AKI equal to the CA's SKI. The issuer field is the CA's subject copied
 * byte for byte (Go refuses the chain otherwise). notAfter never passes
 * the CA's own notAfter.
 */
export async function issueCertificate(opts: IssueCertificateOptions): Promise<KeyPairPem> {
  if (opts.usages.length === 0) throw new Error("a certificate needs at least one usage (server or client)");
  if (!(opts.validDays > 0)) throw new Error(`validDays must be positive, got ${opts.validDays}`);
  const now = opts.now ?? new Date();
  const caNode = new NodeX509(opts.ca.certPem);
  if (!caNode.ca) throw new Error(`${caNode.subject.replace(/\n/g, ", ")} is not a CA certificate`);
  const caRaw = certificateRawFields(new Uint8Array(caNode.raw));
  const caCert = new x509.X509Certificate(opts.ca.certPem);
  const caKeyId =
    caCert.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId ?? keyIdentifier(caRaw.subjectPublicKey);
  const signer = await importSigningKey(opts.ca.keyPem);
  if (!keyMatchesCertificate(opts.ca.keyPem, opts.ca.certPem)) throw new Error("the CA key does not belong to the CA certificate");

  const keys = opts.publicKeyPem ? { publicKey: await importPublicKey(opts.publicKeyPem), privateKey: undefined } : await generateKeyPair();
  const spki = await spkiOf(keys.publicKey);
  const sans: x509.JsonGeneralName[] = [
    ...(opts.dnsNames ?? []).map((d) => ({ type: "dns" as const, value: d })),
    ...(opts.ipAddresses ?? []).map((ip) => ({ type: "ip" as const, value: canonicalIp(ip) })),
  ];
  const ekus = [
    ...(opts.usages.includes("server") ? [x509.ExtendedKeyUsage.serverAuth] : []),
    ...(opts.usages.includes("client") ? [x509.ExtendedKeyUsage.clientAuth] : []),
  ];
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension(ekus),
    new x509.SubjectKeyIdentifierExtension(keyIdentifier(subjectPublicKeyOf(spki))),
    new x509.AuthorityKeyIdentifierExtension(caKeyId),
  ];
  if (sans.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(sans));

  const notAfter = Math.min(now.getTime() + opts.validDays * DAY_MS, new Date(caNode.validTo).getTime());
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerialHex(),
    subject: subjectName(opts.commonName, opts.organizations),
    // Parsed from the CA's raw subject bytes; checked below to have survived unchanged.
    issuer: new x509.Name(caRaw.subject),
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(notAfter),
    publicKey: keys.publicKey,
    signingKey: signer.key,
    signingAlgorithm: signer.algorithm,
    extensions,
  });
  const issued = certificateRawFields(new Uint8Array(cert.rawData));
  if (Buffer.compare(Buffer.from(issued.issuer), Buffer.from(caRaw.subject)) !== 0) {
    // A library re-encoding (string types, ordering) would make Go reject the chain; fail loudly instead.
    throw new Error("issued certificate's issuer does not match the CA subject byte for byte");
  }
  return { certPem: pemOf(cert), keyPem: keys.privateKey ? await privateKeyToPem(keys.privateKey) : "" };
}

/** What callers need to know about a certificate. */
export interface ParsedCertificate {
  readonly commonName: string;
  readonly organizations: string[];
  readonly dnsNames: string[];
  /** Canonical spelling (see {@link canonicalIp}). */
  readonly ipAddresses: string[];
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Lower-case hex, without leading zero bytes. */
  readonly serialNumber: string;
  readonly isCA: boolean;
}

/** Reads the fields of a PEM certificate. */
export function parseCertificate(pem: string): ParsedCertificate {
  const cert = new x509.X509Certificate(pem);
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  const names = san?.names.items ?? [];
  return {
    commonName: cert.subjectName.getField("CN")[0] ?? "",
    organizations: cert.subjectName.getField("O"),
    dnsNames: names.filter((n) => n.type === "dns").map((n) => n.value),
    ipAddresses: names.filter((n) => n.type === "ip").map((n) => canonicalIp(n.value)),
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    serialNumber: cert.serialNumber.toLowerCase().replace(/^(00)+(?=.)/, ""),
    isCA: cert.getExtension(x509.BasicConstraintsExtension)?.ca ?? false,
  };
}

/**
 * True when `certPem` names `caPem` as its issuer (OpenSSL's issuer check:
 * names, key identifiers, CA key usage) and the CA's key verifies its
 * signature. Validity dates are not checked.
 */
export function verifySignedBy(certPem: string, caPem: string): boolean {
  const cert = new NodeX509(certPem);
  const ca = new NodeX509(caPem);
  return cert.checkIssued(ca) && cert.verify(ca.publicKey);
}

// In its own module so callers that only check a key (an agent's serving certificate) need not load the X.509 library.
export { keyMatchesCertificate } from "./key-match.js";

/**
 * kubeadm's `--discovery-token-ca-cert-hash` for a CA: `sha256:` and the hex
 * SHA-256 of the certificate's DER SubjectPublicKeyInfo as stored in it.
 */
export function caHash(certPem: string): string {
  const raw = certificateRawFields(new Uint8Array(new NodeX509(certPem).raw));
  return "sha256:" + createHash("sha256").update(raw.subjectPublicKeyInfo).digest("hex");
}
