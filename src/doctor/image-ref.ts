/**
 * The registry host and repository of an image reference, by the same
 * rule container runtimes use: the first path component is a host only
 * when it has a `.` or a `:` or is `localhost`; otherwise the image comes
 * from the runtime's default registry.
 */
export interface ImageRef {
  /** The registry host (with port), or undefined for the default registry. */
  readonly host?: string;
  readonly repository: string;
  /** The tag, or "latest" when neither tag nor digest is given. */
  readonly tag?: string;
  readonly digest?: string;
}

export function parseImageRef(image: string): ImageRef {
  let rest = image.trim();
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  let host: string | undefined;
  const slash = rest.indexOf("/");
  if (slash > 0) {
    const first = rest.slice(0, slash);
    if (first.includes(".") || first.includes(":") || first === "localhost") {
      host = first;
      rest = rest.slice(slash + 1);
    }
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(":");
  if (colon >= 0) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  } else if (!digest) {
    tag = "latest";
  }
  return { host, repository: rest, tag, digest };
}

/** "registry HOST" or "the default registry (the image names no host)". */
export function describeRegistry(ref: ImageRef): string {
  return ref.host ? `registry ${ref.host}` : "the runtime's default registry (the image name has no registry host)";
}
