/** Whether a private key belongs to a certificate, with node:crypto alone (no X.509 library). */
import { createPrivateKey, createPublicKey, X509Certificate } from "node:crypto";

/** True when the private key in `keyPem` is the one certified by `certPem`. */
export function keyMatchesCertificate(keyPem: string, certPem: string): boolean {
  const fromKey = createPublicKey(createPrivateKey(keyPem)).export({ type: "spki", format: "der" });
  const fromCert = new X509Certificate(certPem).publicKey.export({ type: "spki", format: "der" });
  return Buffer.compare(fromKey, fromCert) === 0;
}
