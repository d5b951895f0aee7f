import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { SqliteStore } from "../src/storage/backends/sqlite/sqlite-store.js";

const dir = mkdtempSync(join(tmpdir(), "skiff-durability-"));
after(() => rmSync(dir, { recursive: true, force: true }));

test("every write acknowledged before kill -9 survives (sqlite)", async () => {
  const path = join(dir, "state.db");
  const writer = spawn(process.execPath, ["--import", "tsx", fileURLToPath(new URL("fixtures/store-writer.ts", import.meta.url)), path], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let last = { i: 0, rev: 0, counterRev: 0 };
  let buf = "";
  await new Promise<void>((resolve, reject) => {
    writer.stdout.on("data", (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split("\n");
      buf = lines.pop()!;
      for (const l of lines) {
        const [, i, rev, counterRev] = l.split(" ");
        last = { i: Number(i), rev: Number(rev), counterRev: Number(counterRev) };
      }
      if (last.i >= 2000) resolve();
    });
    writer.once("exit", (code) => reject(new Error(`writer exited early (${code})`)));
  });
  const exited = new Promise((r) => writer.once("exit", r));
  writer.kill("SIGKILL");
  await exited;

  const store = SqliteStore.open({ path });
  try {
    assert.ok((await store.currentRevision()) >= last.counterRev);
    const counter = (await store.get("/durability/counter")).kv!;
    assert.ok(Number(new TextDecoder().decode(counter.value)) >= last.i, "the counter holds at least the last acknowledged value");
    const { count } = await store.count("/durability/key-");
    assert.ok(count >= last.i, `at least ${last.i} keys survived (found ${count})`);
    for (let i = 1; i <= last.i; i++) {
      const kv = (await store.get(`/durability/key-${i}`)).kv;
      assert.ok(kv, `acknowledged key ${i} survived`);
    }
  } finally {
    await store.close();
  }
});
