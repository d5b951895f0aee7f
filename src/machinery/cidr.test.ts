import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  type Cidr,
  cidrContains,
  cidrContainsIp,
  cidrsOverlap,
  formatCidr,
  IpPool,
  ipToNumber,
  maskSizeFor,
  nthSubnet,
  numberToIp,
  parseCidr,
  tryParseCidr,
} from "./cidr.js";

function cidr(s: string): Cidr {
  const c = tryParseCidr(s);
  assert.notEqual(typeof c, "string", String(c));
  return c as Cidr;
}

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

  it("parses and canonicalises IPv4 CIDRs", () => {
    assert.equal(formatCidr(cidr("10.42.7.9/24")), "10.42.7.0/24");
    assert.equal(formatCidr(cidr("0.0.0.0/0")), "0.0.0.0/0");
    assert.equal(formatCidr(cidr("255.255.255.255/32")), "255.255.255.255/32");
    assert.equal(numberToIp(ipToNumber("192.0.2.200")!), "192.0.2.200");
  });

  it("rejects what is not an IPv4 CIDR, with upstream's words", () => {
    assert.equal(tryParseCidr("10.42.0.0"), "invalid CIDR address: 10.42.0.0");
    assert.equal(tryParseCidr("10.42.0.256/24"), "invalid CIDR address: 10.42.0.256/24");
    assert.equal(tryParseCidr("10.42.0.0/33"), "invalid CIDR address: 10.42.0.0/33");
    assert.match(String(tryParseCidr("fd00::/64")), /IPv6 CIDR fd00::\/64 is not supported/);
  });

  it("keeps parseCidr's thrown message for configuration errors", () => {
    assert.deepEqual(parseCidr(" 10.42.0.0/16 "), { base: ipToNumber("10.42.0.0"), prefix: 16 });
    assert.throws(() => parseCidr("10.42.0.0/33"), { message: 'invalid IPv4 CIDR "10.42.0.0/33" (want e.g. 10.42.0.0/16)' });
    assert.throws(() => parseCidr("fd00::/64"), { message: 'invalid IPv4 CIDR "fd00::/64" (want e.g. 10.42.0.0/16)' });
  });

  it("tells containment and overlap", () => {
    const cluster = cidr("10.42.0.0/16");
    assert.ok(cidrContains(cluster, cidr("10.42.3.0/24")));
    assert.ok(!cidrContains(cluster, cidr("10.43.3.0/24")));
    assert.ok(!cidrContains(cidr("10.42.3.0/24"), cluster));
    assert.ok(cidrContainsIp(cluster, ipToNumber("10.42.255.254")!));
    assert.ok(!cidrContainsIp(cluster, ipToNumber("10.43.0.1")!));
    assert.ok(cidrsOverlap(cidr("10.0.0.0/8"), cluster));
    assert.ok(!cidrsOverlap(cidr("10.43.0.0/16"), cluster));
  });
});
