/**
 * Namespaces kept in memory by list+watch, as upstream's admission plugins
 * use a namespace lister: a create in a namespace costs no store read. A miss
 * falls back to a live read (a namespace created an instant ago).
 */
import type { Logger } from "../../machinery/log.js";
import { isNotFound } from "../../machinery/status-error.js";
import type { ObjectStore } from "../registry/object-store.js";
import type { KObject } from "../registry/types.js";

export class NamespaceCache {
  private readonly byName = new Map<string, KObject>();
  private readonly ac = new AbortController();

  constructor(
    private readonly namespaces: ObjectStore,
    private readonly log: Logger,
  ) {}

  /** Lists, then follows changes until {@link stop}; relists after a compaction gap. */
  async start(): Promise<void> {
    const list = await this.namespaces.list(undefined);
    for (const ns of list.items) this.byName.set(ns.metadata!.name!, ns);
    void this.follow(list.metadata.resourceVersion);
  }

  private async follow(rv: string): Promise<void> {
    let from = rv;
    while (!this.ac.signal.aborted) {
      try {
        for await (const ev of this.namespaces.watch(undefined, { resourceVersion: from, signal: this.ac.signal })) {
          if (ev.type === "ERROR") throw new Error("watch expired");
          const obj = ev.object as KObject;
          from = obj.metadata?.resourceVersion ?? from;
          if (ev.type === "DELETED") this.byName.delete(obj.metadata!.name!);
          else if (ev.type !== "BOOKMARK") this.byName.set(obj.metadata!.name!, obj);
        }
      } catch (err) {
        if (this.ac.signal.aborted) return;
        this.log.debug("namespace cache relisting", { err: (err as Error).message });
        try {
          const list = await this.namespaces.list(undefined);
          this.byName.clear();
          for (const ns of list.items) this.byName.set(ns.metadata!.name!, ns);
          from = list.metadata.resourceVersion;
        } catch {
          await new Promise((r) => setTimeout(r, 1000));
        }
      }
    }
  }

  /** The namespace, from memory or (on a miss) from the store; undefined if it does not exist. */
  async get(name: string): Promise<KObject | undefined> {
    const hit = this.byName.get(name);
    if (hit) return hit;
    try {
      return await this.namespaces.get(undefined, name);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  stop(): void {
    this.ac.abort();
  }
}
