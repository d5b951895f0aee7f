/**
 * Registry credentials for a pod's image from its `imagePullSecrets`, as
 * upstream's credential provider keyring reads them: Secrets of type
 * `kubernetes.io/dockerconfigjson` (`{"auths": {KEY: {...}}}`) and the
 * older `kubernetes.io/dockercfg` (`{KEY: {...}}`); a KEY matches an image
 * when its host (with port, `*` matching one DNS label) equals the image's
 * registry and its path, if any, is a prefix of the image's repository.
 */
import type { Pod, Secret } from "kubernetes-types/core/v1.js";
import { parseReference } from "../../runtime/images/reference.js";
import type { AuthConfig } from "../../runtime/types.js";
import type { PodObjects } from "../volumes/objects.js";

/** What was found: credentials in match order, and the secrets that could not be read. */
export interface PullCredentials {
  readonly auths: readonly AuthConfig[];
  readonly missing: readonly string[];
}

interface DockerConfigEntry {
  username?: string;
  password?: string;
  auth?: string;
  identitytoken?: string;
}

/** Docker Hub's historical keys all mean docker.io. */
const DOCKER_HUB = new Set(["index.docker.io", "registry-1.docker.io", "docker.io"]);

function normalizedHost(host: string): string {
  return DOCKER_HUB.has(host) ? "docker.io" : host;
}

/** `https://host:port/path/` → host:port and path, as the keyring parses keys. */
function parseKey(key: string): { host: string; path: string } {
  const noScheme = key.replace(/^[a-z]+:\/\//, "");
  const slash = noScheme.indexOf("/");
  const host = slash < 0 ? noScheme : noScheme.slice(0, slash);
  // Docker Hub's `/v1/` suffix is API versioning, not a repository path.
  const path = slash < 0 ? "" : noScheme.slice(slash + 1).replace(/^v[12]\/?$/, "").replace(/\/+$/, "");
  return { host: normalizedHost(host.toLowerCase()), path };
}

function hostMatches(pattern: string, host: string): boolean {
  const p = pattern.split(".");
  const h = host.split(".");
  if (p.length !== h.length) return false;
  return p.every((label, i) => {
    const re = new RegExp(`^${label.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^.]*")}$`);
    return re.test(h[i]!);
  });
}

function entries(secret: Secret): Record<string, DockerConfigEntry> {
  const data = secret.data ?? {};
  try {
    if (secret.type === "kubernetes.io/dockerconfigjson" && data[".dockerconfigjson"]) {
      const doc = JSON.parse(Buffer.from(data[".dockerconfigjson"], "base64").toString("utf8")) as { auths?: Record<string, DockerConfigEntry> };
      return doc.auths ?? {};
    }
    if (secret.type === "kubernetes.io/dockercfg" && data[".dockercfg"]) {
      return JSON.parse(Buffer.from(data[".dockercfg"], "base64").toString("utf8")) as Record<string, DockerConfigEntry>;
    }
  } catch {
    // A malformed secret gives no credentials, as upstream's keyring skips it.
  }
  return {};
}

function toAuth(e: DockerConfigEntry, serverAddress: string): AuthConfig {
  let { username, password } = e;
  if ((!username || !password) && e.auth) {
    const decoded = Buffer.from(e.auth, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon > 0) {
      username = decoded.slice(0, colon);
      password = decoded.slice(colon + 1);
    }
  }
  return { ...(username ? { username } : {}), ...(password ? { password } : {}), ...(e.identitytoken ? { identityToken: e.identitytoken } : {}), serverAddress };
}

/** The credentials of `pod`'s pull secrets that apply to `image`, most specific key first. */
export async function pullCredentials(pod: Pod, image: string, objects: PodObjects | undefined): Promise<PullCredentials> {
  const names = (pod.spec?.imagePullSecrets ?? []).map((s) => s.name ?? "").filter((n) => n !== "");
  if (names.length === 0 || !objects) return { auths: [], missing: objects ? [] : names };
  let domain: string;
  let repo: string;
  try {
    const ref = parseReference(image);
    domain = normalizedHost(ref.domain.toLowerCase());
    repo = ref.path;
  } catch {
    return { auths: [], missing: [] };
  }
  const matches: { auth: AuthConfig; specificity: number }[] = [];
  const missing: string[] = [];
  for (const name of names) {
    const got = await objects.getSecret(pod.metadata?.namespace ?? "", name);
    if (!got.ok) {
      missing.push(name);
      continue;
    }
    for (const [key, entry] of Object.entries(entries(got.value))) {
      const k = parseKey(key);
      if (!hostMatches(k.host, domain)) continue;
      if (k.path && repo !== k.path && !repo.startsWith(`${k.path}/`)) continue;
      matches.push({ auth: toAuth(entry, key), specificity: k.host.length + k.path.length });
    }
  }
  matches.sort((a, b) => b.specificity - a.specificity);
  return { auths: matches.map((m) => m.auth), missing };
}
