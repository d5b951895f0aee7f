/**
 * The registry with a real client: skopeo (containers/image) logs in with a
 * login password, pushes OCI and Docker images and an index, inspects,
 * lists tags, copies between repositories (a cross-repository mount),
 * pulls back and deletes. TLS is verified against the test CA (`--cert-dir`).
 * buildah (Debian package buildah) logs in, pulls and pushes when it is
 * installed. containerd's `ctr` is not exercised (containerd is not installed).
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { buildTestImage, type TestImage } from "../../test/support/test-images.js";
import type { LogFields, Logger } from "../machinery/log.js";
import { DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST } from "./manifests.js";
import { startTestRegistryServer, type TestRegistryServer } from "./test-helpers.js";

function recordingLogger(lines: string[]): Logger {
  const l = (msg: string, fields?: LogFields) => lines.push(`${msg} ${JSON.stringify(fields ?? {})}`);
  const logger: Logger = { debug: l, info: l, warn: l, error: l, with: () => logger };
  return logger;
}

async function skopeo(args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile("skopeo", ["--insecure-policy", ...args], { timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

describe("registry with skopeo", () => {
  let t: TestRegistryServer;
  let image: TestImage;
  let multi: TestImage;
  let authfile: string;
  const log: string[] = [];

  before(async () => {
    t = await startTestRegistryServer({ logger: recordingLogger(log), anonymousPull: ["library/**"] });
    authfile = join(t.dir, "auth.json");
    mkdirSync(join(t.dir, "img"));
    mkdirSync(join(t.dir, "multi"));
    image = buildTestImage({ name: "skiff.test/busybox:latest", dir: join(t.dir, "img") });
    multi = buildTestImage({ name: "skiff.test/busybox:multi", dir: join(t.dir, "multi"), platforms: ["linux/amd64", "linux/arm64"] });
  });
  after(async () => {
    image?.cleanup();
    multi?.cleanup();
    await t?.stop();
  });

  it("refuses a push with a wrong password", async () => {
    const r = await skopeo(["copy", "--dest-cert-dir", t.certDir, "--dest-creds", "skiff:wrong", "--retry-times", "0", `oci-archive:${image.path}`, `docker://${t.addr}/skiff/busybox:v1`]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /unauthorized|401|incorrect username or password/i);
  });

  it("logs in with the login password and pushes, inspects, lists, pulls back", async () => {
    const login = await skopeo(["login", "--authfile", authfile, "--cert-dir", t.certDir, "--username", "skiff", "--password-stdin", t.addr], await t.password());
    assert.equal(login.code, 0, login.stderr);
    assert.match(login.stdout, /Login Succeeded/);
    const auth = ["--authfile", authfile];
    const push = await skopeo(["copy", ...auth, "--dest-cert-dir", t.certDir, "--preserve-digests", `oci-archive:${image.path}`, `docker://${t.addr}/skiff/busybox:v1`]);
    assert.equal(push.code, 0, push.stderr);
    const raw = await skopeo(["inspect", ...auth, "--cert-dir", t.certDir, "--raw", `docker://${t.addr}/skiff/busybox:v1`]);
    assert.equal(raw.code, 0, raw.stderr);
    const manifest = JSON.parse(raw.stdout) as { mediaType: string; layers: { digest: string }[] };
    assert.equal(manifest.mediaType, OCI_MANIFEST);
    assert.deepEqual(manifest.layers.map((l) => l.digest), image.layers);
    const insp = await skopeo(["inspect", ...auth, "--cert-dir", t.certDir, `docker://${t.addr}/skiff/busybox:v1`]);
    assert.equal(insp.code, 0, insp.stderr);
    const info = JSON.parse(insp.stdout) as { Digest: string; Os: string; Layers: string[] };
    assert.equal(info.Digest, image.digest);
    assert.equal(info.Os, "linux");
    // Pull back into an OCI layout and compare digests.
    const out = join(t.dir, "pulled");
    const pull = await skopeo(["copy", ...auth, "--src-cert-dir", t.certDir, `docker://${t.addr}/skiff/busybox:v1`, `oci:${out}:v1`]);
    assert.equal(pull.code, 0, pull.stderr);
    const index = JSON.parse(readFileSync(join(out, "index.json"), "utf8")) as { manifests: { digest: string }[] };
    assert.equal(index.manifests[0]?.digest, image.digest);
    for (const l of image.layers) assert.ok(existsSync(join(out, "blobs", "sha256", l.slice(7))), `layer ${l} pulled`);
    // Docker schema2 conversion on push.
    const v2s2 = await skopeo(["copy", ...auth, "--dest-cert-dir", t.certDir, "--format", "v2s2", `oci-archive:${image.path}`, `docker://${t.addr}/skiff/busybox:docker`]);
    assert.equal(v2s2.code, 0, v2s2.stderr);
    const draw = await skopeo(["inspect", ...auth, "--cert-dir", t.certDir, "--raw", `docker://${t.addr}/skiff/busybox:docker`]);
    assert.equal((JSON.parse(draw.stdout) as { mediaType: string }).mediaType, DOCKER_MANIFEST);
    const tags = await skopeo(["list-tags", ...auth, "--cert-dir", t.certDir, `docker://${t.addr}/skiff/busybox`]);
    assert.equal(tags.code, 0, tags.stderr);
    assert.deepEqual((JSON.parse(tags.stdout) as { Tags: string[] }).Tags.sort(), ["docker", "v1"]);
  });

  it("pushes an image index with every platform", async () => {
    const auth = ["--authfile", authfile];
    const push = await skopeo(["copy", ...auth, "--all", "--dest-cert-dir", t.certDir, "--preserve-digests", `oci-archive:${multi.path}`, `docker://${t.addr}/skiff/multi:v1`]);
    assert.equal(push.code, 0, push.stderr);
    const raw = await skopeo(["inspect", ...auth, "--cert-dir", t.certDir, "--raw", `docker://${t.addr}/skiff/multi:v1`]);
    const idx = JSON.parse(raw.stdout) as { mediaType: string; manifests: { platform: { architecture: string } }[] };
    assert.equal(idx.mediaType, OCI_INDEX);
    assert.deepEqual(idx.manifests.map((m) => m.platform.architecture).sort(), ["amd64", "arm64"]);
    const arm = await skopeo(["inspect", ...auth, "--cert-dir", t.certDir, "--override-arch", "arm64", `docker://${t.addr}/skiff/multi:v1`]);
    assert.equal(arm.code, 0, arm.stderr);
    assert.equal((JSON.parse(arm.stdout) as { Architecture: string }).Architecture, "arm64");
  });

  it("copies between repositories of the registry with a cross-repository mount", async () => {
    const auth = ["--authfile", authfile];
    const before = log.filter((l) => l.startsWith("registry blob mounted")).length;
    const r = await skopeo(["copy", ...auth, "--src-cert-dir", t.certDir, "--dest-cert-dir", t.certDir, `docker://${t.addr}/skiff/busybox:v1`, `docker://${t.addr}/library/busybox:v1`]);
    assert.equal(r.code, 0, r.stderr);
    const mounts = log.filter((l) => l.startsWith("registry blob mounted")).slice(before);
    assert.ok(mounts.length > 0, `expected a cross-repository mount, log:\n${log.slice(-20).join("\n")}`);
    // The layers are in skiff/busybox and skiff/multi (same busybox layer): either is a valid source.
    assert.ok(mounts.every((l) => /"repo":"library\/busybox","from":"skiff\/(busybox|multi)"/.test(l)), mounts.join("\n"));
  });

  it("lets anonymous clients pull repositories allowed by anonymousPull, not others", async () => {
    const ok = await skopeo(["inspect", "--no-creds", "--cert-dir", t.certDir, `docker://${t.addr}/library/busybox:v1`]);
    assert.equal(ok.code, 0, ok.stderr);
    const denied = await skopeo(["inspect", "--no-creds", "--cert-dir", t.certDir, `docker://${t.addr}/skiff/busybox:v1`]);
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr, /unauthorized|authentication required/i);
  });

  it("pulls and pushes with buildah (when installed)", async (ctx) => {
    const has = await new Promise<boolean>((resolve) => execFile("buildah", ["--version"], (err) => resolve(!err)));
    if (!has) {
      ctx.skip("buildah (Debian package buildah) is not installed");
      return;
    }
    const root = join(t.dir, "buildah");
    const bauth = join(t.dir, "buildah-auth.json");
    const buildah = (args: string[], input?: string) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        const child = execFile("buildah", ["--root", join(root, "root"), "--runroot", join(root, "run"), "--storage-driver", "vfs", ...args], { timeout: 120_000 }, (err, stdout, stderr) =>
          resolve({ code: err ? 1 : 0, stdout, stderr }),
        );
        if (input !== undefined) child.stdin?.end(input);
      });
    const login = await buildah(["login", "--authfile", bauth, "--cert-dir", t.certDir, "--username", "skiff", "--password-stdin", t.addr], await t.password());
    assert.equal(login.code, 0, login.stderr);
    const pull = await buildah(["pull", "--authfile", bauth, "--cert-dir", t.certDir, `docker://${t.addr}/skiff/busybox:v1`]);
    assert.equal(pull.code, 0, pull.stderr);
    const push = await buildah(["push", "--authfile", bauth, "--cert-dir", t.certDir, `${t.addr}/skiff/busybox:v1`, `docker://${t.addr}/buildah/busybox:pushed`]);
    assert.equal(push.code, 0, push.stderr);
    const insp = await skopeo(["inspect", "--authfile", authfile, "--cert-dir", t.certDir, `docker://${t.addr}/buildah/busybox:pushed`]);
    assert.equal(insp.code, 0, insp.stderr);
    assert.equal((JSON.parse(insp.stdout) as { Layers: string[] }).Layers.length, image.layers.length);
    await buildah(["rmi", "--all", "--force"]);
  });

  it("deletes an image with skopeo delete", async () => {
    const auth = ["--authfile", authfile];
    const del = await skopeo(["delete", ...auth, "--cert-dir", t.certDir, `docker://${t.addr}/skiff/busybox:v1`]);
    assert.equal(del.code, 0, del.stderr);
    const gone = await skopeo(["inspect", ...auth, "--cert-dir", t.certDir, "--raw", `docker://${t.addr}/skiff/busybox:v1`]);
    assert.notEqual(gone.code, 0);
    assert.match(gone.stderr, /manifest unknown/);
    const logout = await skopeo(["logout", "--authfile", authfile, t.addr]);
    assert.equal(logout.code, 0, logout.stderr);
  });
});
