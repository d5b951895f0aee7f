/**
 * {@link FileImageStore}: the node's image store on disk.
 *
 * ```
 * <root>/blobs/sha256/<hex>     verified content (manifests, configs, layers)
 * <root>/snapshots/<chain hex>  flattened, read-only root filesystems
 * <root>/index.json             the images: id, repoTags, repoDigests, size, …
 * <root>/ingest/, <root>/tmp/   work in progress (named by pid)
 * ```
 *
 * Pulls of one reference (with the same credentials) that overlap share
 * one pull; overlapping pulls of different references share blob
 * downloads and unpacking. Every public method resolves to a
 * {@link RuntimeResult}; failures carry the code and containerd's wording.
 */
import { createHash } from "node:crypto";
import { mkdir, statfs } from "node:fs/promises";
import { join } from "node:path";
import { type Clock, systemClock } from "../../machinery/clock.js";
import { type Logger, silentLogger } from "../../machinery/log.js";
import { type AuthConfig, fail, type Image, type RuntimeResult } from "../types.js";
import { importArchive } from "./archive-import.js";
import { ContentStore } from "./content-store.js";
import { chainId as computeChainId, isDigest } from "./digest.js";
import { amountToFree, type FsStats, type ImageGcOptions, type ImageGcReport, planImageRemoval, shortfallMessage, usagePercent, validateThresholds } from "./gc.js";
import { ImageIndex, type ImageRecord } from "./image-index.js";
import { hostPlatform, type Platform, parseImageConfig } from "./manifest.js";
import { asResult, ImageError } from "./pull-error.js";
import { formatReference, type ImageReference, parseReference, InvalidReferenceError, repository, taggedName } from "./reference.js";
import { EMPTY_REGISTRY_CONFIG, type RegistryConfig } from "./registry-config.js";
import { SharedWork } from "./shared-work.js";
import { SnapshotStore } from "./snapshots.js";
import type { LocalImageStore, PullOptions, ResolvedImage } from "./types.js";

export interface FileImageStoreOptions {
  /** The store directory, e.g. `<data-dir>/agent/images`. */
  readonly root: string;
  /** Mirrors, credentials and TLS per registry; a function is asked at every pull (so a reloaded file applies). */
  readonly registryConfig?: RegistryConfig | (() => RegistryConfig);
  /** A registry's own endpoint when no mirror answers: `https://<domain>` unless given. */
  readonly defaultEndpoint?: (domain: string) => string;
  /** The platform to pick from image indexes; this machine's by default. */
  readonly platform?: Platform;
  /** Parallel layer downloads per pull (3, as containerd). */
  readonly maxConcurrentDownloads?: number;
  readonly log?: Logger;
  readonly clock?: Clock;
  /** The image filesystem's size and free space (statfs of `root` by default; tests inject it). */
  readonly fsStats?: () => Promise<FsStats>;
  /**
   * Whether a container still has `lowerDir` mounted. Removing an image then
   * keeps its root filesystem until a later removal or GC finds it unused.
   */
  readonly isLowerDirInUse?: (lowerDir: string) => boolean;
}

const MAX_CONFIG_BYTES = 32 << 20;
/** How often a running pull logs its progress. */
const PULL_PROGRESS_LOG_MS = 5_000;

/** Unnamed content older than this is a crashed pull's leftover, not another process's work in progress. */
const ORPHAN_AGE_MS = 60 * 60 * 1000;

/** The image store of a node's data dir: `<data-dir>/agent/images`. */
export function imageStoreRoot(dataDir: string): string {
  return join(dataDir, "agent", "images");
}

function toImage(r: ImageRecord): Image {
  return { id: r.id, repoTags: [...r.repoTags], repoDigests: [...r.repoDigests], size: r.size };
}

/** Identity of a pull for sharing: the reference and who pulls it. */
function pullKey(name: string, auth: AuthConfig | undefined): string {
  if (!auth) return name;
  return `${name}\0${createHash("sha256").update(JSON.stringify(auth)).digest("hex")}`;
}

export class FileImageStore implements LocalImageStore {
  private readonly content: ContentStore;
  private readonly snapshots: SnapshotStore;
  private readonly index: ImageIndex;
  private readonly downloads = new SharedWork<string, void>();
  private readonly pulls = new SharedWork<string, string>();
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly tmpDir: string;
  private ready: Promise<void> | undefined;
  /** Pull progress listeners per shared pull. */
  private readonly progress = new Map<string, Set<(done: number, total: number) => void>>();

  constructor(private readonly opts: FileImageStoreOptions) {
    this.log = (opts.log ?? silentLogger).with({ component: "images" });
    this.clock = opts.clock ?? systemClock;
    this.content = new ContentStore(opts.root);
    this.snapshots = new SnapshotStore(opts.root, this.content, this.log);
    this.index = new ImageIndex(opts.root);
    this.tmpDir = join(opts.root, "tmp");
  }

