/**
 * `skiff server` and `skiff snapshot` end to end on an external etcd (a real
 * etcd on loopback): the server records the datastore, snapshots are etcd's
 * own, a truncated one is refused without touching etcd, a good one restores
 * exactly, a skiff snapshot from a sqlite data dir migrates into etcd, and an
 * unreachable etcd leaves the server waiting rather than crashing.
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, rmSync, statSync, truncateSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type EtcdProcess, freePort, startEtcd } from "../src/storage/backends/etcd/etcd-process.js";
import { EtcdStore } from "../src/storage/backends/etcd/etcd-store.js";
import { SqliteStore } from "../src/storage/backends/sqlite/sqlite-store.js";
import { CompactedError } from "../src/storage/errors.js";
import type { Store } from "../src/storage/store.js";
import { skiff, skiffBackground, stopProcess, waitForLog, TEST_SERVER_FLAGS } from "./support/skiff.js";

const root = mkdtempSync(join(tmpdir(), "skiff-cli-etcd-"));
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

let etcd: EtcdProcess | undefined;
/** Background skiff processes, stopped by PID in `after` if a test left one running. */
const children = new Set<ChildProcess>();
const stores = new Set<EtcdStore>();

before(async () => {
  etcd = await startEtcd({ dataDir: join(root, "etcd"), logFile: join(root, "etcd.log") });
});

after(async () => {
  for (const c of children) await stopProcess(c, "SIGKILL");
  for (const s of stores) await s.close();
  await etcd?.stop();
  rmSync(root, { recursive: true, force: true });
});

function background(args: string[]): ChildProcess {
  const child = skiffBackground(args);
  children.add(child);
  child.once("exit", () => children.delete(child));
  return child;
}

/** `--datastore-endpoint` for the test's etcd. */
function endpointFlag(): string {
  return `etcd://127.0.0.1:${etcd!.clientPort}`;
}

/** A client on the same etcd keyspace the server uses (no key prefix). */
async function openEtcd(): Promise<EtcdStore> {
  const s = await EtcdStore.open({ endpoints: [etcd!.endpoint], keyPrefix: "", requestTimeoutMs: 10_000 });
  stores.add(s);
  return s;
}

async function closeEtcd(s: EtcdStore): Promise<void> {
  stores.delete(s);
  await s.close();
}

/** The keys this test writes (configmaps, secrets) with their values, in key order; the API server's own objects are left out. */
async function registry(s: Pick<Store, "list">): Promise<[string, string][]> {
  // The server's own ConfigMap (kube-public/local-registry-hosting) is not the test's.
  const mine = [...(await s.list("/registry/configmaps/default/")).kvs, ...(await s.list("/registry/secrets/")).kvs];
  return mine.map((kv) => [kv.key, dec(kv.value)]);
}

