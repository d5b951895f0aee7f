import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { caBundleHash, ensureServerToken, formatJoinToken, parseJoinToken, secretMatches } from "./join-token.js";

const CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

describe("join tokens", () => {
  it("round-trips the K10 format", () => {
    const t = formatJoinToken(CA, "server", "s3cret-value");
    assert.match(t, /^K10[0-9a-f]{64}::server:s3cret-value$/);
    assert.deepEqual(parseJoinToken(t), { caHash: caBundleHash(CA), username: "server", secret: "s3cret-value" });
  });

  it("takes nothing but the full format", () => {
    for (const bad of ["", "abc", "K10abc::server:x", `K10${"0".repeat(64)}:server:x`, `K10${"0".repeat(64)}::server:`, "0123456789abcdef0123"]) {
      assert.equal(parseJoinToken(bad), undefined, bad);
    }
  });

  it("compares secrets exactly", () => {
    assert.equal(secretMatches("abc", "abc"), true);
    assert.equal(secretMatches("abd", "abc"), false);
    assert.equal(secretMatches("ab", "abc"), false);
  });

  it("keeps the secret across restarts and follows a new CA", () => {
    const dir = mkdtempSync(join(tmpdir(), "skiff-token-"));
    try {
      const file = join(dir, "token");
      const first = ensureServerToken(file, CA);
      assert.equal(statSync(file).mode & 0o777, 0o600);
      assert.equal(ensureServerToken(file, CA).text, first.text);
      const rotated = ensureServerToken(file, `${CA}${CA}`);
      assert.equal(rotated.secret, first.secret);
      assert.notEqual(rotated.caHash, first.caHash);
      assert.equal(readFileSync(file, "utf8").trim(), rotated.text);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
