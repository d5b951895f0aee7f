/**
 * The lister-then-live-lookup read upstream's ResourceQuota and LimitRanger
 * plugins share: objects come from the in-memory cache; a namespace the
 * cache shows empty is read from the store once (an object created an
 * instant ago may not have reached the cache yet) and that answer is kept
 * for 30 s (upstream's liveTTL), so namespaces without any stay cheap.
 */
import type { Clock } from "../../machinery/clock.js";
import type { KList, KObject } from "../registry/types.js";

export interface NamespacedLister {
  list(ns: string | undefined): Promise<KList>;
}

/** Upstream's liveTTL of both plugins. */
export const LIVE_LOOKUP_TTL_MS = 30_000;

export class LiveLookup {
  private readonly live = new Map<string, { readonly until: number; readonly items: readonly KObject[] }>();

  constructor(
    private readonly cached: NamespacedLister,
    private readonly store: NamespacedLister,
    private readonly clock: Clock,
  ) {}

  async list(ns: string): Promise<readonly KObject[]> {
    const items = (await this.cached.list(ns)).items;
    if (items.length > 0) return items;
    const now = this.clock.now();
    const hit = this.live.get(ns);
    if (hit && hit.until > now) return hit.items;
    const fresh = (await this.store.list(ns)).items;
    if (this.live.size > 4096) this.live.clear();
    this.live.set(ns, { until: now + LIVE_LOOKUP_TTL_MS, items: fresh });
    return fresh;
  }
}
