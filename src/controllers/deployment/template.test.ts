import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { PodTemplateSpec } from "kubernetes-types/core/v1.js";
import { canonicalize, computeHash, DEFAULT_DEPLOYMENT_UNIQUE_LABEL_KEY, equalIgnoreHash, fnv32a, safeEncodeString } from "./template.js";

const template = (image: string, labels: Record<string, string> = { app: "web" }): PodTemplateSpec => ({
  metadata: { labels },
  spec: { containers: [{ name: "c", image }] },
});

describe("equalIgnoreHash (TestEqualIgnoreHash)", () => {
  const cases: [string, PodTemplateSpec | undefined, PodTemplateSpec | undefined, boolean][] = [
    ["same template", template("a"), template("a"), true],
    ["same but for the hash label", template("a", { app: "web", [DEFAULT_DEPLOYMENT_UNIQUE_LABEL_KEY]: "x" }), template("a"), true],
    ["different hash labels only", template("a", { app: "web", [DEFAULT_DEPLOYMENT_UNIQUE_LABEL_KEY]: "x" }), template("a", { app: "web", [DEFAULT_DEPLOYMENT_UNIQUE_LABEL_KEY]: "y" }), true],
    ["different image", template("a"), template("b"), false],
    ["different labels", template("a", { app: "web" }), template("a", { app: "db" }), false],
    ["an annotation added", { ...template("a"), metadata: { labels: { app: "web" }, annotations: { "kubectl.kubernetes.io/restartedAt": "now" } } }, template("a"), false],
    ["nil and empty maps are equal (semantic equality)", { metadata: { labels: { app: "web" }, annotations: {} }, spec: { containers: [{ name: "c", image: "a", env: [] }] } }, template("a"), true],
    ["null fields are equal to missing ones", { metadata: { labels: { app: "web" }, creationTimestamp: null as unknown as string }, spec: { containers: [{ name: "c", image: "a" }] } }, template("a"), true],
    ["key order does not matter", { spec: { containers: [{ image: "a", name: "c" }] }, metadata: { labels: { app: "web" } } }, template("a"), true],
    ["container order does", { spec: { containers: [{ name: "c", image: "a" }, { name: "d", image: "b" }] } }, { spec: { containers: [{ name: "d", image: "b" }, { name: "c", image: "a" }] } }, false],
  ];
  for (const [name, a, b, want] of cases) {
    it(name, () => {
      assert.equal(equalIgnoreHash(a, b), want);
      assert.equal(equalIgnoreHash(b, a), want);
    });
  }
});

describe("computeHash", () => {
  it("FNV-32a matches the reference vectors", () => {
    const enc = (s: string) => new TextEncoder().encode(s);
    assert.equal(fnv32a(enc("")), 0x811c9dc5);
    assert.equal(fnv32a(enc("a")), 0xe40c292c);
    assert.equal(fnv32a(enc("foobar")), 0xbf9cf968);
  });

  it("encodes like rand.SafeEncodeString: digits onto consonants and safe digits", () => {
    assert.equal(safeEncodeString("0123456789"), "456789bcdf");
  });

  it("is stable: the same template always gets the same hash", () => {
    const h = computeHash(template("nginx:1.25"));
    assert.equal(h, computeHash(structuredClone(template("nginx:1.25"))));
    assert.match(h, /^[bcdfghjklmnpqrstvwxz2456789]{1,10}$/);
    // A fixed value, so a change of the algorithm (and of every ReplicaSet name) does not go unnoticed.
    assert.equal(computeHash({ metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "c", image: "busybox:v1" }] } }), "7f8f47df75");
  });

  it("semantically equal templates hash alike; different ones differently", () => {
    assert.equal(computeHash({ ...template("a"), metadata: { labels: { app: "web" }, annotations: {} } }), computeHash(template("a")));
    assert.notEqual(computeHash(template("a")), computeHash(template("b")));
  });

  it("a collision count changes the hash, and each count gives another", () => {
    const t = template("a");
    const seen = new Set([computeHash(t)]);
    for (let c = 0; c < 5; c++) seen.add(computeHash(t, c));
    assert.equal(seen.size, 6);
    assert.equal(computeHash(t, 3), computeHash(t, 3));
  });

  it("canonicalizes recursively, keeping array positions", () => {
    assert.deepEqual(canonicalize({ b: [{}, { y: null, x: 1 }], a: {}, c: null }), { b: [{}, { x: 1 }] });
  });
});
