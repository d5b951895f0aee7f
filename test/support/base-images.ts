/**
 * The Debian base images `skiff image base` makes, for tests: `.ci/run`
 * builds them into the cache before `npm test` (plain bookworm, with
 * nodejs, with mariadb-server), and tests take the cached OCI archive from
 * here. Tests never download: with no cached image the test is skipped
 * with the command that makes it, unless SKIFF_TEST_BUILD_BASE_IMAGES=1
 * allows building it now (which needs Debian's mirror).
 */
import { buildBaseImage, type CachedBaseImage, cachedBaseImage, defaultBaseCacheDir } from "../../src/image/debian-base.js";

/** `SKIFF_BASE_CACHE_DIR`, else skiff's default (`/var/cache/skiff/base` as root). */
export function baseImageCacheDir(): string {
  return process.env.SKIFF_BASE_CACHE_DIR || defaultBaseCacheDir();
}

/** What node:test's context offers for skipping. */
interface Skippable {
  skip(message?: string): void;
}

/**
 * The cached base image with `packages` (none: plain Debian) for `suite`,
 * or undefined after marking `t` skipped with the reason and the command
 * that fills the cache.
 */
export async function baseImage(t: Skippable, packages: readonly string[] = [], suite = "bookworm"): Promise<CachedBaseImage | undefined> {
  const cacheDir = baseImageCacheDir();
  const spec = { suite, packages };
  const hit = cachedBaseImage(cacheDir, spec);
  if (hit) return hit;
  if (process.env.SKIFF_TEST_BUILD_BASE_IMAGES === "1") {
    return buildBaseImage(spec, { cacheDir, err: (l) => process.stderr.write(l) });
  }
  const withs = packages.map((p) => ` --with ${p}`).join("");
  t.skip(
    `no cached Debian ${suite} base image${packages.length ? ` with ${packages.join(", ")}` : ""} in ${cacheDir} (tests never download): ` +
      `make it with \`skiff image base --suite ${suite}${withs} --no-push --cache-dir ${cacheDir}\` (.ci/run does), or set SKIFF_TEST_BUILD_BASE_IMAGES=1`,
  );
  return undefined;
}

/** The base images the suite uses (what .ci/run builds): plain, with nodejs, with mariadb-server. */
export const TEST_BASE_IMAGES: readonly (readonly string[])[] = [[], ["nodejs"], ["mariadb-server"]];

/**
 * For `npm test` on a fresh machine: builds the suite's base images that are
 * not cached yet, saying so (the only step that downloads Debian packages;
 * the tests themselves never do).
 */
export async function ensureTestBaseImages(say: (line: string) => void): Promise<void> {
  const cacheDir = baseImageCacheDir();
  for (const packages of TEST_BASE_IMAGES) {
    const spec = { suite: "bookworm", packages };
    if (cachedBaseImage(cacheDir, spec)) continue;
    say(`building the Debian base image${packages.length ? ` with ${packages.join(", ")}` : ""} into ${cacheDir} (once; from Debian's packages)`);
    await buildBaseImage(spec, { cacheDir, err: (l) => process.stderr.write(l) });
  }
}
