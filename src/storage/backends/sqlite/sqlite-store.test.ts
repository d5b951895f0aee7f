import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import { runStoreConformance } from "../../conformance/suite.js";
import type { Store } from "../../store.js";
import { SqliteStore } from "./sqlite-store.js";

const root = mkdtempSync(join(tmpdir(), "skiff-sqlite-"));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const paths = new WeakMap<Store, string>();

runStoreConformance("sqlite", {
  async open() {
    const path = join(root, `t${n++}`, "state.db");
    const s = SqliteStore.open({ path, leaseSweepIntervalMs: 200 });
    paths.set(s, path);
    return s;
  },
  async reopen(store) {
    const path = paths.get(store)!;
    await store.close();
    const s = SqliteStore.open({ path, leaseSweepIntervalMs: 200 });
    paths.set(s, path);
    return s;
  },
});
