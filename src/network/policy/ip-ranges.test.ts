import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { cidrRange, formatRange, type IpRange, ipRange, mergeRanges, subtractRanges } from "./ip-ranges.js";

const r = (cidr: string): IpRange => {
  const x = cidrRange(cidr);
  assert.notEqual(typeof x, "string", String(x));
  return x as IpRange;
};

describe("ip ranges", () => {
  it("formats an address, an aligned block as a CIDR, and anything else as a range", () => {
    assert.equal(formatRange(ipRange("10.0.0.7")!), "10.0.0.7");
    assert.equal(formatRange(r("10.0.0.0/24")), "10.0.0.0/24");
    assert.equal(formatRange(r("0.0.0.0/0")), "0.0.0.0/0");
    assert.equal(formatRange({ first: ipRange("10.0.0.1")!.first, last: ipRange("10.0.0.2")!.first }), "10.0.0.1-10.0.0.2");
  });

  it("merges overlapping and adjacent ranges, keeps disjoint ones apart", () => {
    const merged = mergeRanges([ipRange("10.0.0.3")!, r("10.0.0.0/31"), ipRange("10.0.0.2")!, ipRange("10.0.0.9")!, r("10.0.0.0/30")]);
    assert.deepEqual(merged.map(formatRange), ["10.0.0.0/30", "10.0.0.9"]);
  });

  it("subtracts except blocks, splitting the range", () => {
    const left = subtractRanges(r("192.0.2.0/24"), [r("192.0.2.64/26"), ipRange("192.0.2.0")!, r("198.51.100.0/24")]);
    assert.deepEqual(left.map(formatRange), ["192.0.2.1-192.0.2.63", "192.0.2.128/25"]);
    assert.deepEqual(subtractRanges(r("192.0.2.0/24"), [r("192.0.0.0/16")]), []);
  });

  it("reports what is not an IPv4 CIDR", () => {
    assert.equal(cidrRange("10.0.0.0"), "invalid CIDR address: 10.0.0.0");
    assert.match(cidrRange("fd00::/64") as string, /IPv6/);
    assert.equal(ipRange("fd00::1"), undefined);
  });
});
