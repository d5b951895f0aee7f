import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { cidrContains, cidrContainsIp, cidrsOverlap, formatIpv4, parseIpv4, parseIpv4Cidr } from "./cidr.js";

function cidr(s: string) {
  const c = parseIpv4Cidr(s);
  assert.notEqual(typeof c, "string", String(c));
  return c as Exclude<typeof c, string>;
}

describe("cidr", () => {
  it("parses and canonicalises IPv4 CIDRs", () => {
    assert.equal(cidr("10.42.7.9/24").text, "10.42.7.0/24");
    assert.equal(cidr("0.0.0.0/0").text, "0.0.0.0/0");
    assert.equal(cidr("255.255.255.255/32").text, "255.255.255.255/32");
    assert.equal(formatIpv4(parseIpv4("192.0.2.200")!), "192.0.2.200");
  });

  it("rejects what is not an IPv4 CIDR, with upstream's words", () => {
    assert.equal(parseIpv4Cidr("10.42.0.0"), "invalid CIDR address: 10.42.0.0");
    assert.equal(parseIpv4Cidr("10.42.0.256/24"), "invalid CIDR address: 10.42.0.256/24");
    assert.equal(parseIpv4Cidr("10.42.0.0/33"), "invalid CIDR address: 10.42.0.0/33");
    assert.match(String(parseIpv4Cidr("fd00::/64")), /IPv6 CIDR fd00::\/64 is not supported/);
  });

  it("tells containment and overlap", () => {
    const cluster = cidr("10.42.0.0/16");
    assert.ok(cidrContains(cluster, cidr("10.42.3.0/24")));
    assert.ok(!cidrContains(cluster, cidr("10.43.3.0/24")));
    assert.ok(!cidrContains(cidr("10.42.3.0/24"), cluster));
    assert.ok(cidrContainsIp(cluster, parseIpv4("10.42.255.254")!));
    assert.ok(!cidrContainsIp(cluster, parseIpv4("10.43.0.1")!));
    assert.ok(cidrsOverlap(cidr("10.0.0.0/8"), cluster));
    assert.ok(!cidrsOverlap(cidr("10.43.0.0/16"), cluster));
  });
});
