/**
 * How `skiff image build|push|base` reach the cluster registry with no
 * setup: the registry is named `localhost:PORT` (or `127.0.0.1:PORT`), serves
 * HTTPS with a certificate from the cluster's server CA, and takes a login
 * password minted from the data dir's signing key. For those hosts this
 * makes a certificate directory holding that CA (`--cert-dir`; the machine's
 * own CAs stay trusted for every other registry) and an auth file with a
 * fresh password (`--authfile`), merged over what `buildah login` /
 * `skopeo login` stored so other registries keep their credentials.
 */
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { registrySigningKeyPath } from "../cli/registry.js";
import { parseReference } from "../runtime/images/reference.js";

/** What the tools need to reach registries; `cleanup` removes the password file. */
export interface RegistryAccess {
  /** A directory with the cluster CA as `ca.crt`, when the data dir has one. */
  readonly certDir?: string;
  /** An auth file (docker config format) with credentials for the local registry hosts. */
  readonly authFile?: string;
  /** The local registry hosts the auth file has a minted password for. */
  readonly loggedIn: readonly string[];
  cleanup(): void;
}

/** The cluster CA's file in a data dir. */
export function clusterCaPath(dataDir: string): string {
  return join(dataDir, "tls", "server-ca.crt");
}

/** True for `localhost`, `127.0.0.1` and `[::1]`, with or without a port: the names the cluster registry goes by on this machine. */
export function isLocalRegistryHost(host: string): boolean {
  return /^(localhost|127\.0\.0\.1|\[::1\])(:\d+)?$/.test(host);
}

/** The registry host of an image name (`localhost:5000/a/b:1` → `localhost:5000`). */
export function registryHostOf(name: string): string {
  return parseReference(name).domain;
}

/** Local registry hosts named anywhere in `texts` (a Dockerfile, build-arg values, tags). */
export function localRegistryHostsIn(texts: readonly string[]): string[] {
  const found = new Set<string>();
  for (const text of texts) {
    for (const m of text.matchAll(/(?<![\w.-])(localhost|127\.0\.0\.1|\[::1\]):(\d{1,5})(?=\/)/g)) found.add(`${m[1]}:${m[2]}`);
  }
  return [...found].sort();
}

/** The auth files buildah and skopeo read by default, in their order (containers-auth.json(5)). */
function defaultAuthFiles(): string[] {
  const files: string[] = [];
  if (process.env.REGISTRY_AUTH_FILE) files.push(process.env.REGISTRY_AUTH_FILE);
  const runtimeDir = process.env.XDG_RUNTIME_DIR ?? (process.getuid?.() === 0 ? "/run" : undefined);
  if (runtimeDir) files.push(join(runtimeDir, "containers", "auth.json"));
  if (process.getuid?.() === 0 && !process.env.XDG_RUNTIME_DIR) files.push("/run/containers/0/auth.json");
  files.push(join(homedir(), ".config", "containers", "auth.json"), join(homedir(), ".docker", "config.json"));
  return files;
}

type Auths = Record<string, { auth?: string }>;

/** The credentials the user stored with `buildah login` and friends (later files do not override earlier ones). */
function storedAuths(): Auths {
  const out: Auths = {};
  for (const file of defaultAuthFiles()) {
    try {
      const parsed = JSON.parse(readFileSync(file, "utf8")) as { auths?: Auths };
      for (const [host, v] of Object.entries(parsed.auths ?? {})) if (!(host in out)) out[host] = v;
    } catch {
      // absent or unreadable: nothing stored there
    }
  }
  return out;
}

/** Options of {@link prepareRegistryAccess}. */
export interface RegistryAccessOptions {
  readonly dataDir: string;
  /** Registry hosts the command will talk to; the local ones get the cluster CA and a minted password. */
  readonly hosts: readonly string[];
  /** Where to write the cert dir and auth file (under the data dir's build/). */
  readonly workDir: string;
  /** Explicit `user:pass` from the command line: then nothing is minted. */
  readonly creds?: string;
}

/**
 * Sets up the cluster CA and credentials for the local registry hosts in
 * `hosts`. A password is minted only when this process can read the
 * signing key (the server's user); otherwise the tools fall back to what
 * `buildah login` stored or `--creds`.
 */
export async function prepareRegistryAccess(o: RegistryAccessOptions): Promise<RegistryAccess> {
  const local = [...new Set(o.hosts.filter(isLocalRegistryHost))];
  let certDir: string | undefined;
  const ca = clusterCaPath(o.dataDir);
  if (existsSync(ca)) {
    certDir = join(o.workDir, "certs");
    mkdirSync(certDir, { recursive: true });
    copyFileSync(ca, join(certDir, "ca.crt"));
  }
  let key: string | undefined;
  try {
    key = readFileSync(registrySigningKeyPath(o.dataDir), "utf8");
  } catch {
    key = undefined;
  }
  if (o.creds || !key || local.length === 0) return { ...(certDir ? { certDir } : {}), loggedIn: [], cleanup: () => {} };
  const { mintLoginPassword, LOGIN_USERNAME } = await import("../registry/auth.js");
  // One hour: long enough for a slow build, short enough that a leaked file is soon worthless.
  const password = await mintLoginPassword({ key, ttl: 3600 });
  const auths = storedAuths();
  for (const host of local) auths[host] = { auth: Buffer.from(`${LOGIN_USERNAME}:${password}`).toString("base64") };
  mkdirSync(o.workDir, { recursive: true, mode: 0o700 });
  const authFile = join(o.workDir, `auth-${process.pid}.json`);
  writeFileSync(authFile, JSON.stringify({ auths }), { mode: 0o600 });
  chmodSync(authFile, 0o600);
  return {
    ...(certDir ? { certDir } : {}),
    authFile,
    loggedIn: local,
    cleanup: () => rmSync(authFile, { force: true }),
  };
}

/**
 * A plain-words reason for a failed registry operation, from the tool's
 * stderr: unreachable, unauthorized, untrusted certificate, not found, or
 * a short name with nowhere to look. Undefined when nothing matches.
 */
export function explainRegistryFailure(stderr: string, host?: string): string | undefined {
  const where = host ? `registry ${host}` : "the registry";
  const local = host ? isLocalRegistryHost(host) : false;
  if (/short-name .* did not resolve|short-name resolution enforced/i.test(stderr)) {
    return "a short image name (such as `FROM debian`) has no registry to come from here: name images fully, e.g. localhost:5000/skiff/debian:bookworm (see skiff image base)";
  }
  if (/connection refused|no such host|i\/o timeout|network is unreachable|connect: /i.test(stderr)) {
    return `${where} is unreachable${local ? ": is skiff server running, and is PORT its --registry-port?" : ""}`;
  }
  if (/x509|certificate signed by unknown authority|certificate is not valid/i.test(stderr)) {
    return `${where} presented a certificate that is not trusted${local ? " (skiff trusts the cluster CA of --data-dir for localhost registries: is it the right data dir?)" : ""}`;
  }
  if (/unauthorized|authentication required|denied|401/i.test(stderr)) {
    return `unauthorized at ${where}: ${local ? "run this as the user of skiff server's --data-dir (its signing key mints the password), or " : ""}log in with \`skiff registry login-password | buildah login --username skiff --password-stdin HOST:PORT\` or pass --creds USER:PASS`;
  }
  if (/manifest unknown|not found|name unknown/i.test(stderr)) return `the image is not in ${where}`;
  return undefined;
}
