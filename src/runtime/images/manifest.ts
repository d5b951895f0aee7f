/**
 * OCI and Docker v2 manifests, image indexes / manifest lists and image
 * configs: media types, validation of what a registry or archive handed
 * us, platform selection, and the run config a container needs.
 */
import { fail, ok, type RuntimeResult } from "../types.js";
import { isDigest } from "./digest.js";
import type { ImageRunConfig } from "./types.js";

export const MediaType = {
  OciManifest: "application/vnd.oci.image.manifest.v1+json",
  OciIndex: "application/vnd.oci.image.index.v1+json",
  OciConfig: "application/vnd.oci.image.config.v1+json",
  OciLayer: "application/vnd.oci.image.layer.v1.tar",
  OciLayerGzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  OciLayerZstd: "application/vnd.oci.image.layer.v1.tar+zstd",
  OciLayerNondistributable: "application/vnd.oci.image.layer.nondistributable.v1.tar",
  OciLayerNondistributableGzip: "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
  DockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  DockerManifestList: "application/vnd.docker.distribution.manifest.list.v2+json",
  DockerSchema1: "application/vnd.docker.distribution.manifest.v1+json",
  DockerSchema1Signed: "application/vnd.docker.distribution.manifest.v1+prettyjws",
  DockerConfig: "application/vnd.docker.container.image.v1+json",
  DockerLayer: "application/vnd.docker.image.rootfs.diff.tar",
  DockerLayerGzip: "application/vnd.docker.image.rootfs.diff.tar.gzip",
  DockerForeignLayerGzip: "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
} as const;

/** What a manifest request accepts, most specific first (as containerd sends). */
export const MANIFEST_ACCEPT = [MediaType.DockerManifest, MediaType.DockerManifestList, MediaType.OciManifest, MediaType.OciIndex].join(", ");

/** How a layer blob is compressed, from its media type. */
export type LayerCompression = "gzip" | "none";

/** The compression of a layer media type, or an error for what the store cannot unpack. */
export function layerCompression(mediaType: string): RuntimeResult<LayerCompression> {
  switch (mediaType) {
    case MediaType.OciLayer:
    case MediaType.OciLayerNondistributable:
    case MediaType.DockerLayer:
      return ok("none");
    case MediaType.OciLayerGzip:
    case MediaType.OciLayerNondistributableGzip:
    case MediaType.DockerLayerGzip:
    case MediaType.DockerForeignLayerGzip:
      return ok("gzip");
    case MediaType.OciLayerZstd:
    case `${MediaType.OciLayerNondistributable}+zstd`:
      return fail("Unimplemented", `unsupported layer media type ${mediaType}: zstd-compressed layers are not supported`);
    default:
      return fail("Unimplemented", `unsupported layer media type ${mediaType}`);
  }
}

/** An OCI content descriptor. */
export interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly platform?: Platform;
  readonly annotations?: Readonly<Record<string, string>>;
}

/** An OCI platform. */
export interface Platform {
  readonly os: string;
  readonly architecture: string;
  readonly variant?: string;
}

/** An image manifest (OCI or Docker v2 schema 2). */
export interface ImageManifest {
  readonly kind: "manifest";
  readonly mediaType: string;
  readonly config: Descriptor;
  readonly layers: readonly Descriptor[];
}

/** An image index / manifest list. */
export interface ImageIndex {
  readonly kind: "index";
  readonly mediaType: string;
  readonly manifests: readonly Descriptor[];
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function parseDescriptor(v: unknown, where: string): Descriptor {
  if (!isRecord(v)) throw new Error(`${where}: not a descriptor object`);
  const { mediaType, digest, size, platform, annotations } = v;
  if (typeof mediaType !== "string" || mediaType === "") throw new Error(`${where}: missing mediaType`);
  if (typeof digest !== "string") throw new Error(`${where}: missing digest`);
  if (!isDigest(digest)) {
    const d: string = digest;
    const alg = d.split(":")[0];
    throw new Error(alg !== "sha256" && d.includes(":") ? `${where}: unsupported digest algorithm ${alg}` : `${where}: invalid digest ${JSON.stringify(d)}`);
  }
  if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0) throw new Error(`${where}: invalid size`);
  let plat: Platform | undefined;
  if (isRecord(platform)) {
    if (typeof platform.os !== "string" || typeof platform.architecture !== "string") throw new Error(`${where}: invalid platform`);
    plat = {
      os: platform.os,
      architecture: platform.architecture,
      ...(typeof platform.variant === "string" && platform.variant !== "" ? { variant: platform.variant } : {}),
    };
  }
  const ann = isRecord(annotations) ? (Object.fromEntries(Object.entries(annotations).filter(([, x]) => typeof x === "string")) as Record<string, string>) : undefined;
  return { mediaType, digest, size, ...(plat ? { platform: plat } : {}), ...(ann ? { annotations: ann } : {}) };
}

/**
 * Parses a manifest or index body. `contentType` is the registry's
 * Content-Type (or the descriptor's media type); the body's own
 * `mediaType` wins when present, as containerd does.
 */
