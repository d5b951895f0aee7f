/**
 * A resource's objects kept in memory by list+watch, as upstream's
 * admission plugins use listers: reads on the write path cost no store
 * access. A `get` miss falls back to the store (an object created an instant
 * ago may not have arrived yet).
 */
import type { Logger } from "../../machinery/log.js";
import type { ObjectStore } from "./object-store.js";
import type { KList, KObject } from "./types.js";

const keyOf = (ns: string | undefined, name: string) => `${ns ?? ""}/${name}`;

export class ObjectCache {
  private readonly objects = new Map<string, KObject>();
  private readonly ac = new AbortController();
  private revision = "0";

  constructor(
    private readonly store: ObjectStore,
    private readonly log: Logger,
  ) {}

  /** Lists, then follows changes until {@link stop}; relists after a gap. */
  async start(): Promise<void> {
    await this.relist();
    void this.follow();
  }

  stop(): void {
    this.ac.abort();
  }

  private async relist(): Promise<void> {
    const list = await this.store.list(undefined);
    this.objects.clear();
    for (const o of list.items) this.objects.set(keyOf(o.metadata?.namespace, o.metadata!.name!), o);
    this.revision = list.metadata.resourceVersion;
  }

  private async follow(): Promise<void> {
    while (!this.ac.signal.aborted) {
      try {
        for await (const ev of this.store.watch(undefined, { resourceVersion: this.revision, signal: this.ac.signal })) {
          if (ev.type === "ERROR") throw new Error("watch expired");
          const o = ev.object as KObject;
          this.revision = o.metadata?.resourceVersion ?? this.revision;
          const key = keyOf(o.metadata?.namespace, o.metadata!.name!);
          if (ev.type === "DELETED") this.objects.delete(key);
          else if (ev.type !== "BOOKMARK") this.objects.set(key, o);
        }
      } catch (err) {
        if (this.ac.signal.aborted) return;
        this.log.debug("cache relisting", { resource: this.store.resource.plural, err: (err as Error).message });
        await this.relist().catch(() => new Promise((r) => setTimeout(r, 1000)));
      }
    }
  }

  /** The object, from memory or (on a miss) from the store; NotFound if it does not exist. */
  async get(ns: string | undefined, name: string): Promise<KObject> {
    const hit = this.objects.get(keyOf(ns, name));
    if (hit) return hit;
    return this.store.get(ns, name);
  }

  /** The cached objects (of one namespace, or all), as a list. */
  async list(ns?: string): Promise<KList> {
    const items = [...this.objects.values()].filter((o) => !ns || o.metadata?.namespace === ns);
    return { apiVersion: "v1", kind: "List", metadata: { resourceVersion: this.revision }, items };
  }

  /** The object if it exists, else undefined. */
  async find(ns: string | undefined, name: string): Promise<KObject | undefined> {
    try {
      return await this.get(ns, name);
    } catch (err) {
      if ((err as { reason?: string }).reason === "NotFound") return undefined;
      throw err;
    }
  }
}

