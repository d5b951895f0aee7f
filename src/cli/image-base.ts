/**
 * `skiff image base`: a minimal Debian image made from Debian's packages
 * (see src/image/debian-base.ts), pushed to the cluster registry and/or
 * written as an OCI archive. The only step that needs the network is the
 * first mmdebstrap run for a suite + package list; afterwards the cached
 * archive is reused.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { c as createTar, x as extractTar } from "tar";
import { buildDir, runStreaming } from "../image/buildah.js";
import { buildBaseImage, type BaseImageSpec, DEFAULT_BASE_REGISTRY, defaultBaseCacheDir, defaultBaseName, normalizePackages } from "../image/debian-base.js";
import { explainRegistryFailure, prepareRegistryAccess, registryHostOf } from "../image/registry-access.js";
import { ensureHostTools } from "../machinery/debian-packages.js";
import { formatReference, parseReference, repository } from "../runtime/images/reference.js";
import type { BuildIo } from "./image-build.js";

/** Flags of `skiff image base`. */
export interface ImageBaseFlags {
  readonly dataDir: string;
  readonly tag?: string;
  readonly with?: readonly string[];
  readonly suite: string;
  readonly output?: string;
  readonly cacheDir?: string;
  /** commander's `--no-push`: false when given. */
  readonly push?: boolean;
  readonly registry?: string;
  readonly creds?: string;
  readonly mirror?: string;
  readonly refresh?: boolean;
}

/** Writes `cached` to `out` named `name`: a copy when the name is the cached one, else a repack with a new index. */
async function writeArchive(cached: string, cachedName: string, name: string, out: string): Promise<void> {
  if (name === cachedName) {
    copyFileSync(cached, out);
    return;
  }
  const tmp = mkdtempSync(join(dirname(resolve(out)), ".skiff-base-"));
  try {
    await extractTar({ file: cached, cwd: tmp });
    const indexFile = join(tmp, "index.json");
    const index = JSON.parse(readFileSync(indexFile, "utf8")) as { manifests: { annotations?: Record<string, string> }[] };
    for (const m of index.manifests) m.annotations = { ...m.annotations, "io.containerd.image.name": name, "org.opencontainers.image.ref.name": name };
    writeFileSync(indexFile, JSON.stringify(index));
    await createTar({ cwd: tmp, file: out, portable: true }, ["oci-layout", "index.json", "blobs"]);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Pushes the archive to `name` with skopeo, keeping its digests. */
async function pushArchive(archive: string, name: string, flags: ImageBaseFlags, io: BuildIo): Promise<void> {
  ensureHostTools([{ command: "skopeo", debianPackage: "skopeo", neededFor: "skiff image base (push)" }], (l) => io.err(`skiff: ${l}\n`));
  const host = registryHostOf(name);
  const access = await prepareRegistryAccess({ dataDir: flags.dataDir, hosts: [host], workDir: buildDir(flags.dataDir), ...(flags.creds ? { creds: flags.creds } : {}) });
  try {
    const args = ["copy", "--preserve-digests", "--retry-times", "0"];
    if (access.certDir) args.push("--dest-cert-dir", access.certDir);
    if (access.authFile) args.push("--dest-authfile", access.authFile);
    if (flags.creds) args.push("--dest-creds", flags.creds);
    args.push(`oci-archive:${archive}`, `docker://${name}`);
    const r = await runStreaming("skopeo", args, { out: io.err, err: io.err });
    if (r.code !== 0) {
      const why = explainRegistryFailure(r.stderr, host);
      throw new Error(`push of ${name} failed${why ? `: ${why}` : ` (skopeo exited with ${r.code}): ${r.stderr.trim().split("\n").pop() ?? ""}`}`);
    }
  } finally {
    access.cleanup();
  }
}

/** Makes (or reuses) the base image, then writes and/or pushes it. */
export async function runImageBase(flags: ImageBaseFlags, io: BuildIo): Promise<void> {
  const spec: BaseImageSpec = { suite: flags.suite, packages: normalizePackages(flags.with ?? []) };
  const registry = flags.registry ?? DEFAULT_BASE_REGISTRY;
  let name = defaultBaseName(spec, registry);
  if (flags.tag) {
    try {
      name = formatReference(parseReference(flags.tag));
    } catch (err) {
      throw new Error(`invalid -t ${JSON.stringify(flags.tag)}: ${(err as Error).message}`);
    }
  }
  const cacheDir = flags.cacheDir ?? defaultBaseCacheDir();
  const image = await buildBaseImage(spec, {
    cacheDir,
    err: io.err,
    ...(flags.mirror ? { mirror: flags.mirror } : {}),
    ...(flags.refresh ? { refresh: true } : {}),
  });
  if (image.fromCache) io.err(`skiff: using the cached image ${image.archive} (made ${image.info.created}; --refresh to remake it)\n`);
  if (flags.output) {
    await writeArchive(image.archive, image.info.name, name, flags.output);
    io.err(`skiff: wrote ${name} to ${flags.output}\n`);
  }
  if (flags.push !== false) {
    await pushArchive(image.archive, name, flags, io);
    io.out(`${repository(parseReference(name))}@${image.info.digest}\n`);
  } else if (!flags.output) {
    io.out(`${image.archive}\n`);
  }
}
