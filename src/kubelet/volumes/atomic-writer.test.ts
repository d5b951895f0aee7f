import assert from "node:assert/strict";
import { lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync } from "node:fs";
import { after, describe, it } from "node:test";
import { join } from "node:path";
import { atomicWrite, type FileProjection, validatePath } from "./atomic-writer.js";

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync("/tmp/skiff-atomic-");
  dirs.push(d);
  return d;
}

const file = (text: string, mode = 0o644): FileProjection => ({ data: Buffer.from(text), mode });

/** The names in the volume root, sorted, symlinks shown with their target. */
function listing(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .map((n) => {
      const st = lstatSync(join(dir, n));
      return st.isSymbolicLink() ? `${n} -> ${readlinkSync(join(dir, n))}` : `${n}/`;
    });
}

describe("AtomicWriter", () => {
  it("writes a timestamped dir, the ..data link and one user-visible link per top-level name", async () => {
    const dir = tempDir();
    const r = await atomicWrite(
      dir,
      new Map([
        ["a", file("A", 0o400)],
        ["nested/deep/b", file("B")],
      ]),
      { now: new Date(Date.UTC(2024, 4, 1, 10, 2, 3)) },
    );
    assert.deepEqual(r, { ok: true, changed: true });
    const ts = readlinkSync(join(dir, "..data"));
    assert.match(ts, /^\.\.2024_05_01_10_02_03\.\d+$/);
    assert.deepEqual(listing(dir), [`${ts}/`, "..data -> " + ts, "a -> ..data/a", "nested -> ..data/nested"]);
    assert.equal(readFileSync(join(dir, "a"), "utf8"), "A");
    assert.equal(readFileSync(join(dir, "nested/deep/b"), "utf8"), "B");
    assert.equal(statSync(join(dir, "a")).mode & 0o777, 0o400);
    assert.equal(statSync(join(dir, "nested/deep/b")).mode & 0o777, 0o644);
    assert.equal(statSync(join(dir, ts)).mode & 0o777, 0o755);
  });

  it("updates in place: same links, new data dir, old one gone; removed keys disappear", async () => {
    const dir = tempDir();
    await atomicWrite(
      dir,
      new Map([
        ["a", file("1")],
        ["b", file("2")],
        ["sub/c", file("3")],
      ]),
    );
    const first = readlinkSync(join(dir, "..data"));

    const unchanged = await atomicWrite(
      dir,
      new Map([
        ["a", file("1")],
        ["b", file("2")],
        ["sub/c", file("3")],
      ]),
    );
    assert.deepEqual(unchanged, { ok: true, changed: false });
    assert.equal(readlinkSync(join(dir, "..data")), first);

    const r = await atomicWrite(
      dir,
      new Map([
        ["a", file("1-new")],
        ["d", file("4")],
      ]),
    );
    assert.deepEqual(r, { ok: true, changed: true });
    const second = readlinkSync(join(dir, "..data"));
    assert.notEqual(second, first);
    assert.deepEqual(listing(dir), [`${second}/`, `..data -> ${second}`, "a -> ..data/a", "d -> ..data/d"]);
    assert.equal(readFileSync(join(dir, "a"), "utf8"), "1-new");
    assert.equal(readFileSync(join(dir, "d"), "utf8"), "4");
  });

  it("rewrites when only a mode changed", async () => {
    const dir = tempDir();
    await atomicWrite(dir, new Map([["a", file("x", 0o644)]]));
    const r = await atomicWrite(dir, new Map([["a", file("x", 0o600)]]));
    assert.deepEqual(r, { ok: true, changed: true });
    assert.equal(statSync(join(dir, "a")).mode & 0o777, 0o600);
  });

  it("refuses payload paths as upstream's validatePath", async () => {
    const cases: [string, string | undefined][] = [
      ["", 'invalid path: must not be empty: ""'],
      ["/abs", "invalid path: must be relative path: /abs"],
      ["../up", "invalid path: must not contain '..': ../up"],
      ["a/../../b", "invalid path: must not contain '..': a/../../b"],
      ["..data", "invalid path: must not start with '..': ..data"],
      [`${"x".repeat(256)}`, "invalid path: filenames must be less than or equal to 255 characters"],
      ["ok/..x", undefined],
      ["a.b/c", undefined],
    ];
    for (const [p, want] of cases) assert.equal(validatePath(p), want, p);
    const dir = tempDir();
    assert.deepEqual(await atomicWrite(dir, new Map([["../escape", file("x")]])), { ok: false, message: "invalid path: must not contain '..': ../escape" });
    assert.deepEqual(readdirSync(dir), []);
  });
});
