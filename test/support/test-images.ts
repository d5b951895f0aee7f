/**
 * Test images made on this machine, with no network: a busybox image from
 * the busybox-static binary (/usr/bin/busybox) with a symlink per applet,
 * written as an OCI image layout archive or a docker-archive; pushing one
 * to a registry with skopeo; and Debian's `docker-registry` (distribution
 * v2) started on a free loopback port, plain, with htpasswd (Basic) auth,
 * with token (Bearer) auth backed by a small token server, or over TLS.
 *
 * Everything made lives under `/tmp/skiff-*` and every registry is stopped
 * by its PID; callers call the returned `cleanup()`/`stop()`.
 */
import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process";
import { createHash, createPrivateKey, randomBytes, sign, X509Certificate } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { gzipSync } from "node:zlib";
import { ensureHostTools } from "../../src/machinery/debian-packages.js";
import { createCertificateAuthority, issueCertificate, type KeyPairPem } from "../../src/pki/certs.js";
import type { RegistryConfig } from "../../src/runtime/images/registry-config.js";
import { buildTar, type TarEntry } from "../../src/runtime/images/tar-writer.js";

const execFileP = promisify(execFile);

export const BUSYBOX = "/usr/bin/busybox";
const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

const sha256 = (b: Uint8Array | string) => `sha256:${createHash("sha256").update(b).digest("hex")}`;
const hex = (digest: string) => digest.slice("sha256:".length);

/** A temporary directory named `/tmp/skiff-<what>-…`. */
export function tempDir(what: string): string {
  return mkdtempSync(join(tmpdir(), `skiff-${what}-`));
}

