/**
 * The ServiceAccount signing key, as kube-apiserver's
 * `--service-account-signing-key-file` / `--service-account-key-file` and
 * kube-controller-manager's `--service-account-private-key-file` (one file,
 * `<data-dir>/tls/service-account.key`, as k3s keeps `service.key`): made at
 * first start (RSA 2048, RS256, upstream's default), an ECDSA P-256 key found
 * there is used as ES256. The key id is upstream's: the unpadded base64url
 * SHA-256 of the public key's PKIX DER.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { writeFileAtomic } from "../../../machinery/atomic-file.js";

/** The file name in `<data-dir>/tls`. */
export const SERVICE_ACCOUNT_KEY_FILE = "service-account.key";

/** JWS algorithms this server signs and verifies with. */
export type SigningAlgorithm = "RS256" | "ES256";

/** A loaded key pair. */
export interface SigningKey {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** Upstream's keyIDFromPublicKey. */
  readonly kid: string;
  readonly alg: SigningAlgorithm;
}

/** A public key tokens are verified with. */
export interface VerificationKey {
  readonly publicKey: KeyObject;
  readonly kid: string;
  readonly alg: SigningAlgorithm;
}

/** Where the key lives under a data dir's `tls/`. */
export function serviceAccountKeyPath(tlsDir: string): string {
  return join(tlsDir, SERVICE_ACCOUNT_KEY_FILE);
}

/** Reads the key at `file`, creating an RSA 2048 key (mode 0600) if there is none. */
export function ensureServiceAccountKey(file: string): SigningKey {
  if (!existsSync(file)) {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    // PKCS#1, as kubeadm's sa.key and k3s' service.key.
    writeFileAtomic(file, privateKey.export({ type: "pkcs1", format: "pem" }) as string, { mode: 0o600 });
  }
  return loadSigningKey(readFileSync(file, "utf8"), file);
}

/** Parses a PEM private key; throws naming `source` when it is not an RSA or P-256 key. */
export function loadSigningKey(pem: string, source = "service account key"): SigningKey {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch (err) {
    throw new Error(`${source}: not a PEM private key: ${(err as Error).message}`);
  }
  const publicKey = createPublicKey(privateKey);
  return { privateKey, ...verificationKey(publicKey, source) };
}

/** The algorithm and key id of a public key. */
export function verificationKey(publicKey: KeyObject, source = "service account key"): VerificationKey {
  const alg = algorithmOf(publicKey, source);
  return { publicKey, kid: keyId(publicKey), alg };
}

function algorithmOf(key: KeyObject, source: string): SigningAlgorithm {
  if (key.asymmetricKeyType === "rsa") {
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < 2048) throw new Error(`${source}: RSA keys must be at least 2048 bits, this one has ${bits}`);
    return "RS256";
  }
  if (key.asymmetricKeyType === "ec" && key.asymmetricKeyDetails?.namedCurve === "prime256v1") return "ES256";
  throw new Error(`${source}: unsupported key type ${key.asymmetricKeyType}${key.asymmetricKeyDetails?.namedCurve ? ` (${key.asymmetricKeyDetails.namedCurve})` : ""}; use RSA or ECDSA P-256`);
}

/** Upstream's keyIDFromPublicKey: base64url (no padding) of SHA-256 over the PKIX DER. */
export function keyId(publicKey: KeyObject): string {
  const der = publicKey.export({ type: "spki", format: "der" });
  return createHash("sha256").update(der).digest("base64url");
}
