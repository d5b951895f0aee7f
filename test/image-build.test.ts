/**
 * `skiff image build|push|base` against a real `skiff server` and its
 * registry (issue 9, "Build and push"): a two-stage Dockerfile built from
 * the cluster registry (`localhost:PORT/...`, trusted and logged in with no
 * setup) and `scratch`, the layer cache hit on a rebuild, a RUN step in a
 * runc container, the push, and the image read back with skopeo; then the
 * Debian base image written from the cache. Nothing here uses the network
 * beyond loopback; buildah's storage lives in the server's temp data dir and
 * is released (containers removed, nothing left mounted) before it goes.
 */
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { list as listTar } from "tar";
import { buildDir, mountsUnder, releaseBuildStorage } from "../src/image/buildah.js";
import { defaultBaseName } from "../src/image/debian-base.js";
import { baseImage } from "./support/base-images.js";
import { startTestServer, type TestServer } from "./support/cluster.js";
import { repoRoot } from "./support/skiff.js";
import { buildTestImage, freePort, type TestImage } from "./support/test-images.js";

const main = join(repoRoot, "src", "cli", "main.ts");

/** Runs `skiff ARGS…` without blocking the event loop (builds take a while on a loaded machine). */
function skiffAsync(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", main, ...args], { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.once("close", (code) => resolve({ status: code ?? -1, stdout, stderr }));
  });
}