/** Every applet busybox-static provides (`busybox --list`). */
export function busyboxApplets(): string[] {
  return execFileSync(BUSYBOX, ["--list"], { encoding: "utf8" })
    .split("\n")
    .map((s) => s.trim())
    .filter((s) => s !== "" && s !== "busybox" && /^[\w.[-]+$/.test(s));
}

/** The entries of a busybox root filesystem: /bin/busybox, one symlink per applet, /etc/passwd, /tmp, … */
export function busyboxRootfs(extraFiles: Readonly<Record<string, string>> = {}): TarEntry[] {
  const dirs = ["bin/", "dev/", "etc/", "home/", "proc/", "root/", "sys/", "usr/", "usr/bin/", "var/"];
  const entries: TarEntry[] = dirs.map((path) => ({ path, type: "dir" as const, mode: path === "root/" ? 0o700 : 0o755 }));
  entries.push({ path: "tmp/", type: "dir", mode: 0o1777 });
  entries.push({ path: "bin/busybox", type: "file", body: readFileSync(BUSYBOX), mode: 0o755 });
  for (const a of busyboxApplets()) entries.push({ path: `bin/${a}`, type: "symlink", linkpath: "busybox" });
  entries.push(
    { path: "etc/passwd", type: "file", body: "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n" },
    { path: "etc/group", type: "file", body: "root:x:0:\nnobody:x:65534:\n" },
  );
  for (const [path, body] of Object.entries(extraFiles)) entries.push({ path: path.replace(/^\/+/, ""), type: "file", body, mode: 0o755 });
  return entries;
}

/** Options of {@link buildTestImage}. */
export interface TestImageOptions {
  /** Name recorded in the archive (`org.opencontainers.image.ref.name` / RepoTags); "skiff.test/busybox:latest" by default. */
  readonly name?: string;
  readonly format?: "oci" | "docker";
  /** gzip the whole archive (tar.gz). */
  readonly gzipArchive?: boolean;
  /** Layer compression inside an OCI archive ("gzip" by default; docker-archives are always uncompressed). */
  readonly layerCompression?: "gzip" | "none";
  readonly entrypoint?: readonly string[];
  /** ["sh"] by default, as the busybox image. */
  readonly cmd?: readonly string[];
  /** `KEY=value`; PATH is always set first. */
  readonly env?: readonly string[];
  readonly workingDir?: string;
  readonly user?: string;
  readonly stopSignal?: string;
  /** Extra files (path → contents, mode 0755) in the image. */
  readonly extraFiles?: Readonly<Record<string, string>>;
  /** Extra layers on top of the busybox one (e.g. whiteouts). */
  readonly extraLayers?: readonly (readonly TarEntry[])[];
  /**
   * Make an image index with one image per platform (`os/arch`); all share
   * the layers, the configs differ in `architecture`. One platform (the
   * host's) by default, with no index.
   */
  readonly platforms?: readonly string[];
  /** Directory to write into; a new `/tmp/skiff-image-…` by default (removed by `cleanup`). */
  readonly dir?: string;
}

/** A built test image. */
export interface TestImage {
  /** The archive file. */
  readonly path: string;
  readonly format: "oci" | "docker";
  readonly name: string;
  /** Image id (config digest) of the host platform's image. */
  readonly id: string;
  /** Config digest per platform (`linux/amd64` → id). */
  readonly ids: Readonly<Record<string, string>>;
  /** Digest of the manifest (single platform) or of the index (several); undefined for docker-archives. */
  readonly digest?: string;
  /** Layer blob digests, bottom first. */
  readonly layers: readonly string[];
  /** Removes the directory the image was written to (when this call made it). */
  cleanup(): void;
}

function hostArch(): string {
  return process.arch === "x64" ? "amd64" : process.arch;
}

interface Blob {
  readonly digest: string;
  readonly data: Buffer;
}

function blob(data: Buffer | string): Blob {
  const b = Buffer.isBuffer(data) ? data : Buffer.from(data);
  return { digest: sha256(b), data: b };
}

/** Builds a busybox test image archive; see {@link TestImageOptions}. */
export function buildTestImage(opts: TestImageOptions = {}): TestImage {
  const made = opts.dir === undefined;
  const dir = opts.dir ?? tempDir("image");
  const format = opts.format ?? "oci";
  const name = opts.name ?? "skiff.test/busybox:latest";
  const compression = format === "docker" ? "none" : (opts.layerCompression ?? "gzip");
  const layerTars = [buildTar(busyboxRootfs(opts.extraFiles)), ...(opts.extraLayers ?? []).map((l) => buildTar(l))];
  const diffIds = layerTars.map((t) => sha256(t));
  const layerBlobs = layerTars.map((t) => blob(compression === "gzip" ? gzipSync(t, { level: 6 }) : t));
  const layerType = compression === "gzip" ? "application/vnd.oci.image.layer.v1.tar+gzip" : "application/vnd.oci.image.layer.v1.tar";
  const platforms = opts.platforms ?? [`linux/${hostArch()}`];
  const blobs: Blob[] = [...layerBlobs];
  const manifests: { platform: string; config: Blob; manifest: Blob }[] = [];
  for (const p of platforms) {
    const [os, architecture] = p.split("/") as [string, string];
    const config = blob(
      JSON.stringify({
        architecture,
        os,
        config: {
          Env: [`PATH=${DEFAULT_PATH}`, ...(opts.env ?? [])],
          ...(opts.entrypoint ? { Entrypoint: opts.entrypoint } : {}),
          Cmd: opts.cmd ?? ["sh"],
          ...(opts.workingDir ? { WorkingDir: opts.workingDir } : {}),
          ...(opts.user ? { User: opts.user } : {}),
          ...(opts.stopSignal ? { StopSignal: opts.stopSignal } : {}),
        },
        rootfs: { type: "layers", diff_ids: diffIds },
        history: layerTars.map(() => ({ created_by: "skiff test image" })),
      }),
    );
    const manifest = blob(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: config.digest, size: config.data.length },
        layers: layerBlobs.map((l) => ({ mediaType: layerType, digest: l.digest, size: l.data.length })),
      }),
    );
    blobs.push(config, manifest);
    manifests.push({ platform: p, config, manifest });
  }
  const ids = Object.fromEntries(manifests.map((m) => [m.platform, m.config.digest]));
  const host = manifests.find((m) => m.platform === `linux/${hostArch()}`) ?? manifests[0]!;
  const file = join(dir, `${name.replace(/[^\w.-]+/g, "_")}.${format}.tar${opts.gzipArchive ? ".gz" : ""}`);
  let digest: string | undefined;
  let archive: Buffer;
  if (format === "oci") {
    let top: { mediaType: string; digest: string; size: number };
    if (manifests.length === 1) {
      top = { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: host.manifest.digest, size: host.manifest.data.length };
    } else {
      const index = blob(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: "application/vnd.oci.image.index.v1+json",
          manifests: manifests.map((m) => {
            const [os, architecture] = m.platform.split("/") as [string, string];
            return { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: m.manifest.digest, size: m.manifest.data.length, platform: { os, architecture } };
          }),
        }),
      );
      blobs.push(index);
      top = { mediaType: "application/vnd.oci.image.index.v1+json", digest: index.digest, size: index.data.length };
    }
    digest = top.digest;
    const indexJson = JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.index.v1+json",
      manifests: [{ ...top, annotations: { "org.opencontainers.image.ref.name": name } }],
    });
    const seen = new Set<string>();
    const entries: TarEntry[] = [
      { path: "oci-layout", type: "file", body: JSON.stringify({ imageLayoutVersion: "1.0.0" }) },
      { path: "index.json", type: "file", body: indexJson },
      { path: "blobs/", type: "dir" },
      { path: "blobs/sha256/", type: "dir" },
    ];
    for (const b of blobs) {
      if (seen.has(b.digest)) continue;
      seen.add(b.digest);
      entries.push({ path: `blobs/sha256/${hex(b.digest)}`, type: "file", body: b.data });
    }
    archive = buildTar(entries);
  } else {
    if (manifests.length !== 1) throw new Error("docker-archives hold one platform");
    const entries: TarEntry[] = [
      {
        path: "manifest.json",
        type: "file",
        body: JSON.stringify([
          { Config: `${hex(host.config.digest)}.json`, RepoTags: [name], Layers: layerBlobs.map((l) => `${hex(l.digest)}/layer.tar`) },
        ]),
      },
      { path: `${hex(host.config.digest)}.json`, type: "file", body: host.config.data },
    ];
    for (const l of layerBlobs) entries.push({ path: `${hex(l.digest)}/`, type: "dir" }, { path: `${hex(l.digest)}/layer.tar`, type: "file", body: l.data });
    archive = buildTar(entries);
  }
  writeFileSync(file, opts.gzipArchive ? gzipSync(archive) : archive);
  return {
    path: file,
    format,
    name,
    id: host.config.digest,
    ids,
    ...(format === "oci" ? { digest } : {}),
    layers: layerBlobs.map((l) => l.digest),
    cleanup: () => {
      if (made) rmSync(dir, { recursive: true, force: true });
      else rmSync(file, { force: true });
    },
  };
}