  private init(): Promise<void> {
    this.ready ??= (async () => {
      await mkdir(this.opts.root, { recursive: true, mode: 0o711 });
      await this.content.init();
      await this.snapshots.init();
      await mkdir(this.tmpDir, { recursive: true });
    })();
    return this.ready;
  }

  private registryConfig(): RegistryConfig {
    const c = this.opts.registryConfig;
    return typeof c === "function" ? c() : (c ?? EMPTY_REGISTRY_CONFIG);
  }

  // ---- lookups ----

  /**
   * The record `image` names, as containerd's CRI resolves it: a full
   * `sha256:` id, else a reference (tag or digest), else an id prefix.
   */
  private find(images: readonly ImageRecord[], image: string): ImageRecord | undefined {
    if (isDigest(image)) {
      const byId = images.find((i) => i.id === image);
      if (byId) return byId;
    }
    let ref: ImageReference | undefined;
    try {
      ref = parseReference(image);
    } catch (err) {
      if (!(err instanceof InvalidReferenceError)) throw err;
    }
    if (ref) {
      const name = formatReference(ref);
      const hit = ref.digest ? images.find((i) => i.repoDigests.includes(name)) : images.find((i) => i.repoTags.includes(name));
      if (hit) return hit;
    }
    const prefix = image.startsWith("sha256:") ? image : `sha256:${image}`;
    if (/^sha256:[a-f0-9]+$/.test(prefix)) {
      const hits = images.filter((i) => i.id.startsWith(prefix));
      if (hits.length > 1) throw new ImageError("InvalidArgument", `ambiguous image id prefix ${JSON.stringify(image)}`);
      return hits[0];
    }
    return undefined;
  }

  async listImages(): Promise<RuntimeResult<readonly Image[]>> {
    return asResult(async () => {
      await this.init();
      return this.index.read().map(toImage);
    });
  }

  async imageStatus(image: string): Promise<RuntimeResult<Image | undefined>> {
    return asResult(async () => {
      await this.init();
      const r = this.find(this.index.read(), image);
      return r ? toImage(r) : undefined;
    });
  }

  async resolve(image: string): Promise<ResolvedImage | undefined> {
    const r = await this.resolveImage(image);
    if (r.ok) return r.value;
    this.log.error("image present but not usable", { image, error: r.error.message });
    return undefined;
  }

  resolveImage(image: string): Promise<RuntimeResult<ResolvedImage | undefined>> {
    return asResult(() => this.doResolve(image));
  }

  private async doResolve(image: string): Promise<ResolvedImage | undefined> {
    await this.init();
    const r = this.find(this.index.read(), image);
    if (!r) return undefined;
    // The root may be missing after a crash mid-unpack or an interrupted removal: rebuild it from the blobs.
    const lowerDir = await this.snapshots.ensure(r.chainId, r.layers, r.diffIds);
    const parsed = parseImageConfig(await this.content.read(r.id, MAX_CONFIG_BYTES));
    if (!parsed.ok) throw new ImageError(parsed.error.code, parsed.error.message);
    const now = this.clock.now();
    await this.index.update((images) => {
      const rec = images.find((i) => i.id === r.id);
      if (rec) rec.lastUsed = now;
    });
    return { id: r.id, imageRef: r.repoDigests[0] ?? r.id, lowerDirs: [lowerDir], config: parsed.value.run };
  }

  // ---- pull ----

  pullImage(image: string, auth?: AuthConfig): Promise<RuntimeResult<string>> {
    return this.pull(image, auth ? { auth } : {});
  }

  async pull(image: string, opts: PullOptions = {}): Promise<RuntimeResult<string>> {
    let ref: ImageReference;
    try {
      ref = parseReference(image);
    } catch (err) {
      if (err instanceof InvalidReferenceError) return fail("InvalidArgument", `failed to parse image reference "${image}": ${err.message}`);
      throw err;
    }
    const name = formatReference(ref);
    const key = pullKey(name, opts.auth);
    const listener = opts.onProgress ? (done: number, total: number) => opts.onProgress!({ image, doneBytes: done, totalBytes: total }) : undefined;
    let listeners = this.progress.get(key);
    if (!listeners) this.progress.set(key, (listeners = new Set()));
    if (listener) listeners.add(listener);
    const all = listeners;
    try {
      return await asResult(
        () =>
          this.pulls.run(
            key,
            async (signal) => {
              try {
                return await this.doPull(ref, opts.auth, signal, (d, t) => {
                  for (const l of all) l(d, t);
                });
              } finally {
                if (this.progress.get(key) === all) this.progress.delete(key);
              }
            },
            opts.signal,
          ),
        (e) => (e.code === "Unknown" && e.message === "context canceled" ? e : e.wrap(`failed to pull and unpack image "${name}"`)),
      );
    } finally {
      if (listener) all.delete(listener);
    }
  }

