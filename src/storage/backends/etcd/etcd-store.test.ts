import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync, copyFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { Logger, LogFields } from "../../../machinery/log.js";
import { collect, runStoreConformance } from "../../conformance/suite.js";
import { CompactedError, SnapshotInvalidError, StoreUnavailableError } from "../../errors.js";
import type { SnapshotEntry, Store, WatchBatch } from "../../store.js";
import {
  type EtcdProcess,
  etcdFullRestoreCommands,
  freePort,
  readEtcdSnapshotEntries,
  startEtcd,
} from "./etcd-process.js";
import { EtcdStore } from "./etcd-store.js";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

const root = mkdtempSync(join(tmpdir(), "skiff-etcd-"));
const dataDir = join(root, "etcd");
let etcd: EtcdProcess;
let n = 0;
const opened: Store[] = [];
const prefixes = new WeakMap<Store, string>();

before(async () => {
  etcd = await startEtcd({ dataDir, logFile: join(root, "etcd.log") });
});

after(async () => {
  for (const s of opened) await s.close().catch(() => {});
  await etcd?.stop();
  rmSync(root, { recursive: true, force: true });
});

/** A store on the shared etcd with a keyspace of its own. */
async function openStore(prefix = `/skiff-test-${process.pid}-${n++}`): Promise<EtcdStore> {
  const s = await EtcdStore.open({ endpoints: [etcd.endpoint], keyPrefix: prefix, requestTimeoutMs: 10_000 });
  prefixes.set(s, prefix);
  opened.push(s);
  return s;
}

runStoreConformance("etcd", {
  open: () => openStore(),
  async reopen(store) {
    const prefix = prefixes.get(store)!;
    await store.close();
    return openStore(prefix);
  },
  // etcd's minimum lease TTL is about 2 s with default election timing.
  leaseTtlSeconds: 2,
});

function captureLogger(lines: string[]): Logger {
  const emit = (level: string) => (msg: string, fields?: LogFields) => {
    lines.push(`${level} ${msg} ${JSON.stringify(fields ?? {})}`);
  };
  const l: Logger = {
    debug: emit("debug"),
    info: emit("info"),
    warn: emit("warn"),
    error: emit("error"),
    with: () => l,
  };
  return l;
}

async function retryWhileUnavailable<T>(fn: () => Promise<T>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof StoreUnavailableError) || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

