/**
 * A LocalImageStore for tests of the runc runtime: every image it knows is
 * one busybox root filesystem built from the host's static
 * /usr/bin/busybox (applet symlinks, a passwd and group file), with its own
 * image config. Nothing is downloaded; "pulling" an image it knows makes it
 * present, any other reference is NotFound as from a registry.
 */
import { createHash } from "node:crypto";
import { chmodSync, copyFileSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import type { ImageGcOptions, ImageGcReport, ImageRunConfig, LocalImageStore, PullOptions, ResolvedImage } from "../../images/types.js";
import { type AuthConfig, fail, type Image, ok, type RuntimeResult } from "../../types.js";

/** Where the busybox binary comes from (Debian's busybox-static). */
export const HOST_BUSYBOX = "/usr/bin/busybox";

/** Options of a {@link FixtureImageStore}. */
export interface FixtureImageStoreOptions {
  /** A directory the store owns (the test's temp dir); the root filesystem goes to `<dir>/busybox-rootfs`. */
  readonly dir: string;
  /** Image references served, each with overrides of the default config (Cmd ["sh"], PATH). */
  readonly images?: Readonly<Record<string, Partial<ImageRunConfig>>>;
  /** Present from the start, as if pulled. */
  readonly preloaded?: boolean;
}

const DEFAULT_CONFIG: ImageRunConfig = {
  entrypoint: [],
  cmd: ["sh"],
  env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
  workingDir: "",
  user: "",
  volumes: [],
};

/** Builds a busybox root filesystem at `rootfs` (idempotent only on an empty directory). */
export function buildBusyboxRootfs(rootfs: string): void {
  for (const d of ["bin", "etc", "dev", "proc", "sys", "tmp", "root", "home/app", "var", "usr/bin", "usr/sbin", "sbin"]) {
    mkdirSync(join(rootfs, d), { recursive: true });
  }
  chmodSync(join(rootfs, "tmp"), 0o1777);
  copyFileSync(HOST_BUSYBOX, join(rootfs, "bin", "busybox"));
  chmodSync(join(rootfs, "bin", "busybox"), 0o755);
  const applets = execFileSync(HOST_BUSYBOX, ["--list"], { encoding: "utf8" }).split("\n").filter((a) => a && a !== "busybox" && !a.includes("/"));
  for (const a of applets) symlinkSync("busybox", join(rootfs, "bin", a));
  writeFileSync(join(rootfs, "etc", "passwd"), "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n");
  writeFileSync(join(rootfs, "etc", "group"), "root:x:0:\nwheel:x:10:root,app\napp:x:1000:\nextra:x:2000:app\nnogroup:x:65534:\n");
}

function repository(image: string): string {
  const at = image.indexOf("@");
  const ref = at >= 0 ? image.slice(0, at) : image;
  const slash = ref.lastIndexOf("/");
  const colon = ref.indexOf(":", slash + 1);
  return colon >= 0 ? ref.slice(0, colon) : ref;
}

/** The test image store: see the module comment. */
export class FixtureImageStore implements LocalImageStore {
  readonly rootfs: string;
  private readonly known = new Map<string, { config: ImageRunConfig; id: string }>();
  private readonly present = new Set<string>();

  constructor(opts: FixtureImageStoreOptions) {
    this.rootfs = join(opts.dir, "busybox-rootfs");
    buildBusyboxRootfs(this.rootfs);
    const images = opts.images ?? { "busybox:test": {} };
    for (const [name, overrides] of Object.entries(images)) {
      const config = { ...DEFAULT_CONFIG, ...overrides };
      const id = `sha256:${createHash("sha256").update(JSON.stringify({ name, config })).digest("hex")}`;
      this.known.set(name, { config, id });
      if (opts.preloaded) this.present.add(name);
    }
  }

  private image(name: string): Image {
    const k = this.known.get(name)!;
    return { id: k.id, repoTags: [name], repoDigests: [`${repository(name)}@${k.id}`], size: 1_200_000 };
  }

  async listImages(): Promise<RuntimeResult<readonly Image[]>> {
    return ok([...this.present].map((n) => this.image(n)));
  }

  async imageStatus(image: string): Promise<RuntimeResult<Image | undefined>> {
    return ok(this.present.has(image) ? this.image(image) : undefined);
  }

  async pullImage(image: string, _auth?: AuthConfig): Promise<RuntimeResult<string>> {
    return this.pull(image);
  }

  async pull(image: string, _opts?: PullOptions): Promise<RuntimeResult<string>> {
    if (!this.known.has(image)) {
      return fail("NotFound", `failed to pull and unpack image "${image}": failed to resolve reference "${image}": ${image}: not found`);
    }
    this.present.add(image);
    return ok(this.image(image).repoDigests[0]!);
  }

  async removeImage(image: string): Promise<RuntimeResult<void>> {
    this.present.delete(image);
    return ok(undefined);
  }

  async resolve(image: string): Promise<ResolvedImage | undefined> {
    const k = this.known.get(image);
    if (!k || !this.present.has(image)) return undefined;
    return { id: k.id, imageRef: this.image(image).repoDigests[0]!, lowerDirs: [this.rootfs], config: k.config };
  }

  async resolveImage(image: string): Promise<RuntimeResult<ResolvedImage | undefined>> {
    return ok(await this.resolve(image));
  }

  async garbageCollect(_opts: ImageGcOptions): Promise<RuntimeResult<ImageGcReport>> {
    return fail("Unimplemented", "the fixture image store shares one built-in root filesystem: there is nothing to collect");
  }

  async importArchive(_file: string): Promise<RuntimeResult<readonly string[]>> {
    return fail("Unimplemented", "the fixture image store serves its built-in busybox images only");
  }
}
