/**
 * Keeps a NodeGraph current from the store, as upstream's graph populator
 * does from informers: list, then follow the watch, relisting after a gap
 * (410 Expired) so the graph never misses a change for long.
 */
import type { Logger } from "../../../machinery/log.js";
import type { ApiWatchEvent, WatchOptions } from "../../registry/object-store.js";
import type { KList, KObject } from "../../registry/types.js";
import type { NodeGraph } from "./graph.js";

/** What the populator reads of a resource: the ObjectStore's list and watch. */
export interface WatchableObjects {
  list(ns: undefined): Promise<KList>;
  watch(ns: undefined, opts: WatchOptions): AsyncIterable<ApiWatchEvent>;
}

interface Feed {
  readonly name: string;
  readonly source: WatchableObjects;
  reset(items: readonly KObject[]): void;
  set(o: KObject): void;
  remove(o: KObject): void;
}

export class GraphPopulator {
  private readonly ac = new AbortController();
  private readonly feeds: Feed[];

  constructor(
    graph: NodeGraph,
    sources: { readonly pods: WatchableObjects; readonly persistentVolumes: WatchableObjects },
    private readonly log: Logger,
    private readonly retryMs = 1000,
  ) {
    this.feeds = [
      {
        name: "pods",
        source: sources.pods,
        reset: (items) => graph.resetPods(items),
        set: (o) => graph.setPod(o),
        remove: (o) => graph.deletePod(`${o.metadata?.namespace ?? ""}/${o.metadata?.name ?? ""}`),
      },
      {
        name: "persistentvolumes",
        source: sources.persistentVolumes,
        reset: (items) => graph.resetPVs(items),
        set: (o) => graph.setPV(o),
        remove: (o) => graph.deletePV(o.metadata?.name ?? ""),
      },
    ];
  }

  /** Resolves once every resource is listed into the graph; follows changes until {@link stop}. */
  async start(): Promise<void> {
    const revisions = await Promise.all(this.feeds.map((f) => this.relist(f)));
    this.feeds.forEach((f, i) => void this.follow(f, revisions[i]!));
  }

  stop(): void {
    this.ac.abort();
  }

  private async relist(f: Feed): Promise<string> {
    const list = await f.source.list(undefined);
    f.reset(list.items);
    return list.metadata.resourceVersion;
  }

  private async follow(f: Feed, from: string): Promise<void> {
    let revision = from;
    const signal = this.ac.signal;
    while (!signal.aborted) {
      try {
        for await (const ev of f.source.watch(undefined, { resourceVersion: revision, signal })) {
          if (ev.type === "ERROR") throw new Error("watch expired");
          const o = ev.object as KObject;
          revision = o.metadata?.resourceVersion ?? revision;
          if (ev.type === "DELETED") f.remove(o);
          else if (ev.type !== "BOOKMARK") f.set(o);
        }
        if (signal.aborted) return;
        // A watch that ended without an error resumes from the last revision seen.
      } catch (err) {
        if (signal.aborted) return;
        this.log.debug("node graph relisting", { resource: f.name, err: (err as Error).message });
        try {
          revision = await this.relist(f);
        } catch {
          await new Promise((r) => setTimeout(r, this.retryMs).unref());
        }
      }
    }
  }
}