export function parseManifest(body: Buffer, contentType: string | undefined): RuntimeResult<ImageManifest | ImageIndex> {
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString("utf8"));
  } catch {
    return fail("InvalidArgument", "invalid manifest: not JSON");
  }
  if (!isRecord(doc)) return fail("InvalidArgument", "invalid manifest: not a JSON object");
  const ct = (contentType ?? "").split(";")[0]!.trim();
  let mediaType = typeof doc.mediaType === "string" ? doc.mediaType : ct;
  if (mediaType === "" || mediaType === "application/json" || mediaType === "application/octet-stream") {
    // OCI documents may omit mediaType: tell them apart by shape.
    mediaType = Array.isArray(doc.manifests) ? MediaType.OciIndex : MediaType.OciManifest;
  }
  if (mediaType === MediaType.DockerSchema1 || mediaType === MediaType.DockerSchema1Signed || doc.schemaVersion === 1) {
    return fail("Unimplemented", `media type "${MediaType.DockerSchema1Signed}" (Docker Image Format v1, schema 1) is not supported; convert the image to schema 2 or OCI`);
  }
  if (doc.schemaVersion !== 2) return fail("InvalidArgument", `invalid manifest: schemaVersion ${JSON.stringify(doc.schemaVersion)} is not 2`);
  try {
    switch (mediaType) {
      case MediaType.OciManifest:
      case MediaType.DockerManifest: {
        if (!Array.isArray(doc.layers)) throw new Error("layers: not a list");
        return ok({
          kind: "manifest",
          mediaType,
          config: parseDescriptor(doc.config, "config"),
          layers: doc.layers.map((l, i) => parseDescriptor(l, `layers[${i}]`)),
        });
      }
      case MediaType.OciIndex:
      case MediaType.DockerManifestList: {
        if (!Array.isArray(doc.manifests)) throw new Error("manifests: not a list");
        return ok({ kind: "index", mediaType, manifests: doc.manifests.map((m, i) => parseDescriptor(m, `manifests[${i}]`)) });
      }
      default:
        return fail("Unimplemented", `unsupported manifest media type ${mediaType}`);
    }
  } catch (err) {
    return fail("InvalidArgument", `invalid manifest: ${(err as Error).message}`);
  }
}

/** The platform of this machine in OCI terms (GOOS/GOARCH/variant). */
export function hostPlatform(): Platform {
  switch (process.arch) {
    case "x64":
      return { os: "linux", architecture: "amd64" };
    case "arm64":
      return { os: "linux", architecture: "arm64", variant: "v8" };
    case "arm":
      return { os: "linux", architecture: "arm", variant: "v7" };
    case "ia32":
      return { os: "linux", architecture: "386" };
    case "ppc64":
      return { os: "linux", architecture: "ppc64le" };
    default:
      return { os: "linux", architecture: process.arch };
  }
}

/**
 * The index entry for `platform`, as containerd's platforms.Only: same os
 * and architecture; an exact variant wins over none (arm64 treats "" as v8).
 */
export function selectPlatform(index: ImageIndex, platform: Platform = hostPlatform()): Descriptor | undefined {
  const norm = (p: Platform) => (p.architecture === "arm64" && (p.variant ?? "") === "" ? "v8" : (p.variant ?? ""));
  const want = norm(platform);
  const candidates = index.manifests.filter(
    (m) => m.platform && m.platform.os === platform.os && m.platform.architecture === platform.architecture,
  );
  return candidates.find((m) => norm(m.platform!) === want) ?? candidates.find((m) => (m.platform!.variant ?? "") === "");
}

/** The parts of an image config the store keeps. */
export interface ParsedImageConfig {
  readonly os: string;
  readonly architecture: string;
  readonly diffIds: readonly string[];
  readonly run: ImageRunConfig;
}

function stringList(v: unknown, field: string): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== "string")) throw new Error(`${field}: not a list of strings`);
  return v as string[];
}

function optionalString(v: unknown, field: string): string {
  if (v === undefined || v === null) return "";
  if (typeof v !== "string") throw new Error(`${field}: not a string`);
  return v;
}

/** Parses an image config blob (OCI or Docker). */
export function parseImageConfig(body: Buffer): RuntimeResult<ParsedImageConfig> {
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString("utf8"));
  } catch {
    return fail("InvalidArgument", "invalid image config: not JSON");
  }
  if (!isRecord(doc)) return fail("InvalidArgument", "invalid image config: not a JSON object");
  try {
    const rootfs = doc.rootfs;
    if (!isRecord(rootfs) || rootfs.type !== "layers") throw new Error('rootfs.type must be "layers"');
    const diffIds = stringList(rootfs.diff_ids, "rootfs.diff_ids");
    for (const d of diffIds) if (!isDigest(d)) throw new Error(`rootfs.diff_ids: invalid digest ${JSON.stringify(d)}`);
    const c = isRecord(doc.config) ? doc.config : {};
    const volumes = isRecord(c.Volumes) ? Object.keys(c.Volumes) : [];
    const stopSignal = optionalString(c.StopSignal, "config.StopSignal");
    return ok({
      os: optionalString(doc.os, "os"),
      architecture: optionalString(doc.architecture, "architecture"),
      diffIds,
      run: {
        entrypoint: stringList(c.Entrypoint, "config.Entrypoint"),
        cmd: stringList(c.Cmd, "config.Cmd"),
        env: stringList(c.Env, "config.Env"),
        workingDir: optionalString(c.WorkingDir, "config.WorkingDir"),
        user: optionalString(c.User, "config.User"),
        ...(stopSignal ? { stopSignal } : {}),
        volumes,
      },
    });
  } catch (err) {
    return fail("InvalidArgument", `invalid image config: ${(err as Error).message}`);
  }
}
