import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseCidr } from "../../machinery/cidr.js";
import { CidrSet } from "./cidr-set.js";

describe("CidrSet", () => {
  it("hands out /24s in order and none twice", () => {
    const set = new CidrSet(parseCidr("10.42.0.0/16"), 24);
    assert.equal(set.allocateNext(), "10.42.0.0/24");
    assert.equal(set.allocateNext(), "10.42.1.0/24");
    assert.equal(set.allocated, 2);
  });

  it("skips occupied ranges and does not reuse a released one at once", () => {
    const set = new CidrSet(parseCidr("10.42.0.0/16"), 24);
    assert.equal(set.occupy("10.42.0.0/24"), true);
    assert.equal(set.allocateNext(), "10.42.1.0/24");
    set.release("10.42.0.0/24");
    assert.equal(set.allocateNext(), "10.42.2.0/24");
  });

  it("runs out, then serves a freed range", () => {
    const set = new CidrSet(parseCidr("10.42.0.0/23"), 24);
    assert.equal(set.allocateNext(), "10.42.0.0/24");
    assert.equal(set.allocateNext(), "10.42.1.0/24");
    assert.equal(set.allocateNext(), undefined);
    set.release("10.42.1.0/24");
    assert.equal(set.allocateNext(), "10.42.1.0/24");
  });

  it("refuses ranges that are not its subnets", () => {
    const set = new CidrSet(parseCidr("10.42.0.0/16"), 24);
    assert.equal(set.occupy("10.43.0.0/24"), false);
    assert.equal(set.occupy("10.42.0.0/25"), false);
    assert.equal(set.occupy("10.42.0.128/24"), true, "parsing masks the address to its network");
    assert.equal(set.occupy("not a cidr"), false);
    assert.throws(() => new CidrSet(parseCidr("10.42.0.0/16"), 8), /does not fit/);
  });
});
