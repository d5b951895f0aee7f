import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { StringInterner } from "./string-interner.js";

/** A string equal to `s` but built at run time, so it is a distinct copy (as JSON.parse makes). */
const copy = (s: string) => JSON.parse(JSON.stringify(s)) as string;

describe("StringInterner", () => {
  it("keeps a string once it was seen twice and hands that copy back", () => {
    const si = new StringInterner();
    si.intern(copy("Ready"));
    const second = copy("Ready");
    assert.equal(si.intern(second), second);
    assert.equal(si.size, 1);
    const third = copy("Ready");
    assert.equal(si.intern(third), second);
    // Strings have no identity in JS: what is observable is that only one is kept, and the values are unchanged.
    assert.equal(si.size, 1);
  });

  it("never keeps a string seen once, nor one longer than maxLength", () => {
    const si = new StringInterner({ maxLength: 4 });
    for (let i = 0; i < 100; i++) si.intern(`uid-${i}`);
    assert.equal(si.size, 0);
    si.intern("toolong");
    si.intern("toolong");
    assert.equal(si.size, 0);
  });

  it("stays within its bounds", () => {
    const si = new StringInterner({ maxStrings: 10, maxCandidates: 10 });
    for (let i = 0; i < 1000; i++) {
      si.intern(`s${i}`);
      si.intern(`s${i}`);
      assert.ok(si.size <= 10);
    }
  });

  it("interns every string value of parsed JSON in place, keeping the object equal", () => {
    const si = new StringInterner();
    const text = JSON.stringify({
      metadata: { name: "web-1", labels: { app: "web" }, ownerReferences: [{ kind: "ReplicaSet", name: "web" }] },
      status: { conditions: [{ type: "Ready", status: "True" }], podIP: null, ready: true, restartCount: 0 },
      spec: { containers: [{ name: "web", args: ["a", "web"] }] },
    });
    const a = JSON.parse(text);
    const b = JSON.parse(text);
    si.internAll(a);
    assert.equal(si.internAll(b), b);
    assert.deepEqual(a, JSON.parse(text));
    assert.deepEqual(b, JSON.parse(text));
    // "web" appears four times in each object: kept once.
    assert.ok(si.size > 0 && si.size < 12, `size ${si.size}`);
  });
});
