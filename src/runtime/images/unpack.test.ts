import assert from "node:assert/strict";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { gzipSync } from "node:zlib";
import { sha256Digest } from "./digest.js";
import { ImageError } from "./pull-error.js";
import { buildTar, type TarEntry } from "./tar-writer.js";
import { applyLayer } from "./unpack.js";

let base: string;
before(() => {
  base = mkdtempSync(join(tmpdir(), "skiff-unpack-"));
});
after(() => rmSync(base, { recursive: true, force: true }));

let n = 0;
function freshRoot(): string {
  const root = join(base, `root${n++}`);
  mkdirSync(root);
  return root;
}

async function apply(root: string, entries: readonly TarEntry[], gzip = false) {
  const tar = buildTar(entries);
  const blob = gzip ? gzipSync(tar) : tar;
  const r = await applyLayer({ root, input: Readable.from([blob]) });
  assert.equal(r.diffId, sha256Digest(tar), "diff id is the digest of the uncompressed tar");
  return r;
}

async function applyFails(root: string, data: Buffer): Promise<ImageError> {
  try {
    await applyLayer({ root, input: Readable.from([data]) });
  } catch (err) {
    assert.ok(err instanceof ImageError, `expected an ImageError, got ${String(err)}`);
    return err;
  }
  assert.fail("applyLayer should have failed");
}

function tree(root: string, dir = ""): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(root, dir)).sort()) {
    const rel = dir ? `${dir}/${name}` : name;
    out.push(rel);
    const st = lstatSync(join(root, rel));
    if (st.isDirectory()) out.push(...tree(root, rel));
  }
  return out;
}

