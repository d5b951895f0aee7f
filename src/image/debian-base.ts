/**
 * Minimal Debian base images from Debian's own packages, with no other
 * registry involved: mmdebstrap (`--variant=minbase`, plus `--with`
 * packages, no recommends) makes the root filesystem with no man pages,
 * docs or translations and no apt lists, and it becomes a one-layer OCI
 * image. Images are cached by suite + architecture + package list, so the
 * second run, and every test, reuses the archive without the network.
 *
 * Cache layout: `<cache-dir>/<key>/image.oci.tar` (named with the default
 * name at localhost:5000) and `<key>/info.json`.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { ensureHostTools } from "../machinery/debian-packages.js";
import { runStreaming } from "./buildah.js";
import { hostArchitecture, writeSingleLayerImage } from "./oci-archive-writer.js";

/** What a base image is made of. */
export interface BaseImageSpec {
  /** Debian suite or codename: bookworm, trixie, stable, … */
  readonly suite: string;
  /** Extra Debian packages, as given (normalised by {@link normalizePackages}). */
  readonly packages: readonly string[];
  /** Architecture (Debian and OCI agree for amd64/arm64); the host's by default. */
  readonly architecture?: string;
}

/** A cached base image. */
export interface CachedBaseImage {
  /** The OCI archive. */
  readonly archive: string;
  readonly info: BaseImageInfo;
}

/** `info.json` beside the archive. */
export interface BaseImageInfo {
  readonly suite: string;
  readonly packages: readonly string[];
  readonly architecture: string;
  /** The name recorded in the archive. */
  readonly name: string;
  readonly digest: string;
  readonly layerSize: number;
  readonly created: string;
}

/** Registry host the default names use (the server's default `--registry-port`). */
export const DEFAULT_BASE_REGISTRY = "localhost:5000";

const PACKAGE_NAME = /^[a-z0-9][a-z0-9+.-]+$/;
const SUITE_NAME = /^[a-z][a-z0-9-]*$/;

/** Sorted, de-duplicated package names (commas and spaces split too); throws on a name Debian would not allow. */
export function normalizePackages(packages: readonly string[]): string[] {
  const all = packages.flatMap((p) => p.split(/[\s,]+/)).filter((p) => p !== "");
  for (const p of all) if (!PACKAGE_NAME.test(p)) throw new Error(`invalid Debian package name ${JSON.stringify(p)}`);
  return [...new Set(all)].sort();
}

function checkSuite(suite: string): void {
  if (!SUITE_NAME.test(suite)) throw new Error(`invalid Debian suite ${JSON.stringify(suite)} (e.g. bookworm)`);
}

/** The cache directory name: `bookworm-amd64`, `bookworm-amd64-with-mariadb-server+nodejs`. */
export function baseCacheKey(spec: BaseImageSpec): string {
  checkSuite(spec.suite);
  const pkgs = normalizePackages(spec.packages);
  const base = `${spec.suite}-${spec.architecture ?? hostArchitecture()}`;
  return pkgs.length === 0 ? base : `${base}-with-${pkgs.join("+")}`;
}

/**
 * The default image name: `<registry>/skiff/debian:<suite>`, and with
 * extra packages `<registry>/skiff/debian-<pkg>-<pkg>:<suite>` (sorted;
 * `+` in a package name spelled `plus`, as repository names allow only
 * `[a-z0-9._-]`).
 */
export function defaultBaseName(spec: BaseImageSpec, registry = DEFAULT_BASE_REGISTRY): string {
  checkSuite(spec.suite);
  const pkgs = normalizePackages(spec.packages).map((p) => p.replace(/\+/g, "plus"));
  return `${registry}/skiff/${["debian", ...pkgs].join("-")}:${spec.suite}`;
}

/** `/var/cache/skiff/base` as root, `$XDG_CACHE_HOME/skiff/base` (or `~/.cache/skiff/base`) otherwise. */
export function defaultBaseCacheDir(): string {
  if (process.getuid?.() === 0) return "/var/cache/skiff/base";
  return join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "skiff", "base");
}

/** The cached image for `spec`, if there is one. */
export function cachedBaseImage(cacheDir: string, spec: BaseImageSpec): CachedBaseImage | undefined {
  const dir = join(resolve(cacheDir), baseCacheKey(spec));
  const archive = join(dir, "image.oci.tar");
  try {
    const info = JSON.parse(readFileSync(join(dir, "info.json"), "utf8")) as BaseImageInfo;
    return existsSync(archive) ? { archive, info } : undefined;
  } catch {
    return undefined;
  }
}

