/**
 * The shared conformance suite every store backend runs (DESIGN.md §4.4):
 * the etcd v3 semantics the API server depends on.
 *
 * Usage, from a backend's test file:
 *   runStoreConformance("sqlite", { open: async () => …, reopen: async (s) => … });
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import {
  CompactedError,
  FutureRevisionError,
  KeyExistsError,
  KeyNotFoundError,
  LeaseNotFoundError,
  RevisionMismatchError,
  ValueTooLargeError,
} from "../errors.js";
import { MAX_VALUE_BYTES, type SnapshotEntry, type Store, type WatchBatch, type WatchEvent } from "../store.js";

/** How the suite gets stores of one backend. */
export interface StoreFactory {
  /** Opens a new, empty store (or an empty keyspace of a shared server). */
  open(): Promise<Store>;
  /**
   * Closes `store` abruptly or cleanly and opens the same data again, as a
   * restart does. Omit for backends with nothing durable.
   */
  reopen?(store: Store): Promise<Store>;
  /** Whether lease expiry is checked (etcd's minimum TTL makes it slower). */
  readonly leaseTtlSeconds?: number;
}

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

/** Reads batches until `n` events arrived or `ms` passed; returns what came. */
export async function collect(
  iterable: AsyncIterable<WatchBatch>,
  n: number,
  ms = 5000,
): Promise<{ events: WatchEvent[]; error?: unknown }> {
  const events: WatchEvent[] = [];
  const it = iterable[Symbol.asyncIterator]();
  const deadline = Date.now() + ms;
  try {
    while (events.length < n) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      let timer: NodeJS.Timeout | undefined;
      const r = await Promise.race([
        it.next(),
        new Promise<"timeout">((res) => {
          timer = setTimeout(() => res("timeout"), left);
        }),
      ]);
      clearTimeout(timer);
      if (r === "timeout" || r.done) break;
      events.push(...r.value.events);
    }
  } catch (error) {
    return { events, error };
  }
  return { events };
}

async function rejectsWith(p: Promise<unknown>, cls: new (...a: never[]) => Error): Promise<Error> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof cls, `expected ${cls.name}, got ${(err as Error)?.name}: ${(err as Error)?.message}`);
    return err as Error;
  }
  assert.fail(`expected ${cls.name}, but the call succeeded`);
}