describe("applyLayer", () => {
  it("writes files, directories, symlinks and hardlinks with modes, owners and times", async () => {
    const root = freshRoot();
    await apply(
      root,
      [
        { path: "bin/", type: "dir", mode: 0o755, mtime: 1_000_000 },
        { path: "bin/busybox", type: "file", body: "#!binary", mode: 0o4755, uid: 0, gid: 0, mtime: 1_000_000 },
        { path: "bin/sh", type: "symlink", linkpath: "busybox" },
        { path: "bin/ln", type: "hardlink", linkpath: "bin/busybox" },
        { path: "./home/user/file.txt", type: "file", body: "hello", mode: 0o600, uid: 1000, gid: 1001 },
        { path: "/etc/abs", type: "file", body: "abs" },
      ],
      true,
    );
    assert.deepEqual(tree(root), ["bin", "bin/busybox", "bin/ln", "bin/sh", "etc", "etc/abs", "home", "home/user", "home/user/file.txt"]);
    const bb = statSync(join(root, "bin/busybox"));
    assert.equal(bb.mode & 0o7777, 0o4755);
    assert.equal(bb.mtimeMs, 1_000_000_000);
    assert.equal(statSync(join(root, "bin")).mtimeMs, 1_000_000_000, "directory mtime survives its children");
    assert.equal(bb.ino, statSync(join(root, "bin/ln")).ino, "hardlink shares the inode");
    assert.equal(readlinkSync(join(root, "bin/sh")), "busybox");
    const f = statSync(join(root, "home/user/file.txt"));
    assert.equal(f.mode & 0o777, 0o600);
    if (process.getuid?.() === 0) {
      assert.equal(f.uid, 1000);
      assert.equal(f.gid, 1001);
    }
    assert.equal(readFileSync(join(root, "etc/abs"), "utf8"), "abs");
  });

  it("deletes with .wh. whiteouts and leaves the rest", async () => {
    const root = freshRoot();
    await apply(root, [
      { path: "a/x", type: "file", body: "x" },
      { path: "a/y", type: "file", body: "y" },
      { path: "b/deep/file", type: "file", body: "b" },
      { path: "c", type: "file", body: "c" },
    ]);
    await apply(root, [
      { path: ".wh.b", type: "file" },
      { path: "a/.wh.x", type: "file" },
      { path: "c", type: "file", body: "c2" },
      { path: ".wh.missing", type: "file" },
    ]);
    assert.deepEqual(tree(root), ["a", "a/y", "c"]);
    assert.equal(readFileSync(join(root, "c"), "utf8"), "c2");
  });

  it("empties a directory with an opaque whiteout, keeping what the same layer adds around it", async () => {
    const root = freshRoot();
    await apply(root, [
      { path: "d/old1", type: "file", body: "1" },
      { path: "d/sub/old2", type: "file", body: "2" },
      { path: "keep/me", type: "file", body: "k" },
    ]);
    await apply(root, [
      { path: "d/", type: "dir" },
      { path: "d/before", type: "file", body: "b" },
      { path: "d/.wh..wh..opq", type: "file" },
      { path: "d/sub/after", type: "file", body: "a" },
    ]);
    assert.deepEqual(tree(root), ["d", "d/before", "d/sub", "d/sub/after", "keep", "keep/me"]);
  });

  it("replaces a directory by a file and a file by a directory", async () => {
    const root = freshRoot();
    await apply(root, [
      { path: "x/inner", type: "file", body: "i" },
      { path: "y", type: "file", body: "y" },
    ]);
    await apply(root, [
      { path: "x", type: "file", body: "now a file" },
      { path: "y/", type: "dir" },
      { path: "y/z", type: "file", body: "z" },
    ]);
    assert.deepEqual(tree(root), ["x", "y", "y/z"]);
  });

  it("refuses entries that climb out of the root, writing nothing outside", async () => {
    const outer = join(base, `outer${n++}`);
    mkdirSync(outer);
    const root = join(outer, "root");
    mkdirSync(root);
    for (const path of ["../evil", "a/../../evil", "./../evil"]) {
      const err = await applyFails(root, buildTar([{ path, type: "file", body: "pwned" }]));
      assert.equal(err.code, "InvalidArgument");
      assert.match(err.message, /outside of the root/);
    }
    const err = await applyFails(root, buildTar([{ path: "h", type: "hardlink", linkpath: "../../etc/passwd" }]));
    assert.match(err.message, /outside of the root/);
    await apply(root, [{ path: "keep/file", type: "file", body: "k" }]);
    for (const path of [".wh...", "keep/.wh..", "keep/.wh..."]) {
      const wh = await applyFails(root, buildTar([{ path, type: "file" }]));
      assert.match(wh.message, /invalid whiteout/);
    }
    assert.deepEqual(readdirSync(outer), ["root"]);
    assert.equal(readFileSync(join(root, "keep/file"), "utf8"), "k");
  });

  it("resolves symlinks inside the root, so a link to / or .. cannot lead a later entry out", async () => {
    const outer = join(base, `outer${n++}`);
    mkdirSync(outer);
    const root = join(outer, "root");
    mkdirSync(root);
    await apply(root, [
      { path: "up", type: "symlink", linkpath: "../../.." },
      { path: "abs", type: "symlink", linkpath: `${outer}` },
      { path: "hostetc", type: "symlink", linkpath: "/etc" },
    ]);
    await apply(root, [
      { path: "up/escaped", type: "file", body: "no" },
      { path: "abs/escaped2", type: "file", body: "no" },
    ]);
    assert.deepEqual(readdirSync(outer), ["root"], "nothing written beside the root");
    assert.equal(readFileSync(join(root, "escaped"), "utf8"), "no", "`up` resolves to the root itself");
    assert.equal(readFileSync(join(root, outer, "escaped2"), "utf8"), "no", "an absolute link target is re-rooted");
    // A hardlink through a link to the host's /etc must not link the host's file.
    const err = await applyFails(root, buildTar([{ path: "pw", type: "hardlink", linkpath: "hostetc/passwd" }]));
    assert.match(err.message, /hardlink pw to missing hostetc\/passwd/);
    assert.equal(existsSync(join(root, "pw")), false);
  });

  it("skips device nodes, makes FIFOs", async () => {
    const root = freshRoot();
    await apply(root, [
      { path: "dev/", type: "dir" },
      { path: "dev/null", type: "char", devmajor: 1, devminor: 3, mode: 0o666 },
      { path: "dev/sda", type: "block", devmajor: 8, devminor: 0 },
      { path: "run/fifo", type: "fifo", mode: 0o600 },
    ]);
    assert.deepEqual(tree(root), ["dev", "run", "run/fifo"]);
    assert.ok(lstatSync(join(root, "run/fifo")).isFIFO());
  });

  it("handles names longer than 100 bytes (ustar prefix and pax)", async () => {
    const root = freshRoot();
    const long = `${"d".repeat(120)}/${"f".repeat(90)}`;
    const longer = `${"e".repeat(200)}/${"g".repeat(150)}`;
    await apply(root, [
      { path: long, type: "file", body: "1" },
      { path: longer, type: "file", body: "2" },
    ]);
    assert.equal(readFileSync(join(root, long), "utf8"), "1");
    assert.equal(readFileSync(join(root, longer), "utf8"), "2");
  });

  it("rejects zstd layers and corrupt archives clearly", async () => {
    const z = await applyFails(freshRoot(), Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0]));
    assert.equal(z.code, "Unimplemented");
    assert.match(z.message, /zstd/);
    const gz = gzipSync(buildTar([{ path: "a", type: "file", body: "x".repeat(10_000) }]));
    const truncated = await applyFails(freshRoot(), gz.subarray(0, gz.length - 20));
    assert.equal(truncated.code, "InvalidArgument");
    const garbage = await applyFails(freshRoot(), Buffer.concat([buildTar([{ path: "a", type: "file", body: "x" }]).subarray(0, 700), Buffer.alloc(100, 7)]));
    assert.equal(garbage.code, "InvalidArgument");
  });
});