/** Credentials for a push or for a registry's users. */
export interface Creds {
  readonly username: string;
  readonly password: string;
}

/**
 * Pushes `image` to `dest` (`127.0.0.1:PORT/name:tag`) with skopeo over
 * plain HTTP or unverified TLS; every platform of an index (`--all`).
 */
export async function pushImage(image: TestImage, dest: string, opts: { creds?: Creds } = {}): Promise<void> {
  const src = `${image.format === "oci" ? "oci-archive" : "docker-archive"}:${image.path}`;
  const args = ["--insecure-policy", "copy", "--all", "--dest-tls-verify=false", "--retry-times", "0"];
  if (opts.creds) args.push("--dest-creds", `${opts.creds.username}:${opts.creds.password}`);
  else args.push("--dest-no-creds");
  // Archives made here are already in their final form: keep their digests.
  args.push("--preserve-digests", src, `docker://${dest}`);
  try {
    await execFileP("skopeo", args, { timeout: 120_000 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`skopeo ${args.join(" ")} failed: ${e.stderr || e.message}`);
  }
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createNetServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Options of {@link startTestRegistry}. */
export interface TestRegistryOptions {
  /** No auth (default), Basic with an htpasswd file, or Bearer tokens from a token server this starts. */
  readonly auth?: "none" | "htpasswd" | "token";
  /** Users who may pull and push (auth "htpasswd" and "token"). */
  readonly users?: readonly Creds[];
  /** Serve HTTPS with a certificate from a CA made here (`caFile`). */
  readonly tls?: boolean;
}

/** A running docker-registry. */
export interface TestRegistry {
  /** `127.0.0.1:PORT`, the registry part of image names. */
  readonly host: string;
  /** `http://127.0.0.1:PORT` or `https://…`. */
  readonly url: string;
  /** The CA of the registry's certificate (tls only). */
  readonly caFile?: string;
  /** A registries.yaml-shaped config reaching this registry (plain HTTP endpoint when not TLS). */
  registryConfig(extra?: { auth?: Creds; caFile?: string; insecureSkipVerify?: boolean }): RegistryConfig;
  /** Token requests the token server answered (auth "token"). */
  readonly tokenRequests: { user: string | undefined; scope: string | undefined }[];
  /** Stops the registry (by PID) and token server, removes its directory. */
  stop(): Promise<void>;
}

async function htpasswdLine(c: Creds): Promise<string> {
  ensureHostTools([{ command: "htpasswd", debianPackage: "apache2-utils", neededFor: "bcrypt htpasswd for registry auth tests" }], (l) =>
    process.stderr.write(`test-images: ${l}\n`),
  );
  const { stdout } = await execFileP("htpasswd", ["-nbB", "-C", "5", c.username, c.password]);
  return stdout.trim();
}

function b64url(b: Buffer | string): string {
  return Buffer.from(b).toString("base64url");
}

/** A token server as distribution's token auth expects: ES256 JWTs with the signing certificate in `x5c`. */
async function startTokenServer(
  users: readonly Creds[],
  issuer: string,
  service: string,
  signer: KeyPairPem,
  log: { user: string | undefined; scope: string | undefined }[],
): Promise<{ server: Server; port: number }> {
  const key = createPrivateKey(signer.keyPem);
  const certDer = new X509Certificate(signer.certPem).raw;
  const server = createServer((req, res) => {
    const u = new URL(req.url ?? "/", "http://x");
    if (u.pathname !== "/token") {
      res.writeHead(404).end();
      return;
    }
    let user: string | undefined;
    const authz = req.headers.authorization;
    if (authz?.startsWith("Basic ")) {
      const [name, ...rest] = Buffer.from(authz.slice(6), "base64").toString().split(":");
      const ok = users.some((c) => c.username === name && c.password === rest.join(":"));
      if (!ok) {
        res.writeHead(401, { "Content-Type": "application/json" }).end(JSON.stringify({ details: "incorrect username or password" }));
        return;
      }
      user = name;
    }
    const scopes = u.searchParams.getAll("scope");
    log.push({ user, scope: scopes.join(" ") || undefined });
    // Known users get what they ask for; anonymous callers get a token with no access (the registry then answers 401).
    const access = user
      ? scopes.map((s) => {
          const [type, ...mid] = s.split(":");
          const actions = mid.pop()!.split(",");
          return { type, name: mid.join(":"), actions };
        })
      : [];
    const now = Math.floor(Date.now() / 1000);
    const header = { typ: "JWT", alg: "ES256", x5c: [certDer.toString("base64")] };
    const claims = { iss: issuer, sub: user ?? "", aud: service, exp: now + 600, nbf: now - 60, iat: now, jti: randomBytes(8).toString("hex"), access };
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const sig = sign("sha256", Buffer.from(input), { key, dsaEncoding: "ieee-p1363" });
    const token = `${input}.${b64url(sig)}`;
    res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify({ token, access_token: token, expires_in: 600 }));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { server, port: (server.address() as { port: number }).port };
}

async function waitForRegistry(url: string, child: ChildProcess, stderr: () => string, caFile?: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  const ca = caFile ? readFileSync(caFile) : undefined;
  const mod = url.startsWith("https:") ? await import("node:https") : await import("node:http");
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited with ${child.exitCode}: ${stderr()}`);
    const up = await new Promise<boolean>((resolve) => {
      const req = mod.get(`${url}/v2/`, ca ? { ca } : {}, (res) => {
        res.resume();
        resolve(true);
      });
      req.on("error", () => resolve(false));
    });
    if (up) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`docker-registry did not answer at ${url}: ${stderr()}`);
}

/** Starts `/usr/bin/docker-registry` on a free loopback port; see {@link TestRegistryOptions}. */
export async function startTestRegistry(opts: TestRegistryOptions = {}): Promise<TestRegistry> {
  const dir = tempDir("registry");
  const users = opts.users ?? [];
  const tokenRequests: { user: string | undefined; scope: string | undefined }[] = [];
  let tokenServer: Server | undefined;
  let child: ChildProcess | undefined;
  try {
    const port = await freePort();
    const host = `127.0.0.1:${port}`;
    const scheme = opts.tls ? "https" : "http";
    const lines = [
      "version: 0.1",
      "log:",
      "  level: error",
      "  accesslog:",
      "    disabled: true",
      "storage:",
      "  filesystem:",
      `    rootdirectory: ${join(dir, "data")}`,
      "  delete:",
      "    enabled: true",
      "http:",
      `  addr: ${host}`,
      `  secret: ${randomBytes(16).toString("hex")}`,
    ];
    let caFile: string | undefined;
    if (opts.tls) {
      const ca = await createCertificateAuthority({ commonName: "skiff-test-registry-ca" });
      const cert = await issueCertificate({ ca, commonName: "127.0.0.1", ipAddresses: ["127.0.0.1"], usages: ["server"], validDays: 1 });
      caFile = join(dir, "ca.pem");
      writeFileSync(caFile, ca.certPem);
      writeFileSync(join(dir, "tls.crt"), cert.certPem);
      writeFileSync(join(dir, "tls.key"), cert.keyPem, { mode: 0o600 });
      lines.push("  tls:", `    certificate: ${join(dir, "tls.crt")}`, `    key: ${join(dir, "tls.key")}`);
    }
    if (opts.auth === "htpasswd") {
      const file = join(dir, "htpasswd");
      writeFileSync(file, `${(await Promise.all(users.map(htpasswdLine))).join("\n")}\n`);
      lines.push("auth:", "  htpasswd:", "    realm: skiff-test", `    path: ${file}`);
    } else if (opts.auth === "token") {
      const signer = await createCertificateAuthority({ commonName: "skiff-test-token-signer" });
      writeFileSync(join(dir, "token-ca.pem"), signer.certPem);
      const issuer = "skiff-test-issuer";
      const service = "skiff-test-registry";
      const ts = await startTokenServer(users, issuer, service, signer, tokenRequests);
      tokenServer = ts.server;
      lines.push(
        "auth:",
        "  token:",
        `    realm: http://127.0.0.1:${ts.port}/token`,
        `    service: ${service}`,
        `    issuer: ${issuer}`,
        `    rootcertbundle: ${join(dir, "token-ca.pem")}`,
      );
    }
    mkdirSync(join(dir, "data"));
    writeFileSync(join(dir, "config.yml"), `${lines.join("\n")}\n`);
    let err = "";
    const proc = spawn("docker-registry", ["serve", join(dir, "config.yml")], { stdio: ["ignore", "ignore", "pipe"] });
    child = proc;
    proc.stderr?.on("data", (d: Buffer) => {
      err = (err + d.toString()).slice(-8192);
    });
    const url = `${scheme}://${host}`;
    await waitForRegistry(url, proc, () => err, caFile);
    const ts = tokenServer;
    return {
      host,
      url,
      ...(caFile ? { caFile } : {}),
      tokenRequests,
      registryConfig(extra = {}) {
        const tls = extra.caFile || extra.insecureSkipVerify ? { caFile: extra.caFile, insecureSkipVerify: extra.insecureSkipVerify } : undefined;
        return {
          mirrors: { [host]: { endpoint: [url] } },
          configs: extra.auth || tls ? { [host]: { ...(extra.auth ? { auth: extra.auth } : {}), ...(tls ? { tls } : {}) } } : {},
        };
      },
      async stop() {
        await stopChild(proc);
        if (ts) await new Promise<void>((r) => ts.close(() => r()));
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    if (child) await stopChild(child);
    if (tokenServer) tokenServer.close();
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  process.kill(child.pid!, "SIGTERM");
  const timer = setTimeout(() => {
    if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, "SIGKILL");
  }, 10_000);
  await exited;
  clearTimeout(timer);
}