/** Registers the conformance tests for one backend. */
export function runStoreConformance(backend: string, factory: StoreFactory): void {
  const open: Store[] = [];
  const fresh = async () => {
    const s = await factory.open();
    open.push(s);
    return s;
  };
  after(async () => {
    for (const s of open) await s.close().catch(() => {});
  });

  describe(`store conformance: ${backend}`, () => {
    it("creates and reads keys with revisions", async () => {
      const s = await fresh();
      const r0 = await s.currentRevision();
      assert.ok(r0 >= 1, "an empty store is at revision >= 1");
      const w = await s.create("/registry/pods/default/a", enc("one"));
      assert.ok(w.revision > r0);
      assert.equal(w.kv.createRevision, w.revision);
      assert.equal(w.kv.modRevision, w.revision);
      assert.equal(w.kv.version, 1);
      const g = await s.get("/registry/pods/default/a");
      assert.equal(dec(g.kv!.value), "one");
      assert.equal(g.kv!.modRevision, w.revision);
      assert.ok(g.revision >= w.revision);
      assert.equal((await s.get("/registry/pods/default/missing")).kv, undefined);
      assert.equal(await s.currentRevision(), w.revision);
    });

    it("refuses to create an existing key and reports the current value", async () => {
      const s = await fresh();
      await s.create("/k", enc("v1"));
      const err = (await rejectsWith(s.create("/k", enc("v2")), KeyExistsError)) as KeyExistsError;
      assert.equal(dec(err.current!.value), "v1");
      assert.equal(dec((await s.get("/k")).kv!.value), "v1");
    });

    it("updates only when the revision matches (compare-and-swap)", async () => {
      const s = await fresh();
      const c = await s.create("/k", enc("v1"));
      const u = await s.update("/k", enc("v2"), c.revision);
      assert.ok(u.revision > c.revision);
      assert.equal(u.kv.createRevision, c.revision);
      assert.equal(u.kv.version, 2);
      const err = (await rejectsWith(s.update("/k", enc("v3"), c.revision), RevisionMismatchError)) as RevisionMismatchError;
      assert.equal(err.current.modRevision, u.revision);
      assert.equal(dec(err.current.value), "v2");
      await rejectsWith(s.update("/nope", enc("x"), 1), KeyNotFoundError);
      assert.equal(dec((await s.get("/k")).kv!.value), "v2");
    });

    it("deletes conditionally and unconditionally", async () => {
      const s = await fresh();
      const a = await s.create("/a", enc("A"));
      await s.create("/b", enc("B"));
      await rejectsWith(s.delete("/a", a.revision - 1), RevisionMismatchError);
      const d = await s.delete("/a", a.revision);
      assert.equal(dec(d.prevKv.value), "A");
      assert.ok(d.revision > a.revision);
      await rejectsWith(s.delete("/a"), KeyNotFoundError);
      await s.delete("/b");
      assert.equal((await s.count("/")).count, 0);
      // A re-created key starts a new incarnation.
      const again = await s.create("/a", enc("A2"));
      assert.equal(again.kv.version, 1);
      assert.equal(again.kv.createRevision, again.revision);
    });

    it("reads a key and a range as of an older revision", async () => {
      const s = await fresh();
      const c = await s.create("/h/x", enc("1"));
      await s.create("/h/y", enc("1"));
      const mid = await s.currentRevision();
      await s.update("/h/x", enc("2"), c.revision);
      await s.delete("/h/y");
      await s.create("/h/z", enc("1"));
      assert.equal(dec((await s.get("/h/x", { revision: mid })).kv!.value), "1");
      assert.equal(dec((await s.get("/h/x")).kv!.value), "2");
      const old = await s.list("/h/", { revision: mid });
      assert.deepEqual(old.kvs.map((kv) => kv.key), ["/h/x", "/h/y"]);
      assert.equal(old.revision, mid);
      assert.deepEqual((await s.list("/h/")).kvs.map((kv) => kv.key), ["/h/x", "/h/z"]);
      assert.equal((await s.get("/h/x", { revision: c.revision - 1 })).kv, undefined);
      const now = await s.currentRevision();
      await rejectsWith(s.get("/h/x", { revision: now + 100 }), FutureRevisionError);
    });

    it("lists a prefix in key order with limit, count and continuation", async () => {
      const s = await fresh();
      const names: string[] = [];
      for (let i = 0; i < 25; i++) names.push(`/registry/cm/ns/k${String(i).padStart(3, "0")}`);
      for (const n of [...names].reverse()) await s.create(n, enc(n));
      await s.create("/registry/cm/ns2/other", enc("x"));
      await s.create("/registry/cm/ns", enc("not under ns/"));
      const first = await s.list("/registry/cm/ns/", { limit: 10 });
      assert.equal(first.kvs.length, 10);
      assert.equal(first.more, true);
      assert.equal(first.count, 25);
      const seen = first.kvs.map((kv) => kv.key);
      let last = seen[seen.length - 1]!;
      for (;;) {
        // A page is read at the first page's revision, as the API server's continue does.
        const page = await s.list("/registry/cm/ns/", { startKey: last + "\0", limit: 10, revision: first.revision });
        seen.push(...page.kvs.map((kv) => kv.key));
        if (!page.more) break;
        last = page.kvs[page.kvs.length - 1]!.key;
      }
      assert.deepEqual(seen, names);
      const all = await s.list("/registry/cm/ns/");
      assert.equal(all.more, false);
      assert.equal(all.count, 25);
      assert.equal((await s.count("/registry/cm/")).count, 27);
      assert.equal((await s.list("/registry/none/")).kvs.length, 0);
    });

    it("keeps a paged list consistent while keys change underneath", async () => {
      const s = await fresh();
      for (let i = 0; i < 6; i++) await s.create(`/p/${i}`, enc(String(i)));
      const first = await s.list("/p/", { limit: 3 });
      await s.delete("/p/4");
      await s.create("/p/9", enc("9"));
      const rest = await s.list("/p/", { startKey: first.kvs[2]!.key + "\0", revision: first.revision });
      assert.deepEqual([...first.kvs, ...rest.kvs].map((kv) => kv.key), ["/p/0", "/p/1", "/p/2", "/p/3", "/p/4", "/p/5"]);
    });

    it("refuses values over 1.5 MiB and writes nothing", async () => {
      const s = await fresh();
      const big = new Uint8Array(MAX_VALUE_BYTES + 1);
      await rejectsWith(s.create("/big", big), ValueTooLargeError);
      assert.equal((await s.get("/big")).kv, undefined);
      const ok = await s.create("/big", new Uint8Array(1024 * 1024));
      await rejectsWith(s.update("/big", big, ok.revision), ValueTooLargeError);
    });

    it("serializes concurrent compare-and-swap writers without losing updates", async () => {
      const s = await fresh();
      await s.create("/counter", enc("0"));
      const writers = 16;
      const each = 10;
      const revisions = new Set<number>();
      await Promise.all(
        Array.from({ length: writers }, async () => {
          for (let done = 0; done < each; ) {
            const cur = (await s.get("/counter")).kv!;
            try {
              const w = await s.update("/counter", enc(String(Number(dec(cur.value)) + 1)), cur.modRevision);
              assert.ok(!revisions.has(w.revision), "every write gets its own revision");
              revisions.add(w.revision);
              done++;
            } catch (err) {
              if (!(err instanceof RevisionMismatchError)) throw err;
            }
          }
        }),
      );
      assert.equal(dec((await s.get("/counter")).kv!.value), String(writers * each));
    });

    it("lets exactly one of many concurrent creates win", async () => {
      const s = await fresh();
      const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => s.create("/once", enc(String(i)))));
      assert.equal(results.filter((r) => r.status === "fulfilled").length, 1);
      for (const r of results) if (r.status === "rejected") assert.ok(r.reason instanceof KeyExistsError);
    });

    it("watches a prefix: puts, updates and deletes in order with previous values", async () => {
      const s = await fresh();
      const ac = new AbortController();
      const w = s.watch("/w/", { signal: ac.signal });
      const got = collect(w, 4);
      await new Promise((r) => setTimeout(r, 50));
      const c = await s.create("/w/a", enc("1"));
      await s.create("/other/a", enc("x"));
      const u = await s.update("/w/a", enc("2"), c.revision);
      await s.create("/w/b", enc("1"));
      await s.delete("/w/a");
      const { events, error } = await got;
      ac.abort();
      assert.equal(error, undefined);
      assert.deepEqual(
        events.map((e) => [e.type, e.kv.key]),
        [
          ["put", "/w/a"],
          ["put", "/w/a"],
          ["put", "/w/b"],
          ["delete", "/w/a"],
        ],
      );
      assert.equal(events[0]!.prevKv, undefined);
      assert.equal(dec(events[1]!.prevKv!.value), "1");
      assert.equal(dec(events[1]!.kv.value), "2");
      assert.equal(events[1]!.kv.modRevision, u.revision);
      assert.equal(dec(events[3]!.prevKv!.value), "2");
      for (let i = 1; i < events.length; i++) assert.ok(events[i]!.kv.modRevision > events[i - 1]!.kv.modRevision);
    });

    it("replays every event from a past revision exactly once, then continues live", async () => {
      const s = await fresh();
      const start = (await s.create("/r/0", enc("0"))).revision;
      for (let i = 1; i < 10; i++) await s.create(`/r/${i}`, enc(String(i)));
      const ac = new AbortController();
      const w = s.watch("/r/", { startRevision: start, signal: ac.signal });
      const got = collect(w, 15);
      for (let i = 10; i < 15; i++) await s.create(`/r/${i}`, enc(String(i)));
      const { events, error } = await got;
      ac.abort();
      assert.equal(error, undefined);
      assert.deepEqual(
        events.map((e) => e.kv.key),
        Array.from({ length: 15 }, (_, i) => `/r/${i}`),
      );
    });

    it("delivers every event in order to many watchers under concurrent load", async () => {
      const s = await fresh();
      const ac = new AbortController();
      const watchers = Array.from({ length: 10 }, () => s.watch("/load/", { signal: ac.signal }));
      const perWriter = 30;
      const writersCount = 8;
      const total = perWriter * writersCount * 2;
      const results = watchers.map((w) => collect(w, total, 20_000));
      await new Promise((r) => setTimeout(r, 50));
      await Promise.all(
        Array.from({ length: writersCount }, async (_, wi) => {
          for (let i = 0; i < perWriter; i++) {
            const k = `/load/${wi}/${i}`;
            const c = await s.create(k, enc("a"));
            await s.update(k, enc("b"), c.revision);
          }
        }),
      );
      for (const r of await Promise.all(results)) {
        assert.equal(r.error, undefined);
        assert.equal(r.events.length, total);
        for (let i = 1; i < r.events.length; i++) {
          assert.ok(r.events[i]!.kv.modRevision > r.events[i - 1]!.kv.modRevision, "revisions strictly increase");
        }
      }
      ac.abort();
    });

    it("compacts history: older reads and watches fail with compacted, newer still work", async () => {
      const s = await fresh();
      const c = await s.create("/c/a", enc("1"));
      const u = await s.update("/c/a", enc("2"), c.revision);
      await s.create("/c/b", enc("1"));
      await s.delete("/c/b");
      const mid = await s.currentRevision();
      await s.update("/c/a", enc("3"), u.revision);
      await s.compact(mid);
      await s.compact(mid); // compacting again is harmless
      const err = (await rejectsWith(s.get("/c/a", { revision: c.revision }), CompactedError)) as CompactedError;
      assert.ok(err.compactRevision >= mid);
      await rejectsWith(s.list("/c/", { revision: mid - 1 }), CompactedError);
      assert.equal(dec((await s.get("/c/a", { revision: mid })).kv!.value), "2");
      assert.equal(dec((await s.get("/c/a")).kv!.value), "3");
      assert.deepEqual((await s.list("/c/", { revision: mid })).kvs.map((kv) => kv.key), ["/c/a"]);
      const old = await collect(s.watch("/c/", { startRevision: c.revision }), 1, 2000);
      assert.ok(old.error instanceof CompactedError, `watch from a compacted revision fails (got ${String(old.error)})`);
      const ac = new AbortController();
      const fromMid = await collect(s.watch("/c/", { startRevision: mid + 1, signal: ac.signal }), 1, 2000);
      ac.abort();
      assert.equal(fromMid.error, undefined);
      assert.equal(dec(fromMid.events[0]!.kv.value), "3");
      assert.equal(dec(fromMid.events[0]!.prevKv!.value), "2");
      const st = await s.status();
      assert.ok(st.compactRevision >= mid);
    });

    it("sends progress notifications to an idle watcher", async () => {
      const s = await fresh();
      await s.create("/busy/x", enc("1"));
      const ac = new AbortController();
      const it = s.watch("/idle/", { signal: ac.signal, progressIntervalMs: 100 })[Symbol.asyncIterator]();
      const first = await Promise.race([it.next(), new Promise<"t">((r) => setTimeout(() => r("t"), 5000))]);
      ac.abort();
      assert.notEqual(first, "t", "a progress batch arrives");
      if (first !== "t") {
        assert.equal(first.value.events.length, 0);
        assert.ok(first.value.revision >= (await s.currentRevision()) - 1);
      }
    });

    it("expires leases, deleting their keys with a watch event", async () => {
      const s = await fresh();
      const ttl = factory.leaseTtlSeconds ?? 1;
      const lease = await s.grantLease(ttl);
      await s.create("/events/e1", enc("x"), { lease });
      await s.create("/events/keep", enc("y"));
      const ac = new AbortController();
      const got = collect(s.watch("/events/", { signal: ac.signal }), 1, (ttl + 6) * 1000);
      const { events } = await got;
      ac.abort();
      assert.equal(events[0]?.type, "delete");
      assert.equal(events[0]?.kv.key, "/events/e1");
      assert.equal((await s.get("/events/e1")).kv, undefined);
      assert.ok((await s.get("/events/keep")).kv);
      await rejectsWith(s.keepAliveLease(lease), LeaseNotFoundError);
      await rejectsWith(s.create("/events/e2", enc("x"), { lease }), LeaseNotFoundError);
    });

    it("revokes a lease and keeps kept-alive ones", async () => {
      const s = await fresh();
      const a = await s.grantLease(60);
      const b = await s.grantLease(60);
      await s.create("/l/a", enc("a"), { lease: a });
      await s.create("/l/b", enc("b"), { lease: b });
      await s.keepAliveLease(b);
      await s.revokeLease(a);
      assert.equal((await s.get("/l/a")).kv, undefined);
      assert.equal((await s.get("/l/b")).kv?.lease, b);
    });

    it("restores a snapshot: exact keys, revision moves forward, watchers must relist", async () => {
      const s = await fresh();
      await s.create("/s/keep", enc("k1"));
      const gone = await s.create("/s/changed", enc("before"));
      const saved: SnapshotEntry[] = (await s.list("/s/")).kvs.map((kv) => ({ key: kv.key, value: kv.value }));
      await s.update("/s/changed", enc("after"), gone.revision);
      await s.create("/s/new", enc("n"));
      const before = await s.currentRevision();
      const ac = new AbortController();
      const watching = collect(s.watch("/s/", { signal: ac.signal }), 100, 5000);
      await new Promise((r) => setTimeout(r, 50));
      const r = await s.restore(
        (async function* () {
          yield* saved;
        })(),
      );
      const w = await watching;
      ac.abort();
      assert.ok(w.error instanceof CompactedError, `an open watcher fails with compacted (got ${String(w.error)})`);
      assert.ok(r.revision > before);
      assert.equal(r.keys, 2);
      const after = await s.list("/s/");
      assert.deepEqual(
        after.kvs.map((kv) => [kv.key, dec(kv.value)]),
        [
          ["/s/changed", "before"],
          ["/s/keep", "k1"],
        ],
      );
      for (const kv of after.kvs) assert.ok(kv.modRevision > before, "restored keys get new revisions");
      await rejectsWith(s.get("/s/keep", { revision: before }), CompactedError);
      const old = await collect(s.watch("/s/", { startRevision: before }), 1, 2000);
      assert.ok(old.error instanceof CompactedError);
      const next = await s.create("/s/later", enc("x"));
      assert.ok(next.revision > r.revision);
    });

    if (factory.reopen) {
      const reopen = factory.reopen.bind(factory);
      it("keeps data, revision and leases across a restart", async () => {
        const s = await fresh();
        await s.create("/d/a", enc("1"));
        const lease = await s.grantLease(300);
        const b = await s.create("/d/b", enc("2"), { lease });
        const rev = await s.currentRevision();
        const s2 = await reopen(s);
        open.push(s2);
        assert.equal(await s2.currentRevision(), rev);
        assert.equal(dec((await s2.get("/d/a")).kv!.value), "1");
        assert.equal((await s2.get("/d/b")).kv!.lease, lease);
        await s2.keepAliveLease(lease);
        const n = await s2.update("/d/b", enc("3"), b.revision);
        assert.ok(n.revision > rev);
      });
    }
  });
}