function run(cmd: string, args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { timeout: 240_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** Paths (and file contents for small files) in a gzip layer blob. */
async function layerFiles(file: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  await listTar({
    file,
    onReadEntry: (e) => {
      const chunks: Buffer[] = [];
      e.on("data", (c: Buffer) => {
        if (e.size < 4096) chunks.push(c);
      });
      e.on("end", () => out.set(e.path.replace(/^\.\//, ""), Buffer.concat(chunks).toString()));
    },
  });
  return out;
}

interface OciManifest {
  layers: { digest: string; mediaType: string }[];
  config: { digest: string };
}

describe("skiff image build and push with the cluster registry", () => {
  let server: TestServer;
  let registry: string;
  let work: string;
  let certs: string;
  let creds: string;
  let busybox: TestImage;

  before(async () => {
    const port = await freePort();
    server = await startTestServer(["--registry-port", String(port)]);
    registry = `localhost:${port}`;
    work = mkdtempSync(join(tmpdir(), "skiff-image-build-"));
    certs = join(work, "certs");
    mkdirSync(certs);
    writeFileSync(join(certs, "ca.crt"), readFileSync(join(server.dataDir, "tls", "server-ca.crt")));
    const pw = await skiffAsync(["registry", "login-password", "--data-dir", server.dataDir]);
    assert.equal(pw.status, 0, pw.stderr);
    creds = `skiff:${pw.stdout.trim()}`;
    busybox = buildTestImage({ name: "skiff.test/busybox:1" });
    const push = await run("skopeo", [
      "--insecure-policy",
      "copy",
      "--retry-times",
      "0",
      "--dest-cert-dir",
      certs,
      "--dest-creds",
      creds,
      `oci-archive:${busybox.path}`,
      `docker://${registry}/test/busybox:1`,
    ]);
    assert.equal(push.code, 0, push.stderr);
  });

  after(async () => {
    if (server) {
      releaseBuildStorage(server.dataDir, { images: true });
      const left = mountsUnder(buildDir(server.dataDir));
      await server.stop();
      assert.deepEqual(left, [], "nothing stays mounted under the build storage");
    }
    busybox?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  function context(name: string, dockerfile: string, files: Record<string, string> = {}): string {
    const dir = join(work, name);
    mkdirSync(dir);
    writeFileSync(join(dir, "Dockerfile"), dockerfile);
    for (const [f, body] of Object.entries(files)) writeFileSync(join(dir, f), body);
    return dir;
  }

  it("builds two stages from the cluster registry and scratch, pushes, and skopeo pulls the layers back", async () => {
    const dir = context(
      "two-stage",
      [
        `FROM ${registry}/test/busybox:1 AS files`,
        "COPY hello.txt /srv/hello.txt",
        "",
        "FROM scratch",
        "COPY --from=files /bin/busybox /bin/busybox",
        "COPY --from=files /srv/hello.txt /srv/hello.txt",
        'CMD ["/bin/busybox", "cat", "/srv/hello.txt"]',
        "",
      ].join("\n"),
      { "hello.txt": "hello from skiff image build\n" },
    );
    const name = `${registry}/test/app:1`;
    const first = await skiffAsync(["image", "build", "-t", name, "--data-dir", server.dataDir, dir]);
    assert.equal(first.status, 0, `first build failed:\n${first.stdout}\n${first.stderr}`);
    assert.match(first.stdout, /STEP 1\/\d+: FROM localhost:\d+\/test\/busybox:1 AS files/, "buildah's steps are shown");
    assert.doesNotMatch(first.stdout, /Using cache/);
    assert.equal(mountsUnder(buildDir(server.dataDir)).length, 0, "a finished build leaves nothing mounted");

    const second = await skiffAsync(["image", "build", "-t", name, "--data-dir", server.dataDir, dir]);
    assert.equal(second.status, 0, second.stderr);
    assert.match(second.stdout, /Using cache/, "the rebuild reuses cached layers");
    const id = (s: string) => s.trim().split("\n").pop();
    assert.equal(id(second.stdout), id(first.stdout), "the rebuild yields the same image");

    const push = await skiffAsync(["image", "push", name, "--data-dir", server.dataDir]);
    assert.equal(push.status, 0, push.stderr);
    assert.match(push.stderr, /Copying blob|Writing manifest/, "push progress is shown");
    const pushed = push.stdout.trim();
    assert.match(pushed, new RegExp(`^${registry}/test/app@sha256:[0-9a-f]{64}$`), "push prints the pinned name");

    const layout = join(work, "pulled");
    const pull = await run("skopeo", [
      "--insecure-policy",
      "copy",
      "--retry-times",
      "0",
      "--src-cert-dir",
      certs,
      "--src-creds",
      creds,
      `docker://${pushed}`,
      `oci:${layout}:app`,
    ]);
    assert.equal(pull.code, 0, pull.stderr);
    const index = JSON.parse(readFileSync(join(layout, "index.json"), "utf8")) as { manifests: { digest: string }[] };
    const blob = (d: string) => join(layout, "blobs", "sha256", d.replace(/^sha256:/, ""));
    const manifest = JSON.parse(readFileSync(blob(index.manifests[0]!.digest), "utf8")) as OciManifest;
    assert.equal(manifest.layers.length, 2, "one layer per COPY of the last stage, nothing from the first stage's base");
    const [bin, srv] = await Promise.all(manifest.layers.map((l) => layerFiles(blob(l.digest))));
    assert.ok(bin!.has("bin/busybox"), `first layer: ${[...bin!.keys()].join(", ")}`);
    assert.ok(!bin!.has("srv/hello.txt"));
    assert.equal(srv!.get("srv/hello.txt"), "hello from skiff image build\n");
    const config = JSON.parse(readFileSync(blob(manifest.config.digest), "utf8")) as { config: { Cmd: string[] } };
    assert.deepEqual(config.config.Cmd, ["/bin/busybox", "cat", "/srv/hello.txt"]);
  });

  it("runs RUN steps in a runc container", async () => {
    const dir = context("run-step", [`FROM ${registry}/test/busybox:1`, "RUN echo ran in $(cat /proc/1/comm) > /ran.txt && ls /ran.txt", ""].join("\n"));
    const name = `${registry}/test/run:1`;
    const build = await skiffAsync(["image", "build", "-t", name, "--data-dir", server.dataDir, dir]);
    assert.equal(build.status, 0, `${build.stdout}\n${build.stderr}`);
    assert.match(build.stdout, /STEP 2\/2: RUN echo ran/);
    const push = await skiffAsync(["image", "push", name, "--data-dir", server.dataDir]);
    assert.equal(push.status, 0, push.stderr);
    const layout = join(work, "pulled-run");
    const pull = await run("skopeo", ["--insecure-policy", "copy", "--src-cert-dir", certs, "--src-creds", creds, `docker://${name}`, `oci:${layout}:run`]);
    assert.equal(pull.code, 0, pull.stderr);
    const index = JSON.parse(readFileSync(join(layout, "index.json"), "utf8")) as { manifests: { digest: string }[] };
    const blob = (d: string) => join(layout, "blobs", "sha256", d.replace(/^sha256:/, ""));
    const manifest = JSON.parse(readFileSync(blob(index.manifests[0]!.digest), "utf8")) as OciManifest;
    assert.equal(manifest.layers.length, 2, "the busybox layer and the RUN step's");
    const top = await layerFiles(blob(manifest.layers[1]!.digest));
    assert.match(top.get("ran.txt") ?? "", /^ran in \S+\n$/);
  });

  it("says plainly when an image is not built, the registry is unreachable, or a short name has nowhere to come from", async () => {
    const missing = await skiffAsync(["image", "push", `${registry}/test/never-built:1`, "--data-dir", server.dataDir]);
    assert.notEqual(missing.status, 0);
    assert.match(missing.stderr, /is not built here.*skiff image build -t/);

    const dir = context("unreachable", "FROM scratch\nCOPY x /x\n", { x: "x\n" });
    const closed = await freePort();
    const name = `localhost:${closed}/test/x:1`;
    const build = await skiffAsync(["image", "build", "-t", name, "--data-dir", server.dataDir, dir]);
    assert.equal(build.status, 0, build.stderr);
    const push = await skiffAsync(["image", "push", name, "--data-dir", server.dataDir]);
    assert.notEqual(push.status, 0);
    assert.match(push.stderr, new RegExp(`registry localhost:${closed} is unreachable`));

    const short = context("short-name", "FROM debian\n");
    const r = await skiffAsync(["image", "build", "-t", `${registry}/test/short:1`, "--data-dir", server.dataDir, short]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /name images fully/);
  });

  it("refuses a push with wrong credentials as unauthorized", async () => {
    const name = `${registry}/test/app:1`;
    const r = await skiffAsync(["image", "push", name, "--creds", "skiff:not-a-password", "--data-dir", server.dataDir]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /unauthorized at registry localhost:\d+/);
  });

  it("writes the cached Debian base image as an OCI archive and pushes it, with no network", async (t) => {
    const cached = await baseImage(t);
    if (!cached) return;
    const cacheDir = join(cached.archive, "..", "..");
    const out = join(work, "debian.oci.tar");
    const name = `${registry}/skiff/debian:bookworm`;
    assert.equal(name, defaultBaseName({ suite: "bookworm", packages: [] }, registry));
    const r = await skiffAsync(["image", "base", "--cache-dir", cacheDir, "--registry", registry, "--output", out, "--data-dir", server.dataDir]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /using the cached image/);
    assert.equal(r.stdout.trim(), `${registry}/skiff/debian@${cached.info.digest}`);
    assert.ok(existsSync(out));
    const local = await run("skopeo", ["--insecure-policy", "inspect", `oci-archive:${out}`]);
    assert.equal(local.code, 0, local.stderr);
    const info = JSON.parse(local.stdout) as { Labels: Record<string, string>; Layers: string[]; Os: string };
    assert.equal(info.Labels["io.skiff.debian.suite"], "bookworm");
    assert.equal(info.Layers.length, 1);
    assert.equal(info.Os, "linux");
    // skiff's own importer reads it under the name asked for (the node image store of a scratch data dir).
    const node = join(work, "node");
    const imported = await skiffAsync(["image", "import", out, "--data-dir", node]);
    assert.equal(imported.status, 0, imported.stderr);
    assert.match(imported.stdout, new RegExp(`unpacking ${registry}/skiff/debian:bookworm `));
    const remote = await run("skopeo", ["--insecure-policy", "inspect", "--cert-dir", certs, "--creds", creds, `docker://${name}`]);
    assert.equal(remote.code, 0, remote.stderr);
    assert.equal((JSON.parse(remote.stdout) as { Digest: string }).Digest, cached.info.digest);
  });
});