  private async doPull(ref: ImageReference, auth: AuthConfig | undefined, signal: AbortSignal, onProgress: (d: number, t: number) => void): Promise<string> {
    await this.init();
    const started = this.clock.now();
    const image = formatReference(ref);
    this.log.info("pulling image", { image });
    // Long pulls say how far they got every few seconds, so a slow registry is visible in the log.
    let lastLog = started;
    const progress = (done: number, total: number) => {
      onProgress(done, total);
      const now = this.clock.now();
      if (now - lastLog < PULL_PROGRESS_LOG_MS) return;
      lastLog = now;
      this.log.info("pull progress", { image, doneBytes: done, totalBytes: total, percent: total > 0 ? Math.floor((100 * done) / total) : 0 });
    };
    // The registry client is loaded with the first pull: a node that pulls nothing never carries it.
    const { fetchImage } = await import("./pull.js");
    const fetched = await fetchImage(
      {
        content: this.content,
        registryConfig: this.registryConfig(),
        defaultEndpoint: this.opts.defaultEndpoint,
        platform: this.opts.platform ?? hostPlatform(),
        downloads: this.downloads,
        maxConcurrentDownloads: this.opts.maxConcurrentDownloads ?? 3,
        log: this.log,
      },
      ref,
      { auth, signal, onProgress: progress },
    );
    const chain = computeChainId(fetched.config.diffIds);
    const layers = fetched.layers.map((l) => l.digest);
    await this.snapshots.ensure(chain, layers, fetched.config.diffIds, signal);
    const repoDigest = `${repository(ref)}@${fetched.topDigest}`;
    await this.record({
      id: fetched.configDigest,
      repoTag: taggedName(ref),
      repoDigest,
      size: fetched.size,
      layers,
      diffIds: fetched.config.diffIds,
      chainId: chain,
      blobs: fetched.blobs,
    });
    this.log.info("pulled image", { image: formatReference(ref), id: fetched.configDigest, bytes: fetched.size, ms: this.clock.now() - started });
    return repoDigest;
  }

  /** Adds or updates an image: a tag moves to it from any other image, as containerd does. */
  private record(img: {
    id: string;
    repoTag?: string;
    repoDigest?: string;
    size: number;
    layers: readonly string[];
    diffIds: readonly string[];
    chainId: string;
    blobs: readonly string[];
  }): Promise<void> {
    const now = this.clock.now();
    return this.index.update((images) => {
      if (img.repoTag) {
        for (const other of images) if (other.id !== img.id) other.repoTags = other.repoTags.filter((t) => t !== img.repoTag);
      }
      let rec = images.find((i) => i.id === img.id);
      if (!rec) {
        rec = {
          id: img.id,
          repoTags: [],
          repoDigests: [],
          size: img.size,
          layers: img.layers,
          diffIds: img.diffIds,
          chainId: img.chainId,
          blobs: img.blobs,
          firstDetected: now,
          lastUsed: 0,
        };
        images.push(rec);
      } else {
        // The same config reached through another manifest: keep every blob that names it.
        (rec as { blobs: readonly string[] }).blobs = [...new Set([...rec.blobs, ...img.blobs])];
      }
      if (img.repoTag && !rec.repoTags.includes(img.repoTag)) rec.repoTags.push(img.repoTag);
      if (img.repoDigest && !rec.repoDigests.includes(img.repoDigest)) rec.repoDigests.push(img.repoDigest);
    });
  }

  // ---- import ----

  async importArchive(file: string): Promise<RuntimeResult<readonly string[]>> {
    return asResult(
      async () => {
        await this.init();
        const found = await importArchive({ content: this.content, tmpDir: this.tmpDir, platform: this.opts.platform ?? hostPlatform(), log: this.log }, file);
        const names: string[] = [];
        for (const img of found) {
          const chain = computeChainId(img.config.diffIds);
          await this.snapshots.ensure(chain, img.layers, img.config.diffIds);
          await this.record({
            id: img.configDigest,
            repoTag: img.repoTag,
            repoDigest: img.repoDigest,
            size: img.size,
            layers: img.layers,
            diffIds: img.config.diffIds,
            chainId: chain,
            blobs: img.blobs,
          });
          names.push(img.repoTag ?? img.configDigest);
          this.log.info("imported image", { image: img.repoTag ?? "<none>", id: img.configDigest, file });
        }
        return names;
      },
      (e) => e.wrap(`failed to import ${file}`),
    );
  }

