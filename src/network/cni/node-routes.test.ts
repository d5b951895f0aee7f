import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { deleteNodeRoute, replaceNodeRoute } from "./node-routes.js";
import { guardScript, guardTableName } from "./service-guard.js";

describe("node routes", () => {
  it("refuse malformed input without touching the routing table", async () => {
    assert.equal(await replaceNodeRoute("10.42.3.0", "192.0.2.10"), "invalid CIDR address: 10.42.3.0");
    assert.equal(await replaceNodeRoute("10.42.3.0/24", "node-2"), 'invalid node IP "node-2": must be an IPv4 address');
    assert.match((await deleteNodeRoute("fd00::/64", "192.0.2.10")) ?? "", /IPv6 CIDR fd00::\/64 is not supported/);
  });
});

describe("service guard", () => {
  it("names its nft table after the service bridge", () => {
    assert.equal(guardTableName("skiff-svc0"), "skiff_guard_skiff_svc0");
  });

  it("rejects what is still addressed to the service CIDR after DNAT, from the host and from pods", () => {
    const script = guardScript("skiff_guard_x", "10.43.0.0/16");
    // Recreated atomically: declare, delete, define in one nft transaction.
    assert.match(script, /^table ip skiff_guard_x \{\}\ndelete table ip skiff_guard_x\ntable ip skiff_guard_x \{/);
    for (const hook of ["output", "forward"]) {
      assert.match(script, new RegExp(`chain ${hook} \\{ type filter hook ${hook} priority 10; policy accept; ip daddr 10\\.43\\.0\\.0/16 reject`));
    }
    assert.doesNotMatch(script, /oifname/, "the output device is the pre-DNAT route's: never match on it");
  });
});
