/**
 * `skiff server` and `skiff snapshot` end to end on the embedded store:
 * scheduled snapshots with retention, save next to a running server, restore
 * refused while it runs, corrupt snapshots refused without touching data, and
 * clear start failures.
 */
import assert from "node:assert/strict";
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import Database from "better-sqlite3";
import { SqliteStore } from "../src/storage/backends/sqlite/sqlite-store.js";
import { CompactedError } from "../src/storage/errors.js";
import { skiff, skiffBackground, stopProcess, waitForLog, TEST_SERVER_FLAGS } from "./support/skiff.js";

const root = mkdtempSync(join(tmpdir(), "skiff-cli-"));
after(() => rmSync(root, { recursive: true, force: true }));
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

async function seed(dataDir: string, keys: string[]): Promise<void> {
  const s = SqliteStore.open({ path: join(dataDir, "db", "state.db") });
  for (const k of keys) await s.create(k, enc(`v:${k}`));
  await s.close();
}

describe("skiff server and snapshots (sqlite)", () => {
  const dataDir = join(root, "data");
  const original = Array.from({ length: 10 }, (_, i) => `/registry/configmaps/default/cm-${i}`);
  let saved = "";

  it("runs scheduled snapshots with retention and saves on demand next to a running server", async () => {
    await seed(dataDir, original);
    const server = skiffBackground([
      "server",
      ...TEST_SERVER_FLAGS,
      "--data-dir",
      dataDir,
      "--snapshot-schedule",
      "* * * * * *",
      "--snapshot-retention",
      "2",
      "--no-such-flag",
    ]);
    // An unknown flag is refused: the command says so instead of ignoring it.
    const code = await new Promise<number | null>((r) => server.once("exit", r));
    assert.equal(code, 1);

    const srv = skiffBackground(["server", ...TEST_SERVER_FLAGS, "--data-dir", dataDir, "--snapshot-schedule", "* * * * * *", "--snapshot-retention", "2"]);
    try {
      await waitForLog(srv, /msg="store ready".*keys=10/);
      const second = skiff(["server", ...TEST_SERVER_FLAGS, "--data-dir", dataDir]);
      assert.equal(second.status, 1);
      assert.match(second.stderr, /another skiff server \(pid \d+\) is using --data-dir/);

      const snapDir = join(dataDir, "db", "snapshots");
      const deadline = Date.now() + 20_000;
      let scheduled: string[] = [];
      while (Date.now() < deadline) {
        scheduled = existsSync(snapDir) ? readdirSync(snapDir).filter((f) => f.startsWith("etcd-snapshot-")) : [];
        if (scheduled.length >= 2) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      assert.ok(scheduled.length >= 2, "scheduled snapshots appear");
      await new Promise((r) => setTimeout(r, 2500));
      const kept = readdirSync(snapDir).filter((f) => f.startsWith("etcd-snapshot-") && !f.endsWith(".part"));
      assert.ok(kept.length <= 2, `retention keeps at most 2 scheduled snapshots (found ${kept.join(", ")})`);

      const save = skiff(["snapshot", "save", "--data-dir", dataDir, "--name", "before-upgrade"]);
      assert.equal(save.status, 0, save.stderr);
      assert.match(save.stdout, /Snapshot .*before-upgrade-.* saved \(\d+ keys at revision \d+/);
      saved = save.stdout.match(/Snapshot (\S+) saved/)![1]!;

      const ls = skiff(["snapshot", "ls", "--data-dir", dataDir]);
      assert.equal(ls.status, 0);
      assert.match(ls.stdout, /^Name\s+Location\s+Size\s+Created/);
      assert.match(ls.stdout, /before-upgrade-/);

      const refused = skiff(["snapshot", "restore", "--data-dir", dataDir, saved]);
      assert.equal(refused.status, 1);
      assert.match(refused.stderr, /skiff server \(pid \d+\) is running.*stop it/);
    } finally {
      assert.equal(await stopProcess(srv), 0, "the server exits cleanly on SIGTERM");
    }
    assert.equal(existsSync(join(dataDir, "server.pid")), false, "the pid file is removed");
  });

  it("refuses a corrupt snapshot and leaves the data untouched, then restores a good one exactly", async () => {
    const s = SqliteStore.open({ path: join(dataDir, "db", "state.db") });
    await s.create("/registry/configmaps/default/after-save", enc("x"));
    await s.delete(original[0]!);
    const before = await s.currentRevision();
    await s.close();

    const bad = join(root, "truncated");
    copyFileSync(saved, bad);
    truncateSync(bad, statSync(bad).size - 100);
    const r1 = skiff(["snapshot", "restore", "--data-dir", dataDir, bad]);
    assert.equal(r1.status, 1);
    assert.match(r1.stderr, /corrupt or truncated.*nothing was restored/);
    const flipped = join(root, "flipped");
    copyFileSync(saved, flipped);
    const db = Buffer.from(await import("node:fs").then((fs) => fs.readFileSync(flipped)));
    db[200] = db[200]! ^ 0xff;
    writeFileSync(flipped, db);
    assert.equal(skiff(["snapshot", "restore", "--data-dir", dataDir, flipped]).status, 1);
    const garbage = join(root, "garbage");
    writeFileSync(garbage, "not a snapshot at all");
    const r3 = skiff(["snapshot", "restore", "--data-dir", dataDir, garbage]);
    assert.equal(r3.status, 1);
    assert.match(r3.stderr, /not a skiff or etcd snapshot/);

    let check = SqliteStore.open({ path: join(dataDir, "db", "state.db") });
    assert.equal(await check.currentRevision(), before, "nothing changed");
    assert.ok((await check.get("/registry/configmaps/default/after-save")).kv);
    await check.close();

    const r = skiff(["snapshot", "restore", "--data-dir", dataDir, saved.split("/").pop()!]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /Restored \d+ keys/);
    check = SqliteStore.open({ path: join(dataDir, "db", "state.db") });
    try {
      const keys = (await check.list("/registry/configmaps/default/")).kvs;
      assert.deepEqual(
        keys.map((kv) => kv.key),
        [...original].sort(),
      );
      for (const kv of keys) assert.equal(dec(kv.value), `v:${kv.key}`);
      const now = await check.currentRevision();
      assert.ok(now > before, "the revision moved forward past every earlier one");
      await assert.rejects(check.get(original[1]!, { revision: before }), CompactedError);
    } finally {
      await check.close();
    }
  });

  it("prunes on demand", () => {
    const r = skiff(["snapshot", "prune", "--data-dir", dataDir, "--retention", "1", "--name", "etcd-snapshot"]);
    assert.equal(r.status, 0, r.stderr);
    const left = readdirSync(join(dataDir, "db", "snapshots")).filter((f) => f.startsWith("etcd-snapshot-"));
    assert.equal(left.length, 1);
    const bad = skiff(["snapshot", "prune", "--data-dir", dataDir, "--retention", "0"]);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /--snapshot-retention must be a whole number >= 1/);
  });

  it("fails start with a clear message for an unusable data dir or a newer database", () => {
    const file = join(root, "a-file");
    writeFileSync(file, "");
    const r = skiff(["server", ...TEST_SERVER_FLAGS, "--data-dir", join(file, "sub")]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /cannot use --data-dir .*pass a writable --data-dir/);

    const newer = join(root, "newer");
    const s = SqliteStore.open({ path: join(newer, "db", "state.db") });
    void s.close();
    const db = new Database(join(newer, "db", "state.db"));
    db.prepare("UPDATE meta SET value = '99' WHERE key = 'schema_version'").run();
    db.close();
    const n = skiff(["server", ...TEST_SERVER_FLAGS, "--data-dir", newer]);
    assert.equal(n.status, 1);
    assert.match(n.stderr, /written by a newer skiff \(schema 99/);

    const e = skiff(["server", ...TEST_SERVER_FLAGS, "--data-dir", join(root, "x"), "--datastore-endpoint", "mysql://db:3306"]);
    assert.equal(e.status, 1);
    assert.match(e.stderr, /unsupported --datastore-endpoint mysql:\/\/db:3306; accepted forms/);
    assert.match(skiff(["server", "--help"]).stdout, /--snapshot-schedule/);
    assert.match(skiff(["snapshot", "restore", "--help"]).stdout, /Replace the store's contents/);
  });
});
