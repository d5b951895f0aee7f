import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { expired } from "../machinery/status-error.js";
import { type EventHandlers, SharedInformer, stripManagedFields } from "./informer.js";
import type { KubeList, ListerWatcher, ListOptions, WatchOptions } from "./resource-client.js";
import { objectKey } from "./store.js";
import { type WatchEvent, WatchExpiredError } from "./watch.js";

interface Pod {
  metadata: { name: string; namespace?: string; resourceVersion: string };
  spec?: { nodeName?: string };
}

const pod = (name: string, rv: number, nodeName?: string, namespace = "default"): Pod => ({
  metadata: { name, namespace, resourceVersion: String(rv) },
  spec: { nodeName },
});

/** A watch stream the test pushes into. */
class Channel<T> implements AsyncIterable<T> {
  private items: T[] = [];
  private error: unknown;
  private ended = false;
  private wake: (() => void) | undefined;

  push(x: T): void {
    this.items.push(x);
    this.wake?.();
  }
  fail(err: unknown): void {
    this.error = err;
    this.wake?.();
  }
  end(): void {
    this.ended = true;
    this.wake?.();
  }
  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    for (;;) {
      while (this.items.length > 0) yield this.items.shift()!;
      if (this.error) throw this.error;
      if (this.ended) return;
      await new Promise<void>((r) => (this.wake = r));
      this.wake = undefined;
    }
  }
}

/** A ListerWatcher over an in-memory state, with test-controlled watches. */
class FakeSource implements ListerWatcher<Pod> {
  state = new Map<string, Pod>();
  rv = 0;
  lists: ListOptions[] = [];
  watches: { opts: WatchOptions; channel: Channel<WatchEvent<Pod>>; signal?: AbortSignal }[] = [];
  failContinue = false;

  set(p: Pod): void {
    this.state.set(objectKey(p), p);
  }

  async list(opts: ListOptions): Promise<KubeList<Pod>> {
    this.lists.push(opts);
    const all = [...this.state.values()].sort((a, b) => objectKey(a).localeCompare(objectKey(b)));
    if (opts.continue && this.failContinue) {
      this.failContinue = false;
      throw expired("The provided continue parameter is too old");
    }
    const start = opts.continue ? Number(opts.continue) : 0;
    const end = opts.limit ? start + opts.limit : all.length;
    const more = end < all.length;
    return { metadata: { resourceVersion: String(this.rv), ...(more ? { continue: String(end) } : {}) }, items: all.slice(start, end) };
  }

  watch(opts: WatchOptions, signal?: AbortSignal): AsyncIterable<WatchEvent<Pod>> {
    const channel = new Channel<WatchEvent<Pod>>();
    signal?.addEventListener("abort", () => channel.end(), { once: true });
    this.watches.push({ opts, channel, signal });
    return channel;
  }
}

async function until(what: string, cond: () => boolean): Promise<void> {
  for (let i = 0; i < 10_000; i++) {
    if (cond()) return;
    await new Promise((r) => setImmediate(r));
  }
  assert.fail(`never happened: ${what}`);
}

function recorder(): { log: string[]; handlers: EventHandlers<Pod> } {
  const log: string[] = [];
  return {
    log,
    handlers: {
      onAdd: (p, initial) => log.push(`add ${p.metadata.name}@${p.metadata.resourceVersion}${initial ? " initial" : ""}`),
      onUpdate: (o, n) => log.push(`update ${n.metadata.name} ${o.metadata.resourceVersion}->${n.metadata.resourceVersion}`),
      onDelete: (p) => log.push(`delete ${p.metadata.name}@${p.metadata.resourceVersion}`),
    },
  };
}