describe("skiff server and snapshots (etcd)", () => {
  const dataDir = join(root, "data");
  const original = Array.from({ length: 10 }, (_, i) => `/registry/configmaps/default/cm-${i}`);
  const expected = original.map((k): [string, string] => [k, `v:${k}`]).sort((a, b) => a[0].localeCompare(b[0]));
  let saved = "";
  let revisionBefore = 0;
  let changed: [string, string][] = [];

  it("saves an etcd-format snapshot next to a server running on etcd", async () => {
    const srv = background([
      "server",
      ...TEST_SERVER_FLAGS,
      "--data-dir",
      dataDir,
      "--datastore-endpoint",
      endpointFlag(),
      "--disable-snapshots",
    ]);
    try {
      await waitForLog(srv, /msg="store ready".*datastore="etcd http:\/\/127\.0\.0\.1:\d+"/);
      const s = await openEtcd();
      for (const k of original) await s.create(k, enc(`v:${k}`));

      const save = skiff(["snapshot", "save", "--data-dir", dataDir]);
      assert.equal(save.status, 0, save.stderr);
      assert.match(save.stdout, /Snapshot \S+ saved \(etcd format, revision \d+, /);
      saved = save.stdout.match(/Snapshot (\S+) saved/)![1]!;
      assert.ok(existsSync(saved), "the snapshot file exists");
      assert.ok(basename(saved).startsWith("on-demand-"));

      const ls = skiff(["snapshot", "ls", "--data-dir", dataDir]);
      assert.equal(ls.status, 0, ls.stderr);
      assert.match(ls.stdout, /^Name\s+Location\s+Size\s+Created/);
      assert.ok(ls.stdout.includes(basename(saved)), `ls lists ${basename(saved)}:\n${ls.stdout}`);

      // Change the keys after the save: update one, delete one, add one.
      const cur = (await s.get(original[1]!)).kv!;
      await s.update(original[1]!, enc("changed"), cur.modRevision);
      await s.delete(original[0]!);
      await s.create("/registry/configmaps/default/after-save", enc("x"));
      changed = await registry(s);
      assert.equal(changed.length, 10);
      await closeEtcd(s);
    } finally {
      assert.equal(await stopProcess(srv), 0, "the server exits cleanly on SIGTERM");
    }
    assert.equal(existsSync(join(dataDir, "server.pid")), false, "the pid file is removed");
  });

  it("refuses a truncated etcd snapshot and leaves etcd untouched", async () => {
    // Read after the server stopped: while it ran, its components wrote (Lease renewals).
    const before = await openEtcd();
    try {
      revisionBefore = await before.currentRevision();
    } finally {
      await closeEtcd(before);
    }
    // Cut mid-page: the file's size alone gives it away.
    const cut = join(root, "truncated");
    copyFileSync(saved, cut);
    truncateSync(cut, statSync(cut).size - 100);
    const r1 = skiff(["snapshot", "restore", "--data-dir", dataDir, cut]);
    assert.equal(r1.status, 1, r1.stdout);
    assert.match(r1.stderr, /^error: .*truncated.*nothing was restored/m);

    // Cut by a whole page: the size looks right, etcd's sha256 trailer does not.
    const page = join(root, "truncated-page");
    copyFileSync(saved, page);
    truncateSync(page, statSync(page).size - 512);
    const r2 = skiff(["snapshot", "restore", "--data-dir", dataDir, page]);
    assert.equal(r2.status, 1, r2.stdout);
    assert.match(r2.stderr, /^error: etcd snapshot .* is corrupt or truncated/m);

    const s = await openEtcd();
    try {
      assert.equal(await s.currentRevision(), revisionBefore, "no write reached etcd");
      assert.deepEqual(await registry(s), changed);
    } finally {
      await closeEtcd(s);
    }
  });

  it("restores the etcd snapshot exactly and prints the etcdctl full-restore commands", async () => {
    const r = skiff(["snapshot", "restore", "--data-dir", dataDir, saved]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /Restored \d+ keys from /);
    assert.match(r.stdout, /ETCDCTL_API=3 etcdctl snapshot restore \S+ --data-dir /);
    assert.match(r.stdout, /systemctl start etcd/);
    // Without systemd, the member comes back where the datastore points.
    assert.ok(
      r.stdout.includes(`--listen-client-urls ${etcd!.endpoint} --advertise-client-urls ${etcd!.endpoint}`),
      `the commands name the datastore's client URL:\n${r.stdout}`,
    );

    const s = await openEtcd();
    try {
      assert.deepEqual(await registry(s), expected);
      const now = await s.currentRevision();
      assert.ok(now > revisionBefore, `the revision moved forward (${now} > ${revisionBefore})`);
      await assert.rejects(s.get(original[2]!, { revision: revisionBefore }), CompactedError);
    } finally {
      await closeEtcd(s);
    }
  });

  it("migrates a skiff snapshot from a sqlite data dir into etcd", async () => {
    const sqliteDir = join(root, "sqlite-data");
    const keys = Array.from({ length: 7 }, (_, i) => `/registry/secrets/kube-system/s-${i}`);
    const sq = SqliteStore.open({ path: join(sqliteDir, "db", "state.db") });
    try {
      for (const k of keys) await sq.create(k, enc(`sqlite:${k}`));
    } finally {
      await sq.close();
    }
    const save = skiff(["snapshot", "save", "--data-dir", sqliteDir]);
    assert.equal(save.status, 0, save.stderr);
    assert.match(save.stdout, /saved \(7 keys at revision \d+/);
    const file = save.stdout.match(/Snapshot (\S+) saved/)![1]!;

    const r = skiff(["snapshot", "restore", "--data-dir", dataDir, "--datastore-endpoint", endpointFlag(), file]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /Restored 7 keys from /);
    assert.doesNotMatch(r.stdout, /etcdctl/, "no etcd member restore for a skiff snapshot");

    const s = await openEtcd();
    try {
      assert.deepEqual(
        await registry(s),
        keys.map((k): [string, string] => [k, `sqlite:${k}`]),
      );
    } finally {
      await closeEtcd(s);
    }
  });

  it("keeps waiting for an unreachable etcd, logging each retry, until stopped", async () => {
    const port = await freePort();
    const dir = join(root, "unreachable");
    const srv = background(["server", ...TEST_SERVER_FLAGS, "--data-dir", dir, "--datastore-endpoint", `etcd://127.0.0.1:${port}`, "--disable-snapshots"]);
    // The third retry (after 250 ms and 500 ms waits): it keeps trying.
    await waitForLog(srv, new RegExp(`msg="etcd unreachable, retrying".*endpoint=http://127\\.0\\.0\\.1:${port}\\b.*retryIn=1s`));
    assert.equal(srv.exitCode, null, "the server has not exited");
    assert.equal(srv.signalCode, null);
    assert.equal(await stopProcess(srv), 0, "SIGTERM stops it cleanly");
    assert.equal(existsSync(join(dir, "server.pid")), false, "a stop during start-up still releases the data dir");
  });
});