  // ---- removal and GC ----

  async removeImage(image: string): Promise<RuntimeResult<void>> {
    return asResult(async () => {
      await this.init();
      const removed = await this.index.update((images) => {
        const r = this.find(images, image);
        if (!r) return undefined;
        images.splice(images.indexOf(r), 1);
        return r;
      });
      // Removing what is not there succeeds, as CRI's RemoveImage.
      if (removed) {
        this.log.info("removed image", { image, id: removed.id });
        await this.sweep([removed]);
      }
    });
  }

  /**
   * Deletes the blobs and root filesystems of `removed` images that no
   * remaining image needs, except what a running pull or unpack uses or a
   * container has mounted; and leftovers of crashed pulls (content no image
   * names, untouched for {@link ORPHAN_AGE_MS}: younger unnamed content may
   * be another process's import in progress).
   */
  private async sweep(removed: readonly ImageRecord[]): Promise<void> {
    const images = this.index.read();
    const now = Date.now();
    const keepBlobs = new Set(images.flatMap((i) => i.blobs));
    for (const d of this.downloads.keys()) keepBlobs.add(d);
    // A pull in flight has stored manifests and configs it has not recorded yet.
    const pulling = this.pulls.keys().length > 0;
    const removedBlobs = new Set(removed.flatMap((i) => i.blobs));
    for (const d of await this.content.list()) {
      if (keepBlobs.has(d) || pulling) continue;
      if (removedBlobs.has(d) || now - ((await this.content.mtime(d)) ?? now) > ORPHAN_AGE_MS) await this.content.remove(d);
    }
    const keepChains = new Set(images.map((i) => i.chainId));
    for (const c of this.snapshots.busy()) keepChains.add(c);
    const removedChains = new Set(removed.map((i) => i.chainId));
    for (const c of await this.snapshots.list()) {
      if (keepChains.has(c)) continue;
      if (!removedChains.has(c) && now - ((await this.snapshots.mtime(c)) ?? now) <= ORPHAN_AGE_MS) continue;
      if (this.opts.isLowerDirInUse?.(this.snapshots.path(c))) continue;
      await this.snapshots.remove(c);
    }
  }

  private async fsStats(): Promise<FsStats> {
    if (this.opts.fsStats) return this.opts.fsStats();
    const s = await statfs(this.opts.root);
    return { capacityBytes: s.blocks * s.bsize, availableBytes: s.bavail * s.bsize };
  }

  /**
   * Image GC (kubelet semantics): at or above the high threshold, removes
   * unused images, least recently used first, until usage is back under
   * the low threshold. Fails with ResourceExhausted and the kubelet's
   * message when not enough can be freed (what could be was removed).
   */
  async garbageCollect(opts: ImageGcOptions): Promise<RuntimeResult<ImageGcReport>> {
    const high = opts.highThresholdPercent ?? 85;
    const low = opts.lowThresholdPercent ?? 80;
    const invalid = validateThresholds(high, low);
    if (invalid) return fail("InvalidArgument", invalid);
    return asResult(async () => {
      await this.init();
      const now = this.clock.now();
      // Images in use count as used now (the kubelet's detectImages).
      await this.index.update((images) => {
        for (const i of images) if (opts.inUse.has(i.id)) i.lastUsed = now;
      });
      const fs = await this.fsStats();
      const usage = usagePercent(fs);
      if (usage < high) return { usagePercent: usage, amountToFree: 0, freedBytes: 0, removed: [] };
      const want = amountToFree(fs, low);
      const plan = planImageRemoval(this.index.read(), want, opts.inUse, now, opts.minAgeMs ?? 0);
      const removed: string[] = [];
      const records: ImageRecord[] = [];
      let freed = 0;
      for (const c of plan.remove) {
        const gone = await this.index.update((images) => {
          const at = images.findIndex((i) => i.id === c.id);
          // Re-check under the lock: it may have been removed or become used meanwhile.
          if (at < 0 || opts.inUse.has(c.id)) return undefined;
          return images.splice(at, 1)[0];
        });
        if (!gone) continue;
        records.push(gone);
        removed.push(c.id);
        freed += c.size;
        this.log.info("image garbage collected", { id: c.id, bytes: c.size, lastUsed: c.lastUsed });
      }
      if (records.length > 0) await this.sweep(records);
      this.log.info("image garbage collection", { usagePercent: usage, amountToFree: want, freedBytes: freed, removed: removed.length });
      if (freed < want) throw new ImageError("ResourceExhausted", shortfallMessage(want, freed));
      return { usagePercent: usage, amountToFree: want, freedBytes: freed, removed };
    });
  }
}
