import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { checkHostPathType, setUpHostPath } from "./host-path.js";

let root = "";
let server: Server | undefined;

before(async () => {
  root = mkdtempSync("/tmp/skiff-hostpath-");
  mkdirSync(join(root, "dir"));
  writeFileSync(join(root, "file"), "x");
  server = createServer();
  await new Promise<void>((r) => server!.listen(join(root, "sock"), r));
});

after(async () => {
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  rmSync(root, { recursive: true, force: true });
});

/** Any block device of this machine (the table skips its row when there is none). */
function blockDevice(): string | undefined {
  for (const n of readdirSync("/dev")) {
    try {
      if (statSync(`/dev/${n}`).isBlockDevice()) return `/dev/${n}`;
    } catch {
      // Vanished or unreadable: try the next.
    }
  }
  return undefined;
}

describe("hostPath type checks (upstream checkTypeInternal)", () => {
  it("accepts each kind of path only for its type, with upstream's messages", async () => {
    const p = (n: string) => join(root, n);
    const block = blockDevice();
    const rows: [path: string, type: string, want: string | undefined][] = [
      [p("dir"), "Directory", undefined],
      [p("dir"), "DirectoryOrCreate", undefined],
      [p("file"), "Directory", `hostPath type check failed: ${p("file")} is not a directory`],
      [p("missing"), "Directory", `hostPath type check failed: ${p("missing")} is not a directory`],
      [p("file"), "File", undefined],
      [p("file"), "FileOrCreate", undefined],
      [p("dir"), "File", `hostPath type check failed: ${p("dir")} is not a file`],
      [p("dir"), "FileOrCreate", `hostPath type check failed: ${p("dir")} is not a file`],
      [p("file"), "DirectoryOrCreate", `hostPath type check failed: ${p("file")} is not a directory`],
      [p("sock"), "Socket", undefined],
      [p("file"), "Socket", `hostPath type check failed: ${p("file")} is not a socket file`],
      ["/dev/null", "CharDevice", undefined],
      [p("file"), "CharDevice", `hostPath type check failed: ${p("file")} is not a character device`],
      ["/dev/null", "BlockDevice", "hostPath type check failed: /dev/null is not a block device"],
      ...(block ? [[block, "BlockDevice", undefined] as [string, string, undefined]] : []),
      [p("file"), "Weird", "Weird is an invalid volume type"],
      [p("no-parent/new-file"), "FileOrCreate", `open ${p("no-parent/new-file")}: no such file or directory`],
    ];
    for (const [path, type, want] of rows) assert.equal(await checkHostPathType(path, type), want, `${path} as ${type}`);
  });

  it("creates what the OrCreate types name", async () => {
    const d = join(root, "made/deep");
    const f = join(root, "made-file");
    assert.equal(await checkHostPathType(d, "DirectoryOrCreate"), undefined);
    assert.equal(statSync(d).isDirectory(), true);
    assert.equal(await checkHostPathType(f, "FileOrCreate"), undefined);
    assert.equal(statSync(f).isFile(), true);
  });

  it("rejects back-steps and leaves untyped paths unchecked", async () => {
    assert.deepEqual(await setUpHostPath({ path: "/var/../etc", type: "Directory" }), {
      ok: false,
      message: "invalid HostPath `/var/../etc`: must not contain '..'",
      stage: "setup",
    });
    const missing = join(root, "not-there");
    assert.deepEqual(await setUpHostPath({ path: missing }), { ok: true, volume: { path: missing, readOnly: false, remount: false } });
    assert.equal(existsSync(missing), false);
  });
});
