import assert from "node:assert/strict";
import { test } from "node:test";
import { parseTokenFile } from "./token-file.js";

test("token file lines are token,user,uid and quoted groups, as upstream's --token-auth-file", () => {
  const t = parseTokenFile('abc,alice,1001,"dev,ops"\n\nxyz,bob,1002\n', "/f");
  assert.deepEqual(t.get("abc"), { username: "alice", uid: "1001", groups: ["dev", "ops"] });
  assert.deepEqual(t.get("xyz"), { username: "bob", uid: "1002", groups: [] });
  assert.throws(() => parseTokenFile("abc,alice\n", "/f"), /token file '\/f' must have at least 3 columns \(token, user name, user uid\), found 2/);
});
