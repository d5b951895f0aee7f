import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { resolveInRoot, resolveUser } from "./user.js";

const root = mkdtempSync("/tmp/skiff-user-test-");
after(() => rmSync(root, { recursive: true, force: true }));
mkdirSync(join(root, "etc"));
writeFileSync(join(root, "etc", "passwd"), "root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n# comment\n");
writeFileSync(join(root, "etc", "group"), "root:x:0:\nwheel:x:10:root,app\napp:x:1001:\nextra:x:2000:app\n");

describe("resolveUser", () => {
  it("is root with root's supplementary groups when the image names no user", () => {
    assert.deepEqual(resolveUser(root, ""), { ok: true, user: { uid: 0, gid: 0, additionalGids: [10] } });
  });
  it("resolves a name to its uid, primary gid and supplementary groups", () => {
    assert.deepEqual(resolveUser(root, "app"), { ok: true, user: { uid: 1000, gid: 1001, additionalGids: [10, 2000] } });
  });
  it("takes numeric ids as they are, gid 0 for a uid the image does not list", () => {
    assert.deepEqual(resolveUser(root, "1000"), { ok: true, user: { uid: 1000, gid: 1001, additionalGids: [10, 2000] } });
    assert.deepEqual(resolveUser(root, "4242"), { ok: true, user: { uid: 4242, gid: 0, additionalGids: [] } });
    assert.deepEqual(resolveUser(root, "4242:77"), { ok: true, user: { uid: 4242, gid: 77, additionalGids: [] } });
  });
  it("resolves user:group names", () => {
    assert.deepEqual(resolveUser(root, "app:extra"), { ok: true, user: { uid: 1000, gid: 2000, additionalGids: [10] } });
  });
  it("fails for names the image does not have", () => {
    assert.deepEqual(resolveUser(root, "nobody"), { ok: false, message: "unable to find user nobody: no matching entries in passwd file" });
    assert.deepEqual(resolveUser(root, "app:nogroup"), { ok: false, message: "unable to find group nogroup: no matching entries in group file" });
  });
});

describe("resolveInRoot", () => {
  it("keeps absolute and relative symlinks inside the root", () => {
    const r = mkdtempSync("/tmp/skiff-user-test-");
    try {
      mkdirSync(join(r, "etc"));
      mkdirSync(join(r, "real"));
      writeFileSync(join(r, "real", "passwd"), "x");
      symlinkSync("/real/passwd", join(r, "etc", "abs"));
      symlinkSync("../real/passwd", join(r, "etc", "rel"));
      symlinkSync("/../../../../etc/passwd", join(r, "etc", "escape"));
      symlinkSync("loop", join(r, "etc", "loop"));
      assert.equal(resolveInRoot(r, "/etc/abs"), join(r, "real", "passwd"));
      assert.equal(resolveInRoot(r, "/etc/rel"), join(r, "real", "passwd"));
      // The host's /etc/passwd is never reached: the link resolves to <root>/etc/passwd, which is missing.
      assert.equal(resolveInRoot(r, "/etc/escape"), undefined);
      assert.equal(resolveInRoot(r, "/etc/loop"), undefined);
    } finally {
      rmSync(r, { recursive: true, force: true });
    }
  });
});
