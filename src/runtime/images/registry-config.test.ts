import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { EMPTY_REGISTRY_CONFIG, loadRegistryConfig, parseRegistryConfig, RegistryConfigError, registryEndpoints, rewriteRepository } from "./registry-config.js";

const YAML = `
mirrors:
  docker.io:
    endpoint:
      - "https://mirror.example.com:5000"
      - "http://127.0.0.1:5001/custom/root"
    rewrite:
      "^library/(.*)": "mirrored/$1"
  "127.0.0.1:5000":
    endpoint: ["http://127.0.0.1:5000"]
  "*":
    endpoint: ["fallback.example.com"]
configs:
  "mirror.example.com:5000":
    auth: { username: u, password: p }
    tls: { ca_file: /etc/ca.pem, insecure_skip_verify: false }
  "127.0.0.1:5000":
    auth: { auth: dTI6cDI= }
`;

describe("registries.yaml", () => {
  it("parses k3s' format", () => {
    const c = parseRegistryConfig(YAML);
    assert.deepEqual(c.mirrors["docker.io"]!.endpoint, ["https://mirror.example.com:5000", "http://127.0.0.1:5001/custom/root"]);
    assert.deepEqual(c.mirrors["docker.io"]!.rewrite, { "^library/(.*)": "mirrored/$1" });
    assert.equal(c.configs["mirror.example.com:5000"]!.auth!.username, "u");
    assert.equal(c.configs["mirror.example.com:5000"]!.tls!.caFile, "/etc/ca.pem");
    assert.equal(c.configs["127.0.0.1:5000"]!.auth!.auth, "dTI6cDI=");
  });

  it("rejects what it does not support, naming the field", () => {
    const bad: [string, RegExp][] = [
      ["mirrors: {a: {endpoint: [x], insecure: true}}", /mirrors\["a"\]: unsupported field "insecure"/],
      ["configs: {a: {tls: {cafile: x}}}", /configs\["a"\].tls: unsupported field "cafile"/],
      ["configs: {a: {auth: {token: x}}}", /unsupported field "token"/],
      ["configs: {a: {tls: {insecure_skip_verify: yes-please}}}", /insecure_skip_verify: must be true or false/],
      ["configs: {a: {tls: {cert_file: /c}}}", /cert_file and key_file go together/],
      ["mirrors: {a: {endpoint: ['ftp://x']}}", /scheme must be http or https/],
      ["mirrors: {a: {endpoint: 'http://x'}}", /endpoint: must be a list/],
      ["mirrors: {a: {endpoint: [x], rewrite: {'(': y}}}", /invalid regexp/],
      ["registries: {}", /unsupported field "registries"/],
      ["- a", /must be a mapping/],
    ];
    for (const [text, re] of bad) assert.throws(() => parseRegistryConfig(text), (e: unknown) => e instanceof RegistryConfigError && re.test(e.message), text);
  });

  it("treats a missing or empty file as no configuration", () => {
    const dir = mkdtempSync(join(tmpdir(), "skiff-regcfg-"));
    try {
      assert.deepEqual(loadRegistryConfig(join(dir, "none.yaml")), EMPTY_REGISTRY_CONFIG);
      writeFileSync(join(dir, "empty.yaml"), "");
      assert.deepEqual(loadRegistryConfig(join(dir, "empty.yaml")), EMPTY_REGISTRY_CONFIG);
      writeFileSync(join(dir, "bad.yaml"), "mirrors: [");
      assert.throws(() => loadRegistryConfig(join(dir, "bad.yaml")), RegistryConfigError);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("orders endpoints mirrors first, then the registry itself, with auth and TLS by host", () => {
    const c = parseRegistryConfig(YAML);
    const eps = registryEndpoints(c, "docker.io");
    assert.deepEqual(
      eps.map((e) => e.apiRoot),
      ["https://mirror.example.com:5000/v2", "http://127.0.0.1:5001/custom/root", "https://docker.io/v2"],
    );
    assert.equal(eps[0]!.auth!.username, "u");
    assert.equal(eps[0]!.tls!.caFile, "/etc/ca.pem");
    assert.ok(eps[0]!.rewrite);
    assert.equal(eps[2]!.rewrite, undefined, "no rewrites on the default endpoint");
  });

  it("lets an endpoint on the registry's own host replace the default (a plain-HTTP registry)", () => {
    const eps = registryEndpoints(parseRegistryConfig(YAML), "127.0.0.1:5000");
    assert.deepEqual(eps.map((e) => e.apiRoot), ["http://127.0.0.1:5000/v2"]);
    assert.equal(eps[0]!.auth!.auth, "dTI6cDI=");
  });

  it("applies * to registries without their own entry, and https by default", () => {
    const eps = registryEndpoints(parseRegistryConfig(YAML), "quay.example.org");
    assert.deepEqual(eps.map((e) => e.apiRoot), ["https://fallback.example.com/v2", "https://quay.example.org/v2"]);
    assert.deepEqual(registryEndpoints(EMPTY_REGISTRY_CONFIG, "r.example:444").map((e) => e.apiRoot), ["https://r.example:444/v2"]);
  });

  it("rewrites repositories with the first matching rule", () => {
    const rw = { "^library/(.*)": "mirrored/$1", "^(.*)$": "all/$1" };
    assert.equal(rewriteRepository("library/busybox", rw), "mirrored/busybox");
    assert.equal(rewriteRepository("user/app", rw), "all/user/app");
    assert.equal(rewriteRepository("user/app", undefined), "user/app");
  });
});
