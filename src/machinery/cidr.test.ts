import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatCidr, IpPool, maskSizeFor, nthSubnet, parseCidr } from "./cidr.js";

describe("cidr", () => {
  it("carves per-node ranges from the cluster CIDR", () => {
    const c = parseCidr("10.42.0.0/16");
    assert.equal(formatCidr(nthSubnet(c, 24, 0)!), "10.42.0.0/24");
    assert.equal(formatCidr(nthSubnet(c, 24, 255)!), "10.42.255.0/24");
    assert.equal(nthSubnet(c, 24, 256), undefined);
    assert.equal(maskSizeFor(c, 3, 24), 24);
    assert.equal(maskSizeFor(c, 1000, 24), 26);
    assert.equal(formatCidr(nthSubnet(c, 26, 999)!), "10.42.249.192/26");
    assert.equal(formatCidr(parseCidr("10.42.3.7/24")), "10.42.3.0/24");
    assert.throws(() => parseCidr("10.42.0.0"), /invalid IPv4 CIDR/);
  });

  it("allocates from .2 and skips the broadcast address", () => {
    const pool = new IpPool(parseCidr("10.0.0.0/29"));
    const got = Array.from({ length: 6 }, () => pool.allocate());
    assert.deepEqual(got, ["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6", undefined]);
    pool.release("10.0.0.4");
    assert.equal(pool.allocate(), "10.0.0.4");
  });
});