describe("SharedInformer", () => {
  it("lists in pages, watches from the list's version, and diffs a relist after 410", async () => {
    const src = new FakeSource();
    src.set(pod("a", 1, "n1"));
    src.set(pod("b", 2, "n1"));
    src.set(pod("c", 3, "n2"));
    src.rv = 3;
    const inf = new SharedInformer<Pod>({ source: src, pageSize: 2, backoffInitialMs: 1, backoffMaxMs: 2 });
    inf.addIndexer("node", (p) => (p.spec?.nodeName ? [p.spec.nodeName] : []));
    const r = recorder();
    inf.addEventHandler(r.handlers);
    const ac = new AbortController();
    const done = inf.run(ac.signal);
    assert.equal(await inf.waitForSync(ac.signal), true);
    assert.deepEqual(r.log, ["add a@1 initial", "add b@2 initial", "add c@3 initial"]);
    assert.deepEqual(
      src.lists.map((l) => [l.limit, l.continue]),
      [
        [2, undefined],
        [2, "2"],
      ],
    );
    await until("watch opened", () => src.watches.length === 1);
    assert.equal(src.watches[0]!.opts.resourceVersion, "3");
    assert.equal(src.watches[0]!.opts.allowWatchBookmarks, true);

    // Watch events.
    r.log.length = 0;
    const w = src.watches[0]!.channel;
    w.push({ type: "ADDED", object: pod("d", 4, "n2") });
    w.push({ type: "MODIFIED", object: pod("a", 5, "n2") });
    w.push({ type: "DELETED", object: pod("b", 6, "n1") });
    w.push({ type: "BOOKMARK", object: { metadata: { name: "", resourceVersion: "7" } } });
    await until("events applied", () => inf.lastSyncResourceVersion() === "7");
    assert.deepEqual(r.log, ["add d@4", "update a 1->5", "delete b@6"]);
    assert.deepEqual(inf.byIndex("node", "n2").map((p) => p.metadata.name).sort(), ["a", "c", "d"]);
    assert.deepEqual(inf.byIndex("node", "n1"), []);
    assert.deepEqual(inf.byNamespace("default").length, 3);
    assert.equal(inf.get("default/a")?.metadata.resourceVersion, "5");

    // The world moves on while the watch is gone: c changes, d goes, e comes, a stays.
    src.set(pod("a", 5, "n2"));
    src.state.delete("default/b");
    src.set(pod("c", 8, "n3"));
    src.set(pod("e", 9, "n1"));
    src.state.delete("default/d");
    src.rv = 10;
    r.log.length = 0;
    w.fail(new WatchExpiredError(expired("too old resource version: 7 (9)").status));
    await until("relisted and rewatching", () => src.watches.length === 2);
    assert.deepEqual(r.log.sort(), ["add e@9", "delete d@4", "update c 3->8"].sort());
    assert.equal(src.watches[1]!.opts.resourceVersion, "10");
    assert.deepEqual(inf.byIndex("node", "n3").map((p) => p.metadata.name), ["c"]);
    assert.equal(inf.size, 3);

    // A late handler sees what is cached as adds.
    const late = recorder();
    const reg = inf.addEventHandler(late.handlers);
    assert.deepEqual(late.log.sort(), ["add a@5 initial", "add c@8 initial", "add e@9 initial"]);
    assert.equal(reg.hasSynced(), true);
    reg.remove();
    src.watches[1]!.channel.push({ type: "ADDED", object: pod("f", 11) });
    await until("f added", () => inf.get("default/f") !== undefined);
    assert.equal(late.log.length, 3, "a removed handler hears nothing");

    ac.abort();
    await done;
    assert.equal(src.watches[1]!.signal?.aborted, true, "stopping closed the watch");
  });

  it("re-watches without relisting when a watch ends normally, relists after other errors", async () => {
    const src = new FakeSource();
    src.set(pod("a", 1));
    src.rv = 1;
    const inf = new SharedInformer<Pod>({ source: src, backoffInitialMs: 1, backoffMaxMs: 2 });
    const r = recorder();
    inf.addEventHandler(r.handlers);
    const ac = new AbortController();
    const done = inf.run(ac.signal);
    await until("watching", () => src.watches.length === 1);
    src.watches[0]!.channel.push({ type: "MODIFIED", object: pod("a", 2) });
    src.watches[0]!.channel.end();
    await until("re-watching", () => src.watches.length === 2);
    assert.equal(src.lists.length, 1, "no relist after a normal end");
    assert.equal(src.watches[1]!.opts.resourceVersion, "2");

    // A network failure: back off, relist (a vanished during the gap).
    src.state.delete("default/a");
    src.rv = 3;
    src.watches[1]!.channel.fail(new Error("socket hang up"));
    await until("relisted", () => src.watches.length === 3);
    assert.equal(src.lists.length, 2);
    assert.deepEqual(r.log, ["add a@1 initial", "update a 1->2", "delete a@2"]);
    ac.abort();
    await done;
  });

  it("falls back to one unpaged list when a continue token expires", async () => {
    const src = new FakeSource();
    for (let i = 0; i < 5; i++) src.set(pod(`p${i}`, i + 1));
    src.rv = 5;
    src.failContinue = true;
    const inf = new SharedInformer<Pod>({ source: src, pageSize: 2 });
    const ac = new AbortController();
    const done = inf.run(ac.signal);
    assert.equal(await inf.waitForSync(), true);
    assert.equal(inf.size, 5);
    assert.equal(src.lists.at(-1)!.limit, undefined);
    ac.abort();
    await done;
  });

  it("keeps going when a handler throws, and resyncs periodically", async () => {
    const src = new FakeSource();
    src.set(pod("a", 1));
    src.rv = 1;
    const inf = new SharedInformer<Pod>({ source: src, resyncPeriodMs: 5 });
    const seen: string[] = [];
    inf.addEventHandler({
      onAdd: () => {
        throw new Error("buggy handler");
      },
    });
    inf.addEventHandler({ onAdd: (p) => seen.push(`add ${p.metadata.name}`), onUpdate: (o, n) => seen.push(o === n ? "resync" : "update") });
    const ac = new AbortController();
    const done = inf.run(ac.signal);
    await inf.waitForSync();
    assert.deepEqual(seen, ["add a"]);
    await until("resynced", () => seen.includes("resync"));
    ac.abort();
    await done;
  });

  it("waitForSync resolves false when aborted first", async () => {
    const inf = new SharedInformer<Pod>({ source: new FakeSource() });
    const ac = new AbortController();
    const p = inf.waitForSync(ac.signal);
    ac.abort();
    assert.equal(await p, false);
  });

  it("applies its transform to listed and watched objects before caching them (stripManagedFields)", async () => {
    const src = new FakeSource();
    const withFields = (p: Pod) => ({ ...p, metadata: { ...p.metadata, managedFields: [{ manager: "kubectl" }] } });
    src.set(withFields(pod("a", 1)));
    src.rv = 1;
    const inf = new SharedInformer<Pod>({ source: src, transform: stripManagedFields });
    const ac = new AbortController();
    const done = inf.run(ac.signal);
    assert.equal(await inf.waitForSync(ac.signal), true);
    await until("watching", () => src.watches.length === 1);
    src.watches[0]!.channel.push({ type: "ADDED", object: withFields(pod("b", 2)) });
    await until("b cached", () => inf.get("default/b") !== undefined);
    for (const name of ["a", "b"]) assert.equal("managedFields" in inf.get(`default/${name}`)!.metadata, false, name);
    ac.abort();
    await done;
  });
});
