/**
 * `skiff image import FILE…` and `skiff image ls`: the node's image store
 * (`<data-dir>/agent/images`) from the command line, as `ctr images import`
 * and `crictl images` are on a k3s node. They work whether or not the agent
 * runs: the store's index is shared through a lock file.
 *
 * `skiff image build|push|base` make images and send them to a registry
 * (image-build.ts, image-push.ts, image-base.ts).
 */
import type { Command } from "commander";
import { consoleLogger } from "../machinery/log.js";
import { repository as repoOf, tryParseReference } from "../runtime/images/reference.js";
import { FileImageStore, imageStoreRoot } from "../runtime/images/store.js";
import type { Image } from "../runtime/types.js";
import { defaultDataDir } from "./data-dir.js";
import { collect, type ImageBuildFlags, runImageBuild } from "./image-build.js";
import type { ImageBaseFlags } from "./image-base.js";
import type { ImagePushFlags } from "./image-push.js";

/** Where the commands write (tests pass their own). */
export interface ImageIo {
  readonly out: (text: string) => void;
}

const processIo: ImageIo = { out: (t) => void process.stdout.write(t) };
const processBuildIo = { out: (t: string) => void process.stdout.write(t), err: (t: string) => void process.stderr.write(t) };

/** Flags of `skiff image import`. */
export interface ImageImportFlags {
  readonly dataDir: string;
}

/** Flags of `skiff image ls`. */
export interface ImageListFlags {
  readonly dataDir: string;
  readonly quiet?: boolean;
  readonly digests?: boolean;
}

function storeOf(dataDir: string): FileImageStore {
  return new FileImageStore({ root: imageStoreRoot(dataDir), log: consoleLogger({ level: "warn" }) });
}

/** Imports each archive, reporting as `ctr images import` does; throws on the first failure. */
export async function runImageImport(files: readonly string[], flags: ImageImportFlags, io: ImageIo = processIo): Promise<void> {
  const store = storeOf(flags.dataDir);
  for (const file of files) {
    const r = await store.importArchive(file);
    if (!r.ok) throw new Error(r.error.message);
    for (const name of r.value) {
      const st = await store.imageStatus(name);
      const id = st.ok && st.value ? st.value.id : name;
      io.out(name === id ? `unpacking ${id} (untagged)...done\n` : `unpacking ${name} (${id})...done\n`);
    }
  }
}

/** docker's units.HumanSizeWithPrecision(size, 3), as crictl prints sizes: decimal units, 3 significant digits. */
export function humanSize(bytes: number): string {
  const units = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
  let size = bytes;
  let i = 0;
  while (size >= 1000 && i < units.length - 1) {
    size /= 1000;
    i++;
  }
  return `${Number(size.toPrecision(3))}${units[i]}`;
}

/** The 12-hex short id (`sha256:` dropped). */
export function shortId(id: string): string {
  return id.replace(/^sha256:/, "").slice(0, 12);
}

/** One row per repo:tag; images without tags show their repository (from a digest) or `<none>`. */
function rows(images: readonly Image[]): { repo: string; tag: string; digest: string; image: Image }[] {
  const out: { repo: string; tag: string; digest: string; image: Image }[] = [];
  for (const image of images) {
    const digestOf = (repo: string) => image.repoDigests.find((d) => d.startsWith(`${repo}@`))?.split("@")[1] ?? "<none>";
    if (image.repoTags.length === 0) {
      const byDigest = image.repoDigests[0];
      const repo = byDigest ? byDigest.split("@")[0]! : "<none>";
      out.push({ repo, tag: "<none>", digest: byDigest ? byDigest.split("@")[1]! : "<none>", image });
      continue;
    }
    for (const t of image.repoTags) {
      const ref = tryParseReference(t);
      const repo = ref ? repoOf(ref) : t;
      out.push({ repo, tag: ref?.tag ?? "<none>", digest: digestOf(repo), image });
    }
  }
  return out.sort((a, b) => a.repo.localeCompare(b.repo) || a.tag.localeCompare(b.tag));
}

/** Left-aligned columns as Go's tabwriter with crictl's settings (min width 20, padding 3). */
export function table(header: readonly string[], body: readonly (readonly string[])[]): string {
  const all = [header, ...body];
  const widths = header.map((_, c) => Math.max(17, ...all.map((r) => r[c]!.length)) + 3);
  return all.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join("")).join("\n") + "\n";
}

/** Lists the store's images like `crictl images`. */
export async function runImageList(flags: ImageListFlags, io: ImageIo = processIo): Promise<void> {
  const r = await storeOf(flags.dataDir).listImages();
  if (!r.ok) throw new Error(r.error.message);
  const list = rows(r.value);
  if (flags.quiet) {
    io.out([...new Set(list.map((x) => x.image.id))].map((id) => `${id}\n`).join(""));
    return;
  }
  const header = flags.digests ? ["IMAGE", "TAG", "DIGEST", "IMAGE ID", "SIZE"] : ["IMAGE", "TAG", "IMAGE ID", "SIZE"];
  const body = list.map((x) => {
    const cells = [x.repo, x.tag];
    if (flags.digests) cells.push(x.digest === "<none>" ? x.digest : shortId(x.digest));
    cells.push(shortId(x.image.id), humanSize(x.image.size));
    return cells;
  });
  io.out(table(header, body));
}

