/**
 * usageNanoCores needs two readings of a cumulative counter. As cadvisor
 * (and the kubelet's CRI stats provider) do, a periodic housekeeping pass
 * records each cgroup's counter, and the rate between its last two passes
 * is what the Summary API reports until the next pass: a reader sees the
 * average over the last interval, not over the gap since its own last call.
 */

interface Sample {
  readonly atMs: number;
  readonly usageNanos: number;
  /** The rate between this sample and the one before it. */
  readonly nanoCores?: number;
}

/** Rates of cumulative cpu counters, by key (a cgroup path). */
export class CpuRateTracker {
  private readonly samples = new Map<string, Sample>();

  /**
   * Records `usageNanos` read at `atMs`. The rate since the key's previous
   * sample becomes its usageNanoCores; a counter that went backwards (a new
   * cgroup under an old name) starts over without a rate.
   */
  record(key: string, atMs: number, usageNanos: number): void {
    const prev = this.samples.get(key);
    let nanoCores: number | undefined;
    if (prev && atMs > prev.atMs && usageNanos >= prev.usageNanos) {
      nanoCores = Math.round(((usageNanos - prev.usageNanos) * 1000) / (atMs - prev.atMs));
    } else if (prev && atMs === prev.atMs && usageNanos >= prev.usageNanos) {
      // A second pass within the same millisecond adds nothing: keep the rate already known.
      nanoCores = prev.nanoCores;
    }
    this.samples.set(key, { atMs, usageNanos, ...(nanoCores !== undefined ? { nanoCores } : {}) });
  }

  /** The key's rate over its last interval, in billionths of a core; undefined until two samples exist. */
  nanoCores(key: string): number | undefined {
    return this.samples.get(key)?.nanoCores;
  }

  /** Forgets every key not in `live` (cgroups that are gone). */
  retain(live: ReadonlySet<string>): void {
    for (const k of this.samples.keys()) if (!live.has(k)) this.samples.delete(k);
  }

  get size(): number {
    return this.samples.size;
  }
}
