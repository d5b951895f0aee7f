/**
 * Turns a root filesystem tarball into a one-layer OCI image archive
 * (`oci-archive:` as skopeo and `skiff image import` read it): the tarball
 * is streamed through gzip into the layer blob while both digests are
 * computed (the layer's and the uncompressed diff id), so a large rootfs
 * never sits in memory.
 */
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream, mkdirSync, renameSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import { c as createTar } from "tar";

/** The image config fields a one-layer image gets. */
export interface SingleLayerImageConfig {
  readonly env: readonly string[];
  readonly cmd: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
  /** `amd64`, `arm64`, … (OCI/Go names). */
  readonly architecture: string;
  /** What made the layer, for the image history. */
  readonly createdBy: string;
  readonly created?: Date;
}

/** What was written. */
export interface WrittenImage {
  /** Manifest digest. */
  readonly digest: string;
  /** Config digest (the image id). */
  readonly id: string;
  readonly layerDigest: string;
  readonly layerSize: number;
}

const sha256 = (b: Buffer | string) => `sha256:${createHash("sha256").update(b).digest("hex")}`;

function hashing(hash: ReturnType<typeof createHash>): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      cb(null, chunk);
    },
  });
}

/** The OCI/Go architecture name of this machine. */
export function hostArchitecture(): string {
  const map: Record<string, string> = { x64: "amd64", arm64: "arm64", arm: "arm", ppc64: "ppc64le", s390x: "s390x", riscv64: "riscv64", ia32: "386" };
  return map[process.arch] ?? process.arch;
}

/**
 * Writes an OCI image layout into `layoutDir` with `rootfsTar` as its one
 * (gzip) layer and `refName` as the index annotation, then packs it into
 * `archive`.
 */
export async function writeSingleLayerImage(rootfsTar: string, layoutDir: string, archive: string, refName: string, cfg: SingleLayerImageConfig): Promise<WrittenImage> {
  const blobs = join(layoutDir, "blobs", "sha256");
  mkdirSync(blobs, { recursive: true });
  const diffHash = createHash("sha256");
  const layerHash = createHash("sha256");
  const partial = join(blobs, "layer.partial");
  // Level 6 (gzip's default): the layer is written once and pulled by every node.
  await pipeline(createReadStream(rootfsTar), hashing(diffHash), createGzip({ level: 6 }), hashing(layerHash), createWriteStream(partial));
  const diffId = `sha256:${diffHash.digest("hex")}`;
  const layerDigest = `sha256:${layerHash.digest("hex")}`;
  renameSync(partial, join(blobs, layerDigest.slice(7)));
  const layerSize = statSync(join(blobs, layerDigest.slice(7))).size;
  const created = (cfg.created ?? new Date()).toISOString();
  const config = JSON.stringify({
    created,
    architecture: cfg.architecture,
    os: "linux",
    config: { Env: [...cfg.env], Cmd: [...cfg.cmd], Labels: { ...cfg.labels } },
    rootfs: { type: "layers", diff_ids: [diffId] },
    history: [{ created, created_by: cfg.createdBy }],
  });
  const configDigest = sha256(config);
  writeFileSync(join(blobs, configDigest.slice(7)), config);
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: configDigest, size: Buffer.byteLength(config) },
    layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: layerDigest, size: layerSize }],
    annotations: { ...cfg.labels },
  });
  const digest = sha256(manifest);
  writeFileSync(join(blobs, digest.slice(7)), manifest);
  writeFileSync(join(layoutDir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  writeFileSync(
    join(layoutDir, "index.json"),
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.index.v1+json",
      manifests: [
        {
          mediaType: "application/vnd.oci.image.manifest.v1+json",
          digest,
          size: Buffer.byteLength(manifest),
          platform: { architecture: cfg.architecture, os: "linux" },
          // containerd's name (ctr import) and the OCI one (skopeo, skiff image import).
          annotations: { "io.containerd.image.name": refName, "org.opencontainers.image.ref.name": refName },
        },
      ],
    }),
  );
  await createTar({ cwd: layoutDir, file: archive, portable: true }, ["oci-layout", "index.json", "blobs"]);
  return { digest, id: configDigest, layerDigest, layerSize };
}
