/**
 * The kubelet's serving certificate when none is configured, as upstream's
 * kubelet makes one (certutil.GenerateSelfSignedCertKey): a throwaway CA
 * `<host>-ca@<unix>` signs `<host>@<unix>` for the node's name and
 * addresses; the certificate file holds the leaf then that CA. Kept in
 * `<certDir>/kubelet.crt|key` when a directory is given, so a restarted
 * kubelet serves the same certificate.
 */
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../../machinery/atomic-file.js";
import { createCertificateAuthority, issueCertificate, type KeyPairPem, keyMatchesCertificate } from "../../pki/certs.js";
import { isIpAddress } from "../../pki/ip.js";

/** A serving certificate (chain) and key as PEM. */
export type ServingCert = KeyPairPem;

/** Makes a self-signed serving certificate for `host` (a name or an IP) and its other addresses. */
export async function selfSignedServingCert(host: string, addresses: readonly string[] = [], now = new Date()): Promise<ServingCert> {
  const unix = Math.floor(now.getTime() / 1000);
  const ca = await createCertificateAuthority({ commonName: `${host}-ca@${unix}`, validDays: 365, now });
  const all = [host, ...addresses];
  const leaf = await issueCertificate({
    ca,
    commonName: `${host}@${unix}`,
    dnsNames: [...new Set(all.filter((a) => !isIpAddress(a)))],
    ipAddresses: [...new Set(all.filter(isIpAddress))],
    usages: ["server"],
    validDays: 365,
    now,
  });
  return { certPem: leaf.certPem + ca.certPem, keyPem: leaf.keyPem };
}

/** The certificate in `certDir` (`kubelet.crt`, `kubelet.key`), made and written there first if missing or broken. */
export async function loadOrCreateServingCert(certDir: string, host: string, addresses: readonly string[] = []): Promise<ServingCert> {
  const certFile = join(certDir, "kubelet.crt");
  const keyFile = join(certDir, "kubelet.key");
  if (existsSync(certFile) && existsSync(keyFile)) {
    const certPem = readFileSync(certFile, "utf8");
    const keyPem = readFileSync(keyFile, "utf8");
    try {
      if (keyMatchesCertificate(keyPem, certPem)) return { certPem, keyPem };
    } catch {
      // Unreadable: make a new one below.
    }
  }
  const made = await selfSignedServingCert(host, addresses);
  mkdirSync(certDir, { recursive: true, mode: 0o700 });
  writeFileAtomic(keyFile, made.keyPem, { mode: 0o600 });
  writeFileAtomic(certFile, made.certPem, { mode: 0o644 });
  return made;
}
