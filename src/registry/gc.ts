/**
 * Mark-and-sweep garbage collection of the blob store, as distribution's
 * `garbage-collect`: mark every manifest each repository holds and every
 * blob and child manifest those reference; sweep the other blobs. A blob
 * modified less than `gracePeriodMs` ago is kept, so an image whose layers
 * are uploaded but whose manifest is not pushed yet survives (uploads and
 * mounts refresh a blob's mtime; so does a manifest push for every blob it
 * references). Repository links to swept blobs are removed too.
 */
import type { Logger } from "../machinery/log.js";
import { isForeign, parseManifest } from "./manifests.js";
import type { RegistryStorage } from "./storage.js";

/** What a collection did. */
export interface GcResult {
  /** Blobs kept because something references them. */
  readonly marked: number;
  /** Digests removed. */
  readonly removed: readonly string[];
  /** Unreferenced blobs kept because they are younger than the grace period. */
  readonly keptYoung: number;
  readonly freedBytes: number;
}

export async function garbageCollect(storage: RegistryStorage, opts: { gracePeriodMs: number; logger: Logger; now?: () => number }): Promise<GcResult> {
  const marked = new Set<string>();
  const repos = await storage.repositories();
  for (const repo of repos) {
    for (const digest of await storage.manifestDigests(repo)) {
      const body = await storage.getManifest(repo, digest);
      if (body === undefined) continue;
      marked.add(digest);
      let parsed: ReturnType<typeof parseManifest>;
      try {
        parsed = parseManifest(body, "");
      } catch (err) {
        // Stored manifests were validated on push; keep what it could reference rather than guess.
        opts.logger.warn("registry gc: unreadable manifest kept", { repo, digest, err: (err as Error).message });
        continue;
      }
      for (const d of [...parsed.blobs, ...parsed.manifests]) if (!isForeign(d)) marked.add(d.digest);
    }
  }
  const now = opts.now ?? Date.now;
  const removed: string[] = [];
  let keptYoung = 0;
  let freedBytes = 0;
  for (const b of await storage.allBlobs()) {
    if (marked.has(b.digest)) continue;
    // Re-read the mtime at sweep time: a push may have touched it since the listing.
    const size = await storage.blobSize(b.digest);
    if (size === undefined) continue;
    const fresh = (await storage.blobMtime(b.digest)) ?? b.mtimeMs;
    if (now() - fresh < opts.gracePeriodMs) {
      keptYoung++;
      continue;
    }
    await storage.removeBlob(b.digest);
    removed.push(b.digest);
    freedBytes += size;
  }
  if (removed.length > 0) {
    const gone = new Set(removed);
    for (const repo of repos) {
      for (const d of await storage.layerDigests(repo)) if (gone.has(d)) await storage.unlinkBlob(repo, d);
    }
  }
  opts.logger.info("registry garbage collection done", { marked: marked.size, removed: removed.length, keptYoung, freedBytes });
  return { marked: marked.size, removed, keptYoung, freedBytes };
}