/** Adds `skiff image import|ls|build|push|base` to the program. */
export function registerImage(program: Command, io: ImageIo = processIo): void {
  const image = program.command("image").description("build, push and make base images; manage the images of this node's image store");
  image
    .command("import")
    .description("import image archives (OCI layout or docker-archive; tar or tar.gz) into the node's image store")
    .argument("<file...>", "archives to import")
    .option("--data-dir <dir>", "the node's data directory", defaultDataDir())
    .action((files: string[], flags: ImageImportFlags) => runImageImport(files, flags, io));
  image
    .command("ls")
    .alias("list")
    .description("list the images of the node's image store (as crictl images)")
    .option("--data-dir <dir>", "the node's data directory", defaultDataDir())
    .option("-q, --quiet", "only show image ids")
    .option("--digests", "show digests")
    .action((flags: ImageListFlags) => runImageList(flags, io));
  registerBuildCommands(image);
}

const LOCAL_REGISTRY_NOTE = `The cluster registry is localhost:PORT (skiff server --registry-port, 5000 by default): for images
named localhost:PORT/... skiff trusts the cluster CA of --data-dir and logs in with a password minted
from the data dir's signing key (when this user can read it; else what \`buildah login\` stored or --creds).`;

/** `skiff image build`, `push` and `base`. */
function registerBuildCommands(image: Command): void {
  image
    .command("build")
    .description("build an image from a Dockerfile with buildah (layer cache on, multi-stage builds)")
    .argument("<dir>", "the build context")
    .option("-t, --tag <name:tag>", "name of the image (repeat for several)", collect)
    .option("-f, --file <Dockerfile>", "the Dockerfile (default: DIR/Dockerfile, else DIR/Containerfile)")
    .option("--build-arg <key=value>", "set a build-time ARG (repeatable)", collect)
    .option("--target <stage>", "build up to this stage of a multi-stage Dockerfile")
    .option("--no-cache", "do not reuse cached layers")
    .option("--creds <user:pass>", "credentials for the registries FROM images come from (instead of the automatic login)")
    .option("--isolation <type>", "how RUN steps are isolated: oci (runc containers) or chroot", "oci")
    .option("--data-dir <dir>", "the server's data directory: build storage lives in DIR/build, its CA and key reach the cluster registry", defaultDataDir())
    .addHelpText(
      "after",
      `
RUN steps run in runc containers that use this host's network (so \`RUN apt-get install\` reaches
whatever the host reaches). FROM images must be named fully: short names such as \`FROM debian\`
have no registry to come from (make one with \`skiff image base\`); FROM scratch needs nothing.
Built images stay in DIR/build/storage until pushed with \`skiff image push\`.

${LOCAL_REGISTRY_NOTE}

Example:
  skiff image base --with nodejs                 # localhost:5000/skiff/debian-nodejs:bookworm
  skiff image build -t localhost:5000/expense/backend:1 backend/
  skiff image push localhost:5000/expense/backend:1`,
    )
    .action((dir: string, flags: ImageBuildFlags) => runImageBuild(dir, flags, processBuildIo));
  image
    .command("push")
    .description("push an image built by skiff image build to the registry its name says")
    .argument("<name:tag>", "the image, as tagged by skiff image build -t")
    .option("--creds <user:pass>", "credentials for the registry (instead of the automatic login)")
    .option("--data-dir <dir>", "the server's data directory (as for skiff image build)", defaultDataDir())
    .addHelpText("after", `\nPrints REPO@DIGEST when done.\n\n${LOCAL_REGISTRY_NOTE}`)
    .action(async (name: string, flags: ImagePushFlags) => (await import("./image-push.js")).runImagePush(name, flags, processBuildIo));
  image
    .command("base")
    .description("make a minimal Debian image from Debian's packages (mmdebstrap) and push it to the cluster registry")
    .option("-t, --tag <name:tag>", "image name (default: REGISTRY/skiff/debian:SUITE, or REGISTRY/skiff/debian-PKG-PKG:SUITE with --with)")
    .option("--with <package>", "an extra Debian package to install, e.g. nodejs, mariadb-server (repeatable; commas work too)", collect)
    .option("--suite <suite>", "Debian suite", "bookworm")
    .option("--output <file>", "also write the image as an OCI archive (for skiff image import, skopeo oci-archive:)")
    .option("--cache-dir <dir>", "where made images are kept, by suite + packages (default: /var/cache/skiff/base as root, else ~/.cache/skiff/base)")
    .option("--no-push", "do not push (only cache, and write --output)")
    .option("--registry <host:port>", "registry of the default name", "localhost:5000")
    .option("--creds <user:pass>", "credentials for the registry (instead of the automatic login)")
    .option("--mirror <url>", "Debian mirror (default: mmdebstrap's)")
    .option("--refresh", "make the image again even when cached")
    .option("--data-dir <dir>", "the server's data directory (its CA and key reach the cluster registry)", defaultDataDir())
    .addHelpText(
      "after",
      `
The image: Debian's minbase variant plus the --with packages (no recommends), without man pages,
docs, translations or apt lists, as one layer; PATH and LANG=C.UTF-8 set, Cmd bash; labels
io.skiff.debian.suite and io.skiff.debian.packages. Only the first run for a suite + package list
downloads (from Debian's mirror); later runs, and --output, reuse the cache. Prints REPO@DIGEST
after a push, the cached archive's path with --no-push and no --output.

${LOCAL_REGISTRY_NOTE}

Examples:
  skiff image base                               # localhost:5000/skiff/debian:bookworm
  skiff image base --with nodejs                 # localhost:5000/skiff/debian-nodejs:bookworm
  skiff image base --with mariadb-server --no-push --output mariadb.oci.tar`,
    )
    .action(async (flags: ImageBaseFlags) => (await import("./image-base.js")).runImageBase(flags, processBuildIo));
}
