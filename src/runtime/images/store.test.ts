/**
 * The image store against Debian's docker-registry (distribution v2):
 * plain HTTP through registries.yaml, htpasswd (Basic) auth, token
 * (Bearer) auth and TLS; manifest lists; archive imports; removal; GC.
 * Registries run on free loopback ports and are stopped by PID.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, lstatSync, readdirSync, readlinkSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { FakeClock } from "../../machinery/clock.js";
import type { RuntimeResult } from "../types.js";
import { buildTestImage, pushImage, startTestRegistry, type TestImage, type TestRegistry, tempDir } from "../../../test/support/test-images.js";
import { FileImageStore, type FileImageStoreOptions } from "./store.js";

function value<T>(r: RuntimeResult<T>, what: string): T {
  if (!r.ok) assert.fail(`${what}: ${r.error.code}: ${r.error.message}`);
  return r.value;
}

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

let storeDir: string;
before(() => {
  storeDir = tempDir("store");
  cleanups.push(() => rmSync(storeDir, { recursive: true, force: true }));
});
let n = 0;
function newStore(opts: Partial<FileImageStoreOptions> = {}): FileImageStore {
  return new FileImageStore({ root: join(storeDir, `s${n++}`), platform: { os: "linux", architecture: "amd64" }, ...opts });
}

function image(opts: Parameters<typeof buildTestImage>[0] = {}): TestImage {
  const img = buildTestImage(opts);
  cleanups.push(() => img.cleanup());
  return img;
}

async function registry(opts: Parameters<typeof startTestRegistry>[0] = {}): Promise<TestRegistry> {
  const reg = await startTestRegistry(opts);
  cleanups.push(() => reg.stop());
  return reg;
}

describe("pull from docker-registry", () => {
  let reg: TestRegistry;
  let busybox: TestImage;
  let multi: TestImage;
  before(async () => {
    reg = await registry();
    busybox = image({ cmd: ["echo", "hello"], env: ["GREETING=hi"], workingDir: "/tmp", user: "65534", stopSignal: "SIGQUIT" });
    multi = image({ name: "skiff.test/multi:1", platforms: ["linux/amd64", "linux/arm64"] });
    await pushImage(busybox, `${reg.host}/busybox:1`);
    await pushImage(multi, `${reg.host}/multi:1`);
  });

  it("pulls a busybox image over plain HTTP configured in registries.yaml, ready to run", async () => {
    const store = newStore({ registryConfig: reg.registryConfig() });
    const ref = `${reg.host}/busybox:1`;
    const pulled = value(await store.pullImage(ref), "pull");
    assert.equal(pulled, `${reg.host}/busybox@${busybox.digest}`);
    const st = value(await store.imageStatus(ref), "status");
    assert.ok(st);
    assert.equal(st.id, busybox.id);
    assert.deepEqual(st.repoTags, [ref]);
    assert.deepEqual(st.repoDigests, [pulled]);
    assert.ok(st.size > 500_000, `size ${st.size}`);
    for (const alias of [busybox.id, busybox.id.slice(7), busybox.id.slice(7, 19), pulled]) {
      assert.equal(value(await store.imageStatus(alias), alias)?.id, busybox.id, alias);
    }
    const resolved = await store.resolve(ref);
    assert.ok(resolved);
    assert.equal(resolved.imageRef, pulled);
    assert.deepEqual(resolved.config, {
      entrypoint: [],
      cmd: ["echo", "hello"],
      env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "GREETING=hi"],
      workingDir: "/tmp",
      user: "65534",
      stopSignal: "SIGQUIT",
      volumes: [],
    });
    const [rootfs] = resolved.lowerDirs;
    assert.ok(rootfs);
    assert.equal(readlinkSync(join(rootfs, "bin/sh")), "busybox");
    assert.equal(lstatSync(join(rootfs, "tmp")).mode & 0o7777, 0o1777);
    const out = execFileSync("chroot", [rootfs, "/bin/sh", "-c", "echo hello from $(id -u) && cat /etc/passwd | head -1"], { encoding: "utf8" });
    assert.equal(out, "hello from 0\nroot:x:0:0:root:/root:/bin/sh\n");
    // Pulling again is a no-op that gives the same reference.
    assert.equal(value(await store.pullImage(ref), "pull again"), pulled);
    assert.equal(value(await store.listImages(), "list").length, 1);
  });

  it("picks this platform from a manifest list and records the list's digest", async () => {
    const store = newStore({ registryConfig: reg.registryConfig() });
    const pulled = value(await store.pull(`${reg.host}/multi:1`), "pull");
    assert.equal(pulled, `${reg.host}/multi@${multi.digest}`);
    const st = value(await store.imageStatus(`${reg.host}/multi:1`), "status");
    assert.equal(st?.id, multi.ids["linux/amd64"]);
    const arm = newStore({ registryConfig: reg.registryConfig(), platform: { os: "linux", architecture: "arm64", variant: "v8" } });
    value(await arm.pull(`${reg.host}/multi:1`), "pull arm64");
    assert.equal(value(await arm.imageStatus(`${reg.host}/multi:1`), "status")?.id, multi.ids["linux/arm64"]);
    const s390 = newStore({ registryConfig: reg.registryConfig(), platform: { os: "linux", architecture: "s390x" } });
    const none = await s390.pull(`${reg.host}/multi:1`);
    assert.ok(!none.ok && none.error.code === "NotFound" && /no match for platform in manifest: linux\/s390x: not found/.test(none.error.message));
  });

  it("pulls Docker v2 schema 2 manifests (what skopeo makes of a docker-archive)", async () => {
    const docker = image({ name: "skiff.test/dockerv2:1", format: "docker", cmd: ["docker-v2"] });
    await pushImage(docker, `${reg.host}/dockerv2:1`);
    const res = await fetch(`${reg.url}/v2/dockerv2/manifests/1`, { headers: { Accept: "application/vnd.docker.distribution.manifest.v2+json" } });
    assert.equal(res.headers.get("content-type"), "application/vnd.docker.distribution.manifest.v2+json");
    await res.arrayBuffer();
    const store = newStore({ registryConfig: reg.registryConfig() });
    value(await store.pull(`${reg.host}/dockerv2:1`), "pull");
    const r = await store.resolve(`${reg.host}/dockerv2:1`);
    assert.equal(r?.id, docker.id);
    assert.deepEqual(r?.config.cmd, ["docker-v2"]);
  });

  it("fails a missing image with NotFound as containerd words it", async () => {
    const store = newStore({ registryConfig: reg.registryConfig() });
    const ref = `${reg.host}/missing:1`;
    assert.deepEqual(await store.pull(ref), {
      ok: false,
      error: { code: "NotFound", message: `failed to pull and unpack image "${ref}": failed to resolve reference "${ref}": ${ref}: not found` },
    });
    assert.equal(value(await store.imageStatus(ref), "status"), undefined);
    const tagMissing = await store.pull(`${reg.host}/busybox:nope`);
    assert.ok(!tagMissing.ok && tagMissing.error.code === "NotFound");
  });

  it("refuses plain HTTP to a registry not configured for it", async () => {
    const store = newStore();
    const r = await store.pull(`${reg.host}/busybox:1`);
    assert.ok(!r.ok);
    assert.notEqual(r.error.code, "NotFound");
    assert.match(r.error.message, /failed to do request: Get "https:\/\/127\.0\.0\.1:\d+\/v2\/busybox\/manifests\/1"/);
  });
});

describe("registry authentication", () => {
  const user = { username: "skiff", password: "s3cret:with-colon" };

  it("Basic (htpasswd): 401 without or with wrong credentials, pulls with the pull's or the config's", async () => {
    const reg = await registry({ auth: "htpasswd", users: [user] });
    const img = image();
    await pushImage(img, `${reg.host}/private:1`, { creds: user });
    const ref = `${reg.host}/private:1`;
    const anon = await newStore({ registryConfig: reg.registryConfig() }).pull(ref);
    assert.deepEqual(anon, {
      ok: false,
      error: {
        code: "Unauthenticated",
        message: `failed to pull and unpack image "${ref}": failed to resolve reference "${ref}": unexpected status from GET request to ${reg.url}/v2/private/manifests/1: 401 Unauthorized`,
      },
    });
    const wrong = await newStore({ registryConfig: reg.registryConfig() }).pullImage(ref, { username: "skiff", password: "wrong" });
    assert.ok(!wrong.ok && wrong.error.code === "Unauthenticated");
    value(await newStore({ registryConfig: reg.registryConfig() }).pullImage(ref, { username: user.username, password: user.password }), "pull with AuthConfig");
    const auth = Buffer.from(`${user.username}:${user.password}`).toString("base64");
    value(await newStore({ registryConfig: reg.registryConfig() }).pullImage(ref, { auth }), "pull with AuthConfig.auth");
    value(await newStore({ registryConfig: reg.registryConfig({ auth: user }) }).pull(ref), "pull with registries.yaml credentials");
  });

  it("Bearer: fetches a token from the realm with the credentials, scoped to the repository", async () => {
    const reg = await registry({ auth: "token", users: [user] });
    const img = image();
    await pushImage(img, `${reg.host}/tokened:1`, { creds: user });
    const ref = `${reg.host}/tokened:1`;
    reg.tokenRequests.length = 0;
    const store = newStore({ registryConfig: reg.registryConfig({ auth: user }) });
    value(await store.pull(ref), "pull with token");
    assert.deepEqual(reg.tokenRequests, [{ user: "skiff", scope: "repository:tokened:pull" }], "one token for the whole pull");
    const anon = await newStore({ registryConfig: reg.registryConfig() }).pull(ref);
    assert.ok(!anon.ok);
    assert.equal(anon.error.code, "Unauthenticated");
    // A token without access: the registry's insufficient_scope becomes containerd's "pull access denied".
    assert.equal(
      anon.error.message,
      `failed to pull and unpack image "${ref}": failed to resolve reference "${ref}": pull access denied, repository does not exist or may require authorization: server message: insufficient_scope: authorization failed`,
    );
    const wrong = await newStore({ registryConfig: reg.registryConfig() }).pullImage(ref, { username: "skiff", password: "nope" });
    assert.ok(!wrong.ok);
    assert.equal(wrong.error.code, "Unauthenticated");
    assert.match(wrong.error.message, /failed to authorize: failed to fetch token: unexpected status from GET request to http:\/\/127\.0\.0\.1:\d+\/token\?.*: 401 Unauthorized$/);
  });

  it("TLS: verifies the registry against ca_file, or skips verification when configured", async () => {
    const reg = await registry({ tls: true });
    const img = image();
    await pushImage(img, `${reg.host}/secure:1`);
    const ref = `${reg.host}/secure:1`;
    const untrusted = await newStore().pull(ref);
    assert.ok(!untrusted.ok);
    assert.equal(untrusted.error.code, "Unknown");
    assert.match(untrusted.error.message, /certificate/i);
    value(await newStore({ registryConfig: reg.registryConfig({ caFile: reg.caFile }) }).pull(ref), "pull with ca_file");
    value(await newStore({ registryConfig: reg.registryConfig({ insecureSkipVerify: true }) }).pull(ref), "pull with insecure_skip_verify");
  });
});

describe("archives, listing, removal and GC", () => {
  it("imports OCI layouts and docker-archives, tar and tar.gz", async () => {
    const store = newStore();
    const cases = [
      image({ name: "skiff.test/oci:1", cmd: ["oci"] }),
      image({ name: "skiff.test/oci-gz:1", cmd: ["oci-gz"], gzipArchive: true, layerCompression: "none" }),
      image({ name: "docker-arch:1", format: "docker", cmd: ["docker"] }),
      image({ name: "127.0.0.1:5000/docker-gz:2", format: "docker", gzipArchive: true, cmd: ["docker-gz"] }),
    ];
    const want = ["skiff.test/oci:1", "skiff.test/oci-gz:1", "docker.io/library/docker-arch:1", "127.0.0.1:5000/docker-gz:2"];
    for (const [i, img] of cases.entries()) {
      assert.deepEqual(value(await store.importArchive(img.path), img.path), [want[i]]);
      const r = await store.resolve(want[i]!);
      assert.ok(r, want[i]);
      assert.equal(r.id, img.id);
      assert.deepEqual(r.config.cmd, [["oci", "oci-gz", "docker", "docker-gz"][i]]);
      assert.ok(existsSync(join(r.lowerDirs[0]!, "bin/busybox")));
    }
    const list = value(await store.listImages(), "list");
    assert.deepEqual(list.map((i) => i.repoTags[0]).sort(), [...want].sort());
    const oci = list.find((i) => i.repoTags[0] === "skiff.test/oci:1")!;
    assert.deepEqual(oci.repoDigests, [`skiff.test/oci@${cases[0]!.digest}`]);
    // Images with the same layers share one root filesystem.
    const roots = new Set(await Promise.all(want.map(async (w) => (await store.resolve(w))!.lowerDirs[0])));
    assert.equal(roots.size, 1);
    // Re-importing moves nothing and keeps one image per id.
    value(await store.importArchive(cases[0]!.path), "re-import");
    assert.equal(value(await store.listImages(), "list").length, 4);
  });

  it("rejects what is not an image archive, and a missing file", async () => {
    const store = newStore();
    const dir = tempDir("notimage");
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const notImage = join(dir, "x.tar");
    execFileSync("tar", ["-cf", notImage, "-C", dir, "."]);
    const r = await store.importArchive(notImage);
    assert.ok(!r.ok && r.error.code === "InvalidArgument" && /not an image archive/.test(r.error.message));
    const missing = await store.importArchive(join(dir, "missing.tar"));
    assert.ok(!missing.ok && missing.error.code === "NotFound");
  });

  it("moves a tag to the image imported last, and removes images with their unshared content", async () => {
    const root = join(storeDir, `s${n++}`);
    const store = new FileImageStore({ root });
    const a = image({ name: "skiff.test/app:1", extraFiles: { "/app": "a" } });
    const b = image({ name: "skiff.test/app:1", extraFiles: { "/app": "b" } });
    value(await store.importArchive(a.path), "import a");
    value(await store.importArchive(b.path), "import b");
    const list = value(await store.listImages(), "list");
    assert.deepEqual(list.find((i) => i.id === a.id)?.repoTags, []);
    assert.deepEqual(list.find((i) => i.id === b.id)?.repoTags, ["skiff.test/app:1"]);
    assert.equal(readdirSync(join(root, "snapshots")).length, 2);
    const blobsBefore = readdirSync(join(root, "blobs/sha256")).length;
    value(await store.removeImage(a.id), "remove a");
    assert.equal(value(await store.imageStatus(a.id), "status a"), undefined);
    assert.equal(readdirSync(join(root, "snapshots")).length, 1);
    assert.equal(readdirSync(join(root, "blobs/sha256")).length, blobsBefore - 3, "a's manifest, config and layer are gone");
    value(await store.removeImage("skiff.test/app:1"), "remove b by tag");
    value(await store.removeImage("skiff.test/app:1"), "removing what is gone succeeds");
    assert.deepEqual(value(await store.listImages(), "list"), []);
    assert.deepEqual(readdirSync(join(root, "snapshots")), []);
    assert.deepEqual(readdirSync(join(root, "blobs/sha256")), []);
  });

  it("garbage-collects unused images least recently used first, down to the low threshold", async () => {
    const clock = new FakeClock();
    let stats = { capacityBytes: 100_000_000, availableBytes: 50_000_000 };
    const store = newStore({ clock, fsStats: async () => stats });
    const imgs = ["a", "b", "c", "d"].map((x) => image({ name: `skiff.test/gc-${x}:1`, extraFiles: { "/which": x } }));
    for (const img of imgs) {
      value(await store.importArchive(img.path), img.name);
      clock.advance(1000);
    }
    const [a, b, c, d] = imgs as [TestImage, TestImage, TestImage, TestImage];
    // b was used by a container a while ago; a and c never; d is in use now.
    clock.advance(1000);
    await store.resolve(b.name);
    clock.advance(1000);
    const under = value(await store.garbageCollect({ inUse: new Set([d.id]) }), "gc under threshold");
    assert.deepEqual(under, { usagePercent: 50, amountToFree: 0, freedBytes: 0, removed: [] });
    // 81% used, over a high threshold of 81: one byte to free to reach 80%, so exactly one image goes.
    const sizes = new Map(value(await store.listImages(), "list").map((i) => [i.id, i.size]));
    stats = { capacityBytes: 100_000_000, availableBytes: 20_000_000 - 1 };
    const one = value(await store.garbageCollect({ inUse: new Set([d.id]), highThresholdPercent: 81, lowThresholdPercent: 80 }), "gc one");
    assert.equal(one.amountToFree, 1);
    assert.deepEqual(one.removed, [a.id], "never used, detected first");
    assert.equal(one.freedBytes, sizes.get(a.id));
    // Wanting more than what is eligible: everything unused goes, in LRU order, then the kubelet's error.
    stats = { capacityBytes: 100_000_000, availableBytes: 1_000_000 };
    const short = await store.garbageCollect({ inUse: new Set([d.id]), highThresholdPercent: 90, lowThresholdPercent: 10 });
    assert.ok(!short.ok);
    assert.equal(short.error.code, "ResourceExhausted");
    const freed = sizes.get(b.id)! + sizes.get(c.id)!;
    assert.equal(short.error.message, `Failed to garbage collect required amount of images. Attempted to free ${89_000_000} bytes, but only found ${freed} bytes eligible to free.`);
    assert.deepEqual(value(await store.listImages(), "list").map((i) => i.id), [d.id]);
    const invalid = await store.garbageCollect({ inUse: new Set(), highThresholdPercent: 50, lowThresholdPercent: 60 });
    assert.ok(!invalid.ok && invalid.error.code === "InvalidArgument");
  });
});