describe("etcd backend", () => {
  test("open gives up on an unreachable endpoint with StoreUnavailableError, logging each retry", async () => {
    const port = await freePort();
    const lines: string[] = [];
    const started = Date.now();
    await assert.rejects(
      EtcdStore.open({ endpoints: [`127.0.0.1:${port}`], signal: AbortSignal.timeout(1500), logger: captureLogger(lines) }),
      (err: unknown) => {
        assert.ok(err instanceof StoreUnavailableError, String(err));
        assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${port}.*unreachable`));
        assert.match(err.message, /check that etcd is running/);
        return true;
      },
    );
    assert.ok(Date.now() - started < 5000, "stops retrying soon after the signal aborts");
    assert.ok(lines.some((l) => l.includes("etcd unreachable, retrying") && l.includes("retryIn")), lines.join("\n"));
  });

  test("keys live under keyPrefix and are invisible to other prefixes", async () => {
    const a = await openStore();
    const b = await openStore();
    await a.create("/x", enc("a"));
    assert.equal((await b.get("/x")).kv, undefined);
    assert.equal((await b.count("")).count, 0);
    const l = await a.list("");
    assert.deepEqual(
      l.kvs.map((kv) => kv.key),
      ["/x"],
    );
    const st = await a.status();
    assert.equal(st.backend, "etcd");
    assert.equal(st.keys, 1);
    assert.ok(st.dbSizeBytes > 0);
  });

  test("lease ids are exact JavaScript integers", async () => {
    const s = await openStore();
    for (let i = 0; i < 5; i++) {
      const id = await s.grantLease(30);
      assert.ok(Number.isSafeInteger(id) && id > 0, String(id));
      const c = await s.create(`/l${i}`, enc("v"), { lease: id });
      assert.equal((await s.get(`/l${i}`)).kv?.lease, id);
      assert.equal(c.kv.lease, id);
      await s.revokeLease(id);
    }
  });

  test("a watch from a past revision replays a long history exactly once, in order", async () => {
    const s = await openStore();
    const start = (await s.currentRevision()) + 1;
    const total = 1500; // more than etcd's 1000 revisions per catch-up batch
    for (let i = 0; i < total; i += 50) {
      await Promise.all(Array.from({ length: 50 }, (_, j) => s.create(`/h/${String(i + j).padStart(5, "0")}`, enc("v"))));
    }
    const ac = new AbortController();
    const got = await collect(s.watch("/h/", { startRevision: start, signal: ac.signal }), total, 30_000);
    ac.abort();
    assert.equal(got.error, undefined);
    assert.equal(got.events.length, total);
    const keys = new Set(got.events.map((e) => e.kv.key));
    assert.equal(keys.size, total);
    for (let i = 1; i < got.events.length; i++) {
      assert.ok(got.events[i]!.kv.modRevision > got.events[i - 1]!.kv.modRevision);
    }
  });

  test("a watch from now sees a write issued right after watch() returns", async () => {
    const s = await openStore();
    for (let i = 0; i < 20; i++) {
      const ac = new AbortController();
      const got = collect(s.watch("/now/", { signal: ac.signal }), 1, 5000);
      const w = await s.create(`/now/${i}`, enc("1"));
      const r = await got;
      ac.abort();
      assert.equal(r.error, undefined);
      assert.equal(r.events[0]?.kv.modRevision, w.revision);
    }
  });

  test("watching a compacted revision fails with CompactedError naming the compaction point", async () => {
    const s = await openStore();
    const first = await s.create("/c", enc("1"));
    await s.update("/c", enc("2"), first.revision);
    const now = await s.currentRevision();
    await s.compact(now);
    const got = await collect(s.watch("/", { startRevision: first.revision }), 1, 5000);
    assert.ok(got.error instanceof CompactedError, String(got.error));
    assert.equal(got.error.requested, first.revision);
    assert.ok(got.error.compactRevision >= now);
    assert.ok((await s.status()).compactRevision >= now);
  });

  test("progress batches keep an idle watcher's revision moving", async () => {
    const s = await openStore();
    const other = await openStore();
    const ac = new AbortController();
    const it = s.watch("/idle/", { signal: ac.signal, progressIntervalMs: 100 })[Symbol.asyncIterator]();
    const seen: WatchBatch[] = [];
    const target = (await other.create("/elsewhere", enc("x"))).revision;
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
      const r = await it.next();
      if (r.done) break;
      seen.push(r.value);
      if (r.value.revision >= target) break;
    }
    ac.abort();
    assert.ok(seen.length > 0);
    for (const b of seen) assert.equal(b.events.length, 0);
    assert.ok(seen[seen.length - 1]!.revision >= target, JSON.stringify(seen));
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i]!.revision >= seen[i - 1]!.revision);
  });

  test("restore fails open watchers with CompactedError and moves the revision forward", async () => {
    const s = await openStore();
    await s.create("/a", enc("1"));
    const before = await s.currentRevision();
    const ac = new AbortController();
    const w = collect(s.watch("/", { signal: ac.signal }), 1000, 10_000);
    await new Promise((r) => setTimeout(r, 100));
    const r = await s.restore(
      (async function* (): AsyncIterable<SnapshotEntry> {
        yield { key: "/b", value: enc("2") };
        yield { key: "/c", value: enc("3"), leaseTtl: 60 };
        for (let i = 0; i < 300; i++) yield { key: `/many/${i}`, value: enc(String(i)) };
      })(),
    );
    const got = await w;
    ac.abort();
    assert.ok(got.error instanceof CompactedError, String(got.error));
    assert.ok(r.revision > before);
    assert.equal(r.keys, 302);
    assert.equal((await s.get("/a")).kv, undefined);
    assert.equal(dec((await s.get("/b")).kv!.value), "2");
    const c = (await s.get("/c")).kv!;
    assert.notEqual(c.lease, 0);
    assert.equal((await s.count("/many/")).count, 300);
    assert.ok((await s.status()).compactRevision >= r.revision);
    await s.revokeLease(c.lease);
  });

  test("saveSnapshot writes etcd's snapshot with its sha256 trailer; it reads back and restores", async () => {
    const s = await openStore();
    const lease = await s.grantLease(120);
    await s.create("/snap/a", enc("A"));
    await s.create("/snap/b", enc("B"), { lease });
    await s.create("/snap/big", new Uint8Array(200_000).fill(7));
    const path = join(root, "etcd.snap");
    const info = await s.saveSnapshot(path);
    assert.equal(info.format, "etcd");
    assert.equal(info.keys, 3);
    assert.ok(info.revision >= (await s.get("/snap/big")).kv!.modRevision);
    assert.ok(!existsSync(`${path}.part`));
    const file = readFileSync(path);
    assert.equal(file.length, info.sizeBytes);
    const body = file.subarray(0, file.length - 32);
    assert.deepEqual(createHash("sha256").update(body).digest(), file.subarray(file.length - 32));

    const prefix = prefixes.get(s)!;
    const entries: SnapshotEntry[] = [];
    for await (const e of readEtcdSnapshotEntries(path, { keyPrefix: prefix, workDir: root })) entries.push(e);
    assert.deepEqual(
      entries.map((e) => [e.key, e.value.length, e.leaseTtl]),
      [
        ["/snap/a", 1, undefined],
        ["/snap/b", 1, 120],
        ["/snap/big", 200_000, undefined],
      ],
    );
    assert.equal(dec(entries[0]!.value), "A");

    const target = await openStore();
    await target.create("/stale", enc("x"));
    const r = await target.restore(readEtcdSnapshotEntries(path, { keyPrefix: prefix, workDir: root }));
    assert.equal(r.keys, 3);
    assert.deepEqual(
      (await target.list("")).kvs.map((kv) => kv.key),
      ["/snap/a", "/snap/b", "/snap/big"],
    );
    assert.notEqual((await target.get("/snap/b")).kv!.lease, 0);
    await s.revokeLease(lease);
    await target.revokeLease((await target.get("/snap/b")).kv!.lease);
  });

  test("a truncated or corrupt etcd snapshot fails with SnapshotInvalidError", async () => {
    const s = await openStore();
    await s.create("/k", enc("v"));
    const good = join(root, "good.snap");
    await s.saveSnapshot(good);
    const read = async (p: string) => {
      for await (const _ of readEtcdSnapshotEntries(p, { keyPrefix: "", workDir: root })) {
        // drain
      }
    };
    const truncated = join(root, "truncated.snap");
    copyFileSync(good, truncated);
    truncateSync(truncated, Math.floor(readFileSync(good).length / 2));
    await assert.rejects(read(truncated), (err: unknown) => {
      assert.ok(err instanceof SnapshotInvalidError, String(err));
      assert.match(err.message, /truncated\.snap/);
      return true;
    });
    // Garbage with a valid trailer gets past our check and must be refused by etcdctl.
    const garbage = join(root, "garbage.snap");
    const junk = Buffer.alloc(64 * 1024, 0x5a);
    writeFileSync(garbage, Buffer.concat([junk, createHash("sha256").update(junk).digest()]));
    await assert.rejects(read(garbage), SnapshotInvalidError);
    await assert.rejects(read(join(root, "missing.snap")), SnapshotInvalidError);
  });

  test("etcdFullRestoreCommands spells out an etcdctl 3.4 restore", () => {
    const cmds = etcdFullRestoreCommands("/var/lib/skiff/db/snapshots/etcd-1.snap", "/var/lib/etcd");
    const restore = cmds.find((c) => c.startsWith("ETCDCTL_API=3 etcdctl snapshot restore"));
    assert.ok(restore, cmds.join("\n"));
    assert.match(restore, /\/var\/lib\/skiff\/db\/snapshots\/etcd-1\.snap/);
    assert.match(restore, /--data-dir \/var\/lib\/etcd/);
    assert.match(restore, /--name skiff/);
    assert.match(restore, /--initial-cluster skiff=http:\/\/127\.0\.0\.1:2380/);
    assert.match(restore, /--initial-advertise-peer-urls http:\/\/127\.0\.0\.1:2380/);
  });

  // Last: it restarts the shared etcd.
  test("survives an etcd restart: calls fail as unavailable meanwhile, the watch resumes without loss", async () => {
    const s = await openStore();
    const ac = new AbortController();
    const it = s.watch("/r/", { signal: ac.signal })[Symbol.asyncIterator]();
    const events: string[] = [];
    const reader = (async () => {
      for (;;) {
        const r = await it.next();
        if (r.done) return;
        for (const e of r.value.events) events.push(`${e.type} ${e.kv.key} ${e.kv.modRevision}`);
        if (events.length >= 4) return;
      }
    })();
    await new Promise((r) => setTimeout(r, 100));
    const a = await s.create("/r/a", enc("1"));
    await s.create("/r/b", enc("1"));

    const { clientPort, peerPort } = etcd;
    await etcd.stop();
    await assert.rejects(s.get("/r/a"), (err: unknown) => {
      assert.ok(err instanceof StoreUnavailableError, String(err));
      assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${clientPort}.*unreachable`));
      return true;
    });
    etcd = await startEtcd({ dataDir, clientPort, peerPort, logFile: join(root, "etcd.log") });

    // Writes right after the restart, likely before the watch has resumed.
    const c = await retryWhileUnavailable(() => s.update("/r/a", enc("2"), a.revision));
    await s.delete("/r/b");
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([reader, new Promise((r) => (timer = setTimeout(r, 20_000)))]);
    clearTimeout(timer);
    ac.abort();
    assert.deepEqual(
      events.map((e) => e.split(" ").slice(0, 2).join(" ")),
      ["put /r/a", "put /r/b", "put /r/a", "delete /r/b"],
    );
    assert.equal(events[2], `put /r/a ${c.revision}`);
  });
});
