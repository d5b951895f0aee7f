/**
 * The kubelet's serving certificate when none is configured, as upstream's
 * kubelet makes one (certutil.GenerateSelfSignedCertKey): a throwaway CA
 * `<host>-ca@<unix>` signs `<host>@<unix>` for the node's name and
 * addresses; the certificate file holds the leaf then that CA. Kept in
 * `<certDir>/kubelet.crt|key` when a directory is given, so a restarted
 * kubelet serves the same certificate.
 *
 * The X.509 library is loaded only to make one, and
 * {@link makeServingCertOffThread} makes it on a short-lived worker thread:
 * loaded on the agent's own thread, the library would stay in its memory
 * for good for one use at start (measured with Node 20: +22 MB RSS on the
 * main thread, +12 MB once a worker that made it has exited).
 */
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { workerEntry } from "../../cli/worker-entry.js";
import { writeFileAtomic } from "../../machinery/atomic-file.js";
import type { KeyPairPem } from "../../pki/certs.js";
import { keyMatchesCertificate } from "../../pki/key-match.js";
import { isIpAddress } from "../../pki/ip.js";

/** A serving certificate (chain) and key as PEM. */
export type ServingCert = KeyPairPem;

/** Makes a self-signed serving certificate for `host` (a name or an IP) and its other addresses. */
export async function selfSignedServingCert(host: string, addresses: readonly string[] = [], now = new Date()): Promise<ServingCert> {
  const { createCertificateAuthority, issueCertificate } = await import("../../pki/certs.js");
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

/** {@link selfSignedServingCert} on a worker thread that exits once it is made (see the file comment). */
export function makeServingCertOffThread(host: string, addresses: readonly string[] = []): Promise<ServingCert> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(workerEntry("serving-cert-worker", import.meta.url), { workerData: { host, addresses: [...addresses] } });
    let made: ServingCert | undefined;
    worker.once("message", (m: ServingCert) => {
      made = m;
    });
    worker.once("error", reject);
    worker.once("exit", (code) => (made ? resolve(made) : reject(new Error(`the serving certificate worker exited (code ${code}) without a certificate`))));
  });
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
  const made = await makeServingCertOffThread(host, addresses);
  mkdirSync(certDir, { recursive: true, mode: 0o700 });
  writeFileAtomic(keyFile, made.keyPem, { mode: 0o600 });
  writeFileAtomic(certFile, made.certPem, { mode: 0o644 });
  return made;
}
