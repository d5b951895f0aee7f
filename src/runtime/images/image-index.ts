/**
 * The list of images a store holds (`<root>/index.json`), rewritten
 * atomically on every change. Several processes may use one store (the
 * agent pulling, `skiff image import` adding), so every change re-reads
 * the file under an exclusive lock file (`index.lock`, holding the
 * owner's pid; a lock whose process is gone is taken over).
 */
import { closeSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../../machinery/atomic-file.js";
import { processExists } from "../../machinery/process-exists.js";

/** One image as stored. */
export interface ImageRecord {
  /** The config digest. */
  readonly id: string;
  /** Fully qualified `repo:tag`s; a tag names one image at a time. */
  repoTags: string[];
  /** `repo@sha256:…` of the manifest (or index) the image was pulled by. */
  repoDigests: string[];
  /** Bytes of its content as stored: manifest, config and (compressed) layers. */
  readonly size: number;
  /** Layer blobs, bottom first. */
  readonly layers: readonly string[];
  readonly diffIds: readonly string[];
  /** Chain id of the layers: names the unpacked root filesystem. */
  readonly chainId: string;
  /** Every blob the image needs kept (manifests, config, layers). */
  readonly blobs: readonly string[];
  /** When the image first appeared in the store (ms). */
  readonly firstDetected: number;
  /** When a container last used it (ms); 0 for never (image GC order). */
  lastUsed: number;
}

interface IndexFile {
  version: 1;
  images: ImageRecord[];
}

const LOCK_WAIT_MS = 20;
const LOCK_TIMEOUT_MS = 60_000;


/** The image list of one store directory. */
export class ImageIndex {
  private readonly file: string;
  private readonly lockFile: string;
  /** Serialises this process's own changes (the lock file serialises processes). */
  private chain: Promise<unknown> = Promise.resolve();

  constructor(root: string) {
    this.file = join(root, "index.json");
    this.lockFile = join(root, "index.lock");
  }

  /** The current list, read from disk. */
  read(): ImageRecord[] {
    let text: string;
    try {
      text = readFileSync(this.file, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw err;
    }
    const doc = JSON.parse(text) as IndexFile;
    if (doc.version !== 1 || !Array.isArray(doc.images)) throw new Error(`${this.file}: unknown index format`);
    return doc.images;
  }

  /** Runs `fn` on a fresh copy of the list under the lock and writes back what it leaves. */
  update<T>(fn: (images: ImageRecord[]) => T): Promise<T> {
    const run = this.chain.then(async () => {
      await this.lock();
      try {
        const images = this.read();
        const out = fn(images);
        const doc: IndexFile = { version: 1, images };
        writeFileAtomic(this.file, JSON.stringify(doc, null, 1), { mode: 0o644 });
        return out;
      } finally {
        rmSync(this.lockFile, { force: true });
      }
    });
    this.chain = run.catch(() => {});
    return run;
  }

  private async lock(): Promise<void> {
    const deadline = Date.now() + LOCK_TIMEOUT_MS;
    for (;;) {
      try {
        const fd = openSync(this.lockFile, "wx", 0o644);
        writeSync(fd, String(process.pid));
        closeSync(fd);
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      }
      let owner = Number.NaN;
      try {
        owner = Number(readFileSync(this.lockFile, "utf8"));
      } catch {
        continue; // released meanwhile
      }
      // Our own pid can only be a leftover of a crash: this process serialises itself through `chain`.
      if (Number.isInteger(owner) && owner > 0 && (owner === process.pid || !processExists(owner))) {
        rmSync(this.lockFile, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`${this.lockFile}: held by pid ${owner} for over ${LOCK_TIMEOUT_MS / 1000}s`);
      await new Promise((r) => setTimeout(r, LOCK_WAIT_MS));
    }
  }
}
