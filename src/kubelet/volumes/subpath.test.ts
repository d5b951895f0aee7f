import assert from "node:assert/strict";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { silentLogger } from "../../machinery/log.js";
import { SystemMounter } from "./mounter.js";
import { prepareSubpath, type Subpath } from "./subpath.js";

const isRoot = process.getuid?.() === 0;
const mounter = new SystemMounter();
let root = "";
let volume = "";
let outside = "";

before(() => {
  if (!isRoot) return;
  root = mkdtempSync("/tmp/skiff-subpath-");
  volume = join(root, "pods/u1/volumes/kubernetes.io~empty-dir/data");
  outside = join(root, "outside");
  mkdirSync(join(volume, "a/b"), { recursive: true, mode: 0o777 });
  mkdirSync(outside);
  writeFileSync(join(outside, "secret"), "host secret");
  writeFileSync(join(volume, "a/b/file.txt"), "in volume");
  symlinkSync("a/b", join(volume, "inside-link"));
  symlinkSync(outside, join(volume, "escape-link"));
  symlinkSync("../../../../../outside", join(volume, "relative-escape"));
  symlinkSync("../../../../../nowhere", join(volume, "dangling-escape"));
  chmodSync(volume, 0o777);
});

after(async () => {
  if (!root) return;
  for (const p of await mounter.mountPointsUnder(root)) await mounter.unmount(p);
  assert.deepEqual(await mounter.mountPointsUnder(root), []);
  rmSync(root, { recursive: true, force: true });
});

function sp(subPath: string, index = 0): Subpath {
  return { rootDir: root, podUid: "u1", volumeName: "data", containerName: "app", volumeMountIndex: index, volumePath: volume, subPath };
}

describe("safe subPath (real bind mounts, root)", { skip: !isRoot && "needs root for bind mounts" }, () => {
  it("binds a directory of the volume through an opened descriptor", async () => {
    const r = await prepareSubpath(sp("a/b", 0), mounter, silentLogger);
    const target = join(root, "pods/u1/volume-subpaths/data/app/0");
    assert.deepEqual(r, { ok: true, hostPath: target });
    assert.deepEqual(await mounter.mountPointsUnder(target), [target]);
    assert.equal(readFileSync(join(target, "file.txt"), "utf8"), "in volume");
    // A second preparation (the container restarts) keeps the bind.
    assert.deepEqual(await prepareSubpath(sp("a/b", 0), mounter, silentLogger), { ok: true, hostPath: target });
    assert.deepEqual(await mounter.mountPointsUnder(target), [target]);
  });

  it("binds single files, and symlinks that stay inside the volume", async () => {
    const f = await prepareSubpath(sp("a/b/file.txt", 1), mounter, silentLogger);
    assert.ok(f.ok);
    assert.equal(readFileSync(f.hostPath, "utf8"), "in volume");
    const l = await prepareSubpath(sp("inside-link", 2), mounter, silentLogger);
    assert.ok(l.ok);
    assert.equal(readFileSync(join(l.hostPath, "file.txt"), "utf8"), "in volume");
  });

  it("creates a missing subPath inside the volume with the volume's mode", async () => {
    const r = await prepareSubpath(sp("new/deeper", 3), mounter, silentLogger);
    assert.ok(r.ok);
    assert.equal(statSync(join(volume, "new")).mode & 0o777, 0o777);
    assert.equal(statSync(join(volume, "new/deeper")).mode & 0o777, 0o777);
  });

  it("refuses escapes with upstream's messages", async () => {
    const cases: [string, string][] = [
      ["/etc", "error SubPath `/etc` must not be an absolute path"],
      ["../outside", "unable to provision SubPath `../outside`: must not contain '..'"],
      ["a/../../outside", "unable to provision SubPath `a/../../outside`: must not contain '..'"],
      ["escape-link", 'failed to prepare subPath for volumeMount "data" of container "app"'],
      ["relative-escape", 'failed to prepare subPath for volumeMount "data" of container "app"'],
      ["escape-link/made-here", 'failed to create subPath directory for volumeMount "data" of container "app"'],
      ["dangling-escape", 'failed to create subPath directory for volumeMount "data" of container "app"'],
    ];
    let i = 10;
    for (const [subPath, want] of cases) assert.deepEqual(await prepareSubpath(sp(subPath, i++), mounter, silentLogger), { ok: false, message: want }, subPath);
    assert.equal(existsSync(join(outside, "made-here")), false);
    assert.equal(existsSync(join(root, "nowhere")), false);
    // Nothing was bound for the refused ones.
    const bound = await mounter.mountPointsUnder(join(root, "pods/u1/volume-subpaths"));
    assert.ok(bound.every((p) => Number(p.split("/").pop()) < 10), bound.join(","));
  });
});
