import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { familiarName, formatReference, InvalidReferenceError, parseReference, repository, taggedName } from "./reference.js";

const D = "a".repeat(64);

describe("parseReference", () => {
  const cases: [string, { domain: string; path: string; tag?: string; digest?: string }][] = [
    ["busybox", { domain: "docker.io", path: "library/busybox", tag: "latest" }],
    ["busybox:1.36", { domain: "docker.io", path: "library/busybox", tag: "1.36" }],
    ["library/busybox", { domain: "docker.io", path: "library/busybox", tag: "latest" }],
    ["user/repo:v_1.0-rc", { domain: "docker.io", path: "user/repo", tag: "v_1.0-rc" }],
    ["index.docker.io/library/busybox", { domain: "docker.io", path: "library/busybox", tag: "latest" }],
    ["localhost/foo", { domain: "localhost", path: "foo", tag: "latest" }],
    ["localhost:5000/foo/bar:v1", { domain: "localhost:5000", path: "foo/bar", tag: "v1" }],
    ["127.0.0.1:5000/app", { domain: "127.0.0.1:5000", path: "app", tag: "latest" }],
    [`127.0.0.1:5000/app@sha256:${D}`, { domain: "127.0.0.1:5000", path: "app", digest: `sha256:${D}` }],
    [`app:1@sha256:${D}`, { domain: "docker.io", path: "library/app", tag: "1", digest: `sha256:${D}` }],
    ["registry.example.com/a/b/c.d__e-f:tag", { domain: "registry.example.com", path: "a/b/c.d__e-f", tag: "tag" }],
    ["Registry.Example.com/foo", { domain: "Registry.Example.com", path: "foo", tag: "latest" }],
    ["[::1]:5000/foo", { domain: "[::1]:5000", path: "foo", tag: "latest" }],
  ];
  for (const [input, want] of cases) {
    it(`parses ${input}`, () => {
      assert.deepEqual({ ...parseReference(input) }, want);
    });
  }

  const bad: [string, RegExp][] = [
    ["", /^invalid reference format$/],
    ["a b", /^invalid reference format$/],
    [":tag", /^invalid reference format$/],
    ["busybox:", /^invalid reference format$/],
    ["Busybox", /repository name \(library\/Busybox\) must be lowercase/],
    ["example.com/Foo", /repository name \(Foo\) must be lowercase/],
    [D, /cannot specify 64-byte hexadecimal strings/],
    [`busybox@sha512:${"b".repeat(128)}`, /unsupported digest algorithm: sha512/],
    [`busybox@sha256:${"c".repeat(40)}`, /invalid checksum digest format/],
    ["busybox@sha256:abc", /^invalid reference format$/],
    [`${"a".repeat(256)}`, /must not be more than 255 characters/],
    ["foo//bar", /^invalid reference format$/],
    ["-foo", /^invalid reference format$/],
  ];
  for (const [input, re] of bad) {
    it(`rejects ${JSON.stringify(input.length > 40 ? `${input.slice(0, 40)}…` : input)}`, () => {
      assert.throws(() => parseReference(input), (err: unknown) => err instanceof InvalidReferenceError && re.test(err.message));
    });
  }
});

describe("reference formatting", () => {
  it("gives the canonical, tagged and familiar forms", () => {
    const r = parseReference("busybox");
    assert.equal(formatReference(r), "docker.io/library/busybox:latest");
    assert.equal(taggedName(r), "docker.io/library/busybox:latest");
    assert.equal(repository(r), "docker.io/library/busybox");
    assert.equal(familiarName(repository(r)), "busybox");
    assert.equal(familiarName("docker.io/user/app"), "user/app");
    assert.equal(familiarName("127.0.0.1:5000/app"), "127.0.0.1:5000/app");
  });

  it("drops a tag beside a digest, as containerd", () => {
    const r = parseReference(`app:1@sha256:${D}`);
    assert.equal(formatReference(r), `docker.io/library/app@sha256:${D}`);
    assert.equal(taggedName(r), undefined);
  });
});