/** The mmdebstrap command line for `spec` writing `rootfsTar`. */
export function mmdebstrapArgs(spec: BaseImageSpec, rootfsTar: string, mirror?: string): string[] {
  const pkgs = normalizePackages(spec.packages);
  const args = [
    "--variant=minbase",
    `--architectures=${spec.architecture ?? hostArchitecture()}`,
    "--format=tar",
    // Keep images small: no docs (but the copyright files), man pages, info or translations; dpkg keeps these
    // rules in the image, so packages a Dockerfile installs later skip them too.
    "--dpkgopt=path-exclude=/usr/share/man/*",
    "--dpkgopt=path-exclude=/usr/share/doc/*",
    "--dpkgopt=path-include=/usr/share/doc/*/copyright",
    "--dpkgopt=path-exclude=/usr/share/info/*",
    "--dpkgopt=path-exclude=/usr/share/locale/*",
    "--dpkgopt=path-include=/usr/share/locale/locale.alias",
    '--aptopt=APT::Install-Recommends "false"',
    '--aptopt=Acquire::Languages "none"',
    // mmdebstrap already drops the apt lists and package cache; say it here too, so the image never carries them.
    '--customize-hook=rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin "$1"/var/cache/apt/archives/*.deb',
  ];
  if (pkgs.length > 0) args.push(`--include=${pkgs.join(",")}`);
  args.push(spec.suite, rootfsTar);
  if (mirror) args.push(mirror);
  return args;
}

/** Options of {@link buildBaseImage}. */
export interface BuildBaseOptions {
  readonly cacheDir: string;
  /** Debian mirror URL; mmdebstrap's default otherwise. */
  readonly mirror?: string;
  /** Rebuild even when cached. */
  readonly refresh?: boolean;
  /** mmdebstrap's progress lines and skiff's own. */
  readonly err: (text: string) => void;
}

/** The cached image for `spec`, built with mmdebstrap first when missing (this is the only step that downloads). */
export async function buildBaseImage(spec: BaseImageSpec, o: BuildBaseOptions): Promise<CachedBaseImage & { fromCache: boolean }> {
  const key = baseCacheKey(spec);
  if (!o.refresh) {
    const hit = cachedBaseImage(o.cacheDir, spec);
    if (hit) return { ...hit, fromCache: true };
  }
  ensureHostTools([{ command: "mmdebstrap", debianPackage: "mmdebstrap", neededFor: "skiff image base" }], (l) => o.err(`skiff: ${l}\n`));
  const architecture = spec.architecture ?? hostArchitecture();
  const packages = normalizePackages(spec.packages);
  const cacheDir = resolve(o.cacheDir);
  mkdirSync(cacheDir, { recursive: true });
  const work = join(cacheDir, `.${key}.${process.pid}.tmp`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  try {
    const rootfs = join(work, "rootfs.tar");
    o.err(`skiff: making a Debian ${spec.suite} root filesystem${packages.length ? ` with ${packages.join(", ")}` : ""} (mmdebstrap)\n`);
    const r = await runStreaming("mmdebstrap", mmdebstrapArgs(spec, rootfs, o.mirror), { out: o.err, err: o.err });
    if (r.code !== 0) {
      const last = r.stderr.trim().split("\n").slice(-3).join("\n");
      throw new Error(`mmdebstrap failed (exit ${r.code}); is Debian's mirror reachable and is every --with package in ${spec.suite}?\n${last}`);
    }
    // Device nodes: the runtime makes /dev for every container, and unprivileged unpackers cannot create them.
    spawnSync("tar", ["--delete", "--wildcards", "-f", rootfs, "./dev/?*"], { stdio: "ignore" });
    const name = defaultBaseName(spec);
    const labels: Record<string, string> = {
      "org.opencontainers.image.title": name.slice(DEFAULT_BASE_REGISTRY.length + 1).split(":")[0]!,
      "org.opencontainers.image.description": `Debian ${spec.suite} (minbase)${packages.length ? ` with ${packages.join(", ")}` : ""}, made by skiff image base`,
      "org.opencontainers.image.version": spec.suite,
      "io.skiff.debian.suite": spec.suite,
      "io.skiff.debian.packages": packages.join(" "),
    };
    o.err("skiff: packing the root filesystem as an image layer\n");
    const stage = join(work, "image.oci.tar");
    const written = await writeSingleLayerImage(rootfs, join(work, "oci"), stage, name, {
      env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"],
      cmd: ["bash"],
      labels,
      architecture,
      createdBy: `mmdebstrap --variant=minbase${packages.length ? ` --include=${packages.join(",")}` : ""} ${spec.suite}`,
    });
    const info: BaseImageInfo = {
      suite: spec.suite,
      packages,
      architecture,
      name,
      digest: written.digest,
      layerSize: written.layerSize,
      created: new Date().toISOString(),
    };
    const finalDir = join(cacheDir, key);
    const entry = join(work, "entry");
    mkdirSync(entry);
    renameSync(stage, join(entry, "image.oci.tar"));
    writeFileSync(join(entry, "info.json"), `${JSON.stringify(info, null, 2)}\n`);
    const other = o.refresh ? undefined : cachedBaseImage(cacheDir, spec);
    if (other) {
      // Another run made the same image meanwhile, and someone may be reading it: keep that one.
      o.err(`skiff: ${other.archive} appeared while this one was made; keeping it\n`);
      return { ...other, fromCache: true };
    }
    rmSync(finalDir, { recursive: true, force: true });
    renameSync(entry, finalDir);
    o.err(`skiff: cached ${join(finalDir, "image.oci.tar")} (layer ${(written.layerSize / 1e6).toFixed(1)} MB)\n`);
    return { archive: join(finalDir, "image.oci.tar"), info, fromCache: false };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
