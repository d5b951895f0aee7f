/**
 * Image references as docker and containerd read them
 * (github.com/distribution/reference): `name`, `name:tag`,
 * `host:port/path/name:tag`, `name@sha256:…`, normalised to a registry host
 * (default "docker.io", whose one-word names live under `library/`) and the
 * tag "latest" when neither tag nor digest is given.
 */

/** The default registry host of unqualified names; only a string here, never contacted by tests. */
export const DEFAULT_DOMAIN = "docker.io";
const LEGACY_DEFAULT_DOMAIN = "index.docker.io";
const OFFICIAL_REPO_PREFIX = "library/";
export const DEFAULT_TAG = "latest";
const NAME_TOTAL_LENGTH_MAX = 255;

// The grammar of distribution/reference's regexp.go.
const alphanumeric = "[a-z0-9]+";
const separator = "(?:[._]|__|[-]+)";
const pathComponent = `${alphanumeric}(?:${separator}${alphanumeric})*`;
const domainComponent = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const ipv6 = "\\[(?:[a-fA-F0-9:]+)\\]";
const domainName = `${domainComponent}(?:\\.${domainComponent})*`;
const host = `(?:${domainName}|${ipv6})`;
const domainAndPort = `${host}(?::[0-9]+)?`;
const tagPattern = "[\\w][\\w.-]{0,127}";
const digestPattern = "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9A-Fa-f]{32,}";
const namePattern = `(?:${domainAndPort}/)?${pathComponent}(?:/${pathComponent})*`;
const referenceRegexp = new RegExp(`^(${namePattern})(?::(${tagPattern}))?(?:@(${digestPattern}))?$`);
const anchoredDomain = new RegExp(`^${domainAndPort}$`);
const anchoredPath = new RegExp(`^${pathComponent}(?:/${pathComponent})*$`);
const anchoredIdentifier = /^[a-f0-9]{64}$/;

/** A parsed, normalised image reference. */
export interface ImageReference {
  /** Registry host (with port), e.g. `docker.io`, `127.0.0.1:5000`. */
  readonly domain: string;
  /** Repository path inside the registry, e.g. `library/busybox`. */
  readonly path: string;
  /** The tag; undefined when the reference is by digest only. */
  readonly tag?: string;
  /** `sha256:<hex>` when the reference pins a digest. */
  readonly digest?: string;
}

/** Why a string is not a reference (the message distribution/reference gives). */
export class InvalidReferenceError extends Error {}

/** `docker.io/library/busybox` */
export function repository(ref: ImageReference): string {
  return `${ref.domain}/${ref.path}`;
}

/**
 * The canonical string: `repo:tag`, or `repo@digest` when pinned by digest
 * (a tag beside a digest is dropped, as containerd's ParseDockerRef does).
 */
export function formatReference(ref: ImageReference): string {
  if (ref.digest) return `${repository(ref)}@${ref.digest}`;
  return `${repository(ref)}:${ref.tag ?? DEFAULT_TAG}`;
}

/** `repo:tag` when the reference has a tag (what an image's repoTags list holds). */
export function taggedName(ref: ImageReference): string | undefined {
  return ref.tag !== undefined && ref.digest === undefined ? `${repository(ref)}:${ref.tag}` : undefined;
}

function splitDockerDomain(name: string): { domain: string; remainder: string } {
  const i = name.indexOf("/");
  let domain: string;
  let remainder: string;
  const first = i === -1 ? "" : name.slice(0, i);
  if (i === -1 || (!first.includes(".") && !first.includes(":") && first !== "localhost" && first.toLowerCase() === first)) {
    domain = DEFAULT_DOMAIN;
    remainder = name;
  } else {
    domain = first;
    remainder = name.slice(i + 1);
  }
  if (domain === LEGACY_DEFAULT_DOMAIN) domain = DEFAULT_DOMAIN;
  if (domain === DEFAULT_DOMAIN && !remainder.includes("/")) remainder = OFFICIAL_REPO_PREFIX + remainder;
  return { domain, remainder };
}

/**
 * Parses and normalises `s` as docker does (ParseNormalizedNamed +
 * TagNameOnly): throws {@link InvalidReferenceError} with distribution's message.
 * Only sha256 digests are accepted.
 */
export function parseReference(s: string): ImageReference {
  if (anchoredIdentifier.test(s)) {
    throw new InvalidReferenceError(`invalid repository name (${s}), cannot specify 64-byte hexadecimal strings`);
  }
  // Split off the name first so the domain default applies before matching (as ParseNormalizedNamed).
  const at = s.indexOf("@");
  const beforeDigest = at === -1 ? s : s.slice(0, at);
  const lastSlash = beforeDigest.lastIndexOf("/");
  const colon = beforeDigest.indexOf(":", lastSlash + 1);
  const namePart = colon === -1 ? beforeDigest : beforeDigest.slice(0, colon);
  const { domain, remainder } = splitDockerDomain(namePart);
  if (remainder.toLowerCase() !== remainder) {
    throw new InvalidReferenceError("invalid reference format: repository name (" + remainder + ") must be lowercase");
  }
  const full = `${domain}/${remainder}${s.slice(namePart.length)}`;
  const m = referenceRegexp.exec(full);
  if (!m) throw new InvalidReferenceError("invalid reference format");
  const [, name, tag, digest] = m;
  if (name!.length > NAME_TOTAL_LENGTH_MAX) {
    throw new InvalidReferenceError(`repository name must not be more than ${NAME_TOTAL_LENGTH_MAX} characters`);
  }
  if (!anchoredDomain.test(domain) || !anchoredPath.test(remainder)) throw new InvalidReferenceError("invalid reference format");
  if (digest !== undefined) {
    const [alg, hex] = digest.split(":") as [string, string];
    if (alg !== "sha256") throw new InvalidReferenceError(`unsupported digest algorithm: ${alg}`);
    if (!/^[a-f0-9]{64}$/.test(hex)) throw new InvalidReferenceError("invalid checksum digest format");
    return tag !== undefined ? { domain, path: remainder, tag, digest } : { domain, path: remainder, digest };
  }
  return { domain, path: remainder, tag: tag ?? DEFAULT_TAG };
}

/** parseReference that returns undefined instead of throwing. */
export function tryParseReference(s: string): ImageReference | undefined {
  try {
    return parseReference(s);
  } catch (err) {
    if (err instanceof InvalidReferenceError) return undefined;
    throw err;
  }
}

/**
 * The short form users type (`busybox:latest`, `127.0.0.1:5000/app:v1`),
 * as docker's FamiliarString: docker.io and `library/` are dropped.
 */
export function familiarName(repo: string): string {
  let s = repo;
  if (s.startsWith(`${DEFAULT_DOMAIN}/`)) {
    s = s.slice(DEFAULT_DOMAIN.length + 1);
    if (s.startsWith(OFFICIAL_REPO_PREFIX) && !s.slice(OFFICIAL_REPO_PREFIX.length).includes("/")) s = s.slice(OFFICIAL_REPO_PREFIX.length);
  }
  return s;
}
