/**
 * Manifest media types the registry stores (OCI image manifest and index,
 * Docker schema2 manifest and manifest list), their parsing and the
 * descriptors each one references. Docker schema1 is refused, as
 * distribution v3 does.
 */

export const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
export const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
export const DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
export const DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json";
export const MANIFEST_TYPES: readonly string[] = [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST];

/** A content descriptor (the fields the registry reads). */
export interface Descriptor {
  readonly mediaType?: string;
  readonly digest: string;
  readonly size: number;
  readonly urls?: readonly string[];
  readonly platform?: { architecture?: string; os?: string; variant?: string };
  readonly artifactType?: string;
  readonly annotations?: Record<string, string>;
}

/** A parsed manifest: its type and what it references. */
export interface ParsedManifest {
  readonly mediaType: string;
  readonly isIndex: boolean;
  /** config + layers (image manifests). */
  readonly blobs: readonly Descriptor[];
  /** Child manifests (indexes). */
  readonly manifests: readonly Descriptor[];
  readonly subject?: Descriptor;
  readonly artifactType?: string;
  readonly annotations?: Record<string, string>;
  readonly configMediaType?: string;
}

/** Layers with URLs are foreign (non-distributable): the registry never holds them. */
export function isForeign(d: Descriptor): boolean {
  return Array.isArray(d.urls) && d.urls.length > 0;
}

function descriptor(v: unknown, where: string): Descriptor {
  const d = v as Descriptor;
  if (typeof d !== "object" || d === null || typeof d.digest !== "string" || typeof d.size !== "number") {
    throw new Error(`${where}: a descriptor needs a digest and a size`);
  }
  if (!/^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/.test(d.digest)) throw new Error(`${where}: invalid digest ${JSON.stringify(d.digest)}`);
  return d;
}

/**
 * Parses a manifest body. `contentType` is the request's Content-Type
 * (may be empty: then the body's `mediaType` decides). Throws a message
 * for MANIFEST_INVALID.
 */
export function parseManifest(body: Uint8Array, contentType: string): ParsedManifest {
  let m: Record<string, unknown>;
  try {
    m = JSON.parse(Buffer.from(body).toString("utf8")) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`manifest is not JSON: ${(err as Error).message}`);
  }
  if (typeof m !== "object" || m === null || Array.isArray(m)) throw new Error("manifest is not a JSON object");
  const ct = contentType.split(";")[0]?.trim() ?? "";
  const bodyType = typeof m.mediaType === "string" ? m.mediaType : undefined;
  if (m.schemaVersion === 1) throw new Error("Docker schema1 manifests are not supported");
  if (m.schemaVersion !== 2) throw new Error(`unsupported schemaVersion ${JSON.stringify(m.schemaVersion)}`);
  let mediaType = ct !== "" && ct !== "application/json" && ct !== "application/octet-stream" ? ct : bodyType;
  if (mediaType === undefined) {
    // OCI allows mediaType to be left out: tell an index from a manifest by its fields.
    mediaType = Array.isArray(m.manifests) ? OCI_INDEX : OCI_MANIFEST;
  }
  if (!MANIFEST_TYPES.includes(mediaType)) throw new Error(`unsupported manifest media type ${JSON.stringify(mediaType)}`);
  if (bodyType !== undefined && bodyType !== mediaType) {
    throw new Error(`mediaType in manifest should be '${mediaType}' not '${bodyType}'`);
  }
  const isIndex = mediaType === OCI_INDEX || mediaType === DOCKER_LIST;
  const subject = m.subject === undefined ? undefined : descriptor(m.subject, "subject");
  const artifactType = typeof m.artifactType === "string" ? m.artifactType : undefined;
  const annotations = typeof m.annotations === "object" && m.annotations !== null ? (m.annotations as Record<string, string>) : undefined;
  if (isIndex) {
    if (!Array.isArray(m.manifests)) throw new Error("an index needs a manifests list");
    const manifests = m.manifests.map((d, i) => descriptor(d, `manifests[${i}]`));
    return { mediaType, isIndex, blobs: [], manifests, subject, artifactType, annotations };
  }
  const config = descriptor(m.config, "config");
  if (!Array.isArray(m.layers)) {
    if (mediaType === DOCKER_MANIFEST || m.layers !== undefined) throw new Error("a manifest needs a layers list");
  }
  const layers = Array.isArray(m.layers) ? m.layers.map((d, i) => descriptor(d, `layers[${i}]`)) : [];
  return { mediaType, isIndex, blobs: [config, ...layers], manifests: [], subject, artifactType, annotations, configMediaType: config.mediaType };
}
