/**
 * Image garbage collection as the kubelet's realImageGCManager decides it:
 * when the image filesystem's usage reaches `highThresholdPercent`, free
 * enough to get back to `lowThresholdPercent`, removing unused images
 * least recently used first (never-used ones by first detection), skipping
 * images in use and images younger than the minimum age.
 */

/** Options of `LocalImageStore.garbageCollect`. */
export interface ImageGcOptions {
  /** Usage at which collection starts (kubelet imageGCHighThresholdPercent; 85 by default). */
  readonly highThresholdPercent?: number;
  /** Usage collection brings the filesystem back to (imageGCLowThresholdPercent; 80 by default). */
  readonly lowThresholdPercent?: number;
  /** Image ids that containers use: never removed, and counted as used now. */
  readonly inUse: ReadonlySet<string>;
  /** Images detected more recently than this are kept (imageMinimumGCAge; 0 by default here, 2m in the kubelet). */
  readonly minAgeMs?: number;
}

/** What a collection did. */
export interface ImageGcReport {
  /** Usage of the image filesystem before collecting, in percent. */
  readonly usagePercent: number;
  /** Bytes it set out to free (0 when under the high threshold). */
  readonly amountToFree: number;
  readonly freedBytes: number;
  /** Ids of the removed images. */
  readonly removed: readonly string[];
}

/** Capacity and free space of the filesystem holding the images. */
export interface FsStats {
  readonly capacityBytes: number;
  readonly availableBytes: number;
}

/** An image as GC sees it. */
export interface GcCandidate {
  readonly id: string;
  readonly size: number;
  readonly firstDetected: number;
  readonly lastUsed: number;
}

/** Checks thresholds as the kubelet's config validation does; returns a message when invalid. */
export function validateThresholds(high: number, low: number): string | undefined {
  if (!(high >= 0 && high <= 100)) return `invalid HighThresholdPercent ${high}, must be in range [0-100]`;
  if (!(low >= 0 && low <= 100)) return `invalid LowThresholdPercent ${low}, must be in range [0-100]`;
  if (low > high) return `LowThresholdPercent ${low} can not be higher than HighThresholdPercent ${high}`;
  return undefined;
}

/** Usage in percent, as the kubelet computes it (integer division of the free part). */
export function usagePercent(fs: FsStats): number {
  const available = Math.min(fs.availableBytes, fs.capacityBytes);
  if (fs.capacityBytes <= 0) return 0;
  return 100 - Math.trunc((available * 100) / fs.capacityBytes);
}

/** Bytes to free to get from `fs` down to `lowPercent`. */
export function amountToFree(fs: FsStats, lowPercent: number): number {
  const available = Math.min(fs.availableBytes, fs.capacityBytes);
  return Math.max(0, Math.trunc((fs.capacityBytes * (100 - lowPercent)) / 100) - available);
}

/**
 * The images to remove, in order, to free `bytes`: unused, old enough,
 * least recently used first (ties by first detection).
 */
export function planImageRemoval(
  images: readonly GcCandidate[],
  bytes: number,
  inUse: ReadonlySet<string>,
  now: number,
  minAgeMs: number,
): { remove: GcCandidate[]; freed: number } {
  const candidates = images
    .filter((i) => !inUse.has(i.id))
    .sort((a, b) => a.lastUsed - b.lastUsed || a.firstDetected - b.firstDetected);
  const remove: GcCandidate[] = [];
  let freed = 0;
  for (const c of candidates) {
    if (freed >= bytes) break;
    if (now - c.firstDetected < minAgeMs) continue;
    remove.push(c);
    freed += c.size;
  }
  return { remove, freed };
}

/** The kubelet's message when not enough could be freed. */
export function shortfallMessage(wanted: number, found: number): string {
  return `Failed to garbage collect required amount of images. Attempted to free ${wanted} bytes, but only found ${found} bytes eligible to free.`;
}
