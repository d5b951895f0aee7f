/**
 * `skiff image import FILE…` and `skiff image ls`: the node's image store
 * (`<data-dir>/agent/images`) from the command line, as `ctr images import`
 * and `crictl images` are on a k3s node. They work whether or not the agent
 * runs: the store's index is shared through a lock file.
 */
import type { Command } from "commander";
import { consoleLogger } from "../machinery/log.js";
import { repository as repoOf, tryParseReference } from "../runtime/images/reference.js";
import { FileImageStore, imageStoreRoot } from "../runtime/images/store.js";
import type { Image } from "../runtime/types.js";
import { defaultDataDir } from "./data-dir.js";

/** Where the commands write (tests pass their own). */
export interface ImageIo {
  readonly out: (text: string) => void;
}

const processIo: ImageIo = { out: (t) => void process.stdout.write(t) };

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

/** Adds `skiff image import|ls` to the program. */
export function registerImage(program: Command, io: ImageIo = processIo): void {
  const image = program.command("image").description("manage the images of this node's image store");
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
}
