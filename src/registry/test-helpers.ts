/**
 * Test helpers for the registry: a registry on a free loopback port with a
 * CA made here, and an HTTPS client that trusts that CA. Everything lives
 * under `/tmp/skiff-registry-*`; callers call `stop()`.
 */
import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger } from "../machinery/log.js";
import { createCertificateAuthority, issueCertificate } from "../pki/certs.js";
import { mintLoginPassword } from "./auth.js";
import { type RegistryOptions, type RunningRegistry, startRegistry } from "./server.js";

export interface TestRegistryServer {
  readonly registry: RunningRegistry;
  readonly port: number;
  readonly host: string;
  /** `127.0.0.1:PORT` */
  readonly addr: string;
  readonly dir: string;
  /** Storage directory. */
  readonly dataDir: string;
  /** A directory with `ca.crt` for skopeo's `--cert-dir`. */
  readonly certDir: string;
  readonly caPem: string;
  readonly signingKey: KeyObject;
  password(ttl?: number): Promise<string>;
  call(method: string, path: string, opts?: CallOptions): Promise<CallResult>;
  /** Restarts the server on the same directory and port. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export interface CallOptions {
  readonly headers?: Record<string, string>;
  readonly body?: Buffer | string;
  /** A TLS client certificate to show. */
  readonly clientCert?: { readonly certPem: string; readonly keyPem: string };
}
export interface CallResult {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
  json(): unknown;
}

/** `clientCaPem`: the registry asks for client certificates from this CA (nodes pull as themselves). */
export async function startTestRegistryServer(extra: Partial<RegistryOptions> = {}, clientCaPem?: string): Promise<TestRegistryServer> {
  const dir = mkdtempSync(join(tmpdir(), "skiff-registry-"));
  const dataDir = join(dir, "data");
  const certDir = join(dir, "certs");
  mkdirSync(certDir);
  const ca = await createCertificateAuthority({ commonName: "skiff-registry-test-ca" });
  const cert = await issueCertificate({ ca, commonName: "127.0.0.1", ipAddresses: ["127.0.0.1"], usages: ["server"], validDays: 1 });
  writeFileSync(join(certDir, "ca.crt"), ca.certPem);
  const signingKey = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
  const opts: RegistryOptions = {
    dir: dataDir,
    listen: { host: "127.0.0.1", port: 0 },
    tls: { keyPem: cert.keyPem, certPem: cert.certPem, ...(clientCaPem !== undefined ? { clientCaPem } : {}) },
    signingKey,
    logger: silentLogger,
    ...extra,
  };
  let registry = await startRegistry(opts);
  const port = registry.port;
  const call = (method: string, path: string, o: CallOptions = {}): Promise<CallResult> =>
    new Promise((resolve, reject) => {
      const body = o.body === undefined ? undefined : Buffer.from(o.body);
      const headers: Record<string, string | number> = { ...o.headers };
      if (body !== undefined) headers["Content-Length"] = body.length;
      const client = o.clientCert ? { cert: o.clientCert.certPem, key: o.clientCert.keyPem } : {};
      const req = request({ host: "127.0.0.1", port, method, path, headers, ca: ca.certPem, agent: false, ...client }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const b = Buffer.concat(chunks);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: b, json: () => JSON.parse(b.toString("utf8")) });
        });
        res.on("error", reject);
      });
      req.on("error", reject);
      req.end(body);
    });
  const t: TestRegistryServer = {
    get registry() {
      return registry;
    },
    port,
    host: "127.0.0.1",
    addr: `127.0.0.1:${port}`,
    dir,
    dataDir,
    certDir,
    caPem: ca.certPem,
    signingKey,
    password: (ttl?: number) => mintLoginPassword({ key: signingKey, ttl }),
    call,
    async restart() {
      await registry.stop();
      registry = await startRegistry({ ...opts, listen: { host: "127.0.0.1", port } });
    },
    async stop() {
      await registry.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return t;
}

/** A Bearer token for `scopes` from the registry's token endpoint, with the given Basic credentials (or none). */
export async function fetchToken(
  t: TestRegistryServer,
  scopes: readonly string[],
  creds?: { username: string; password: string },
  clientCert?: CallOptions["clientCert"],
): Promise<CallResult & { token?: string }> {
  const q = new URLSearchParams({ service: "skiff-registry" });
  for (const s of scopes) q.append("scope", s);
  const headers: Record<string, string> = {};
  if (creds) headers.Authorization = `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString("base64")}`;
  const r = await t.call("GET", `/v2/token?${q}`, { headers, ...(clientCert ? { clientCert } : {}) });
  return { ...r, token: r.status === 200 ? (r.json() as { token: string }).token : undefined };
}
