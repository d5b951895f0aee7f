import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { chainId, sha256Digest } from "./digest.js";
import { layerCompression, MediaType, parseImageConfig, parseManifest, selectPlatform } from "./manifest.js";

const d = (c: string) => `sha256:${c.repeat(64)}`;

describe("manifests", () => {
  it("parses OCI and Docker manifests and indexes, by body mediaType, header or shape", () => {
    const m = { schemaVersion: 2, config: { mediaType: MediaType.OciConfig, digest: d("a"), size: 1 }, layers: [{ mediaType: MediaType.OciLayerGzip, digest: d("b"), size: 2 }] };
    const parsed = parseManifest(Buffer.from(JSON.stringify(m)), undefined);
    assert.ok(parsed.ok && parsed.value.kind === "manifest" && parsed.value.layers.length === 1);
    const docker = parseManifest(Buffer.from(JSON.stringify({ ...m, mediaType: MediaType.DockerManifest })), "application/json");
    assert.ok(docker.ok && docker.value.mediaType === MediaType.DockerManifest);
    const list = parseManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: [] })), MediaType.DockerManifestList);
    assert.ok(list.ok && list.value.kind === "index" && list.value.mediaType === MediaType.DockerManifestList);
  });

  it("rejects schema 1, bad digests and unknown types clearly", () => {
    const s1 = parseManifest(Buffer.from(JSON.stringify({ schemaVersion: 1, name: "x" })), MediaType.DockerSchema1Signed);
    assert.ok(!s1.ok && s1.error.code === "Unimplemented" && /schema 1/.test(s1.error.message));
    const bad = parseManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, config: { mediaType: "x", digest: "md5:abc", size: 1 }, layers: [] })), MediaType.OciManifest);
    assert.ok(!bad.ok && /unsupported digest algorithm md5/.test(bad.error.message));
    const unknown = parseManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.example+json" })), undefined);
    assert.ok(!unknown.ok && unknown.error.code === "Unimplemented");
    assert.ok(!parseManifest(Buffer.from("{"), undefined).ok);
  });

  it("picks the platform's manifest from an index", () => {
    const index = {
      kind: "index" as const,
      mediaType: MediaType.OciIndex,
      manifests: [
        { mediaType: MediaType.OciManifest, digest: d("1"), size: 1, platform: { os: "linux", architecture: "arm", variant: "v6" } },
        { mediaType: MediaType.OciManifest, digest: d("2"), size: 1, platform: { os: "linux", architecture: "arm", variant: "v7" } },
        { mediaType: MediaType.OciManifest, digest: d("3"), size: 1, platform: { os: "linux", architecture: "amd64" } },
        { mediaType: MediaType.OciManifest, digest: d("4"), size: 1, platform: { os: "unknown", architecture: "unknown" } },
        { mediaType: MediaType.OciManifest, digest: d("5"), size: 1, platform: { os: "linux", architecture: "arm64" } },
      ],
    };
    assert.equal(selectPlatform(index, { os: "linux", architecture: "amd64" })?.digest, d("3"));
    assert.equal(selectPlatform(index, { os: "linux", architecture: "arm", variant: "v7" })?.digest, d("2"));
    assert.equal(selectPlatform(index, { os: "linux", architecture: "arm64", variant: "v8" })?.digest, d("5"));
    assert.equal(selectPlatform(index, { os: "linux", architecture: "s390x" }), undefined);
  });

  it("knows which layers it can unpack", () => {
    assert.deepEqual(layerCompression(MediaType.DockerLayerGzip), { ok: true, value: "gzip" });
    assert.deepEqual(layerCompression(MediaType.OciLayer), { ok: true, value: "none" });
    const z = layerCompression(MediaType.OciLayerZstd);
    assert.ok(!z.ok && /zstd/.test(z.error.message));
    assert.ok(!layerCompression("application/vnd.cncf.helm.chart.content.v1.tar+gzip").ok);
  });

  it("reads the run config from an image config", () => {
    const cfg = parseImageConfig(
      Buffer.from(
        JSON.stringify({
          os: "linux",
          architecture: "amd64",
          config: { Entrypoint: ["/e"], Cmd: ["c"], Env: ["A=1"], WorkingDir: "/w", User: "1000:1000", StopSignal: "SIGQUIT", Volumes: { "/data": {} } },
          rootfs: { type: "layers", diff_ids: [d("a")] },
        }),
      ),
    );
    assert.ok(cfg.ok);
    assert.deepEqual(cfg.value.run, { entrypoint: ["/e"], cmd: ["c"], env: ["A=1"], workingDir: "/w", user: "1000:1000", stopSignal: "SIGQUIT", volumes: ["/data"] });
    const bad = parseImageConfig(Buffer.from(JSON.stringify({ rootfs: { type: "layers", diff_ids: ["nope"] } })));
    assert.ok(!bad.ok && /diff_ids/.test(bad.error.message));
  });

  it("computes chain ids", () => {
    assert.equal(chainId([d("a")]), d("a"));
    assert.equal(chainId([d("a"), d("b")]), sha256Digest(`${d("a")} ${d("b")}`));
  });
});
