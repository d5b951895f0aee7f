/**
 * containerd's `ctr images pull` against the registry `skiff server` runs
 * (issue 9), by the name the cluster publishes (`localhost:PORT`, read from
 * KEP-1755's ConfigMap), trusting only the cluster CA through a hosts.toml:
 * with a login password (username `skiff`), for an OCI manifest, an OCI
 * image index and a Docker manifest; and as a node, with nothing but the
 * node's client certificate (which anonymous ctr cannot match).
 *
 * containerd is a private instance: its own root, state and socket under
 * /tmp/skiff-ctr-*, no CRI plugin, the native snapshotter (no mounts), and
 * it is started and stopped by PID.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { issueCertificate } from "../src/pki/certs.js";
import { startTestServer, type TestServer } from "./support/cluster.js";
import { eventually } from "./support/eventually.js";
import { skiff, stopProcess } from "./support/skiff.js";
import { buildTestImage, pushImage, type TestImage } from "./support/test-images.js";

/** Mount points at or under `dir`. */
function mountsUnder(dir: string): string[] {
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((l) => l.split(" ")[4] ?? "")
    .filter((m) => m === dir || m.startsWith(`${dir}/`));
}

describe("ctr images pull from the cluster registry", () => {
  let server: TestServer;
  let work: string;
  let containerd: ChildProcess | undefined;
  let containerdLog = "";
  let sock: string;
  let name: string;
  let password: string;
  const images: TestImage[] = [];

  function ctr(args: string[]): { status: number; stdout: string; stderr: string } {
    const r = spawnSync("ctr", ["--address", sock, ...args], { encoding: "utf8", timeout: 120_000 });
    return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  }

  /** `hosts-dir/localhost:PORT/hosts.toml` trusting the cluster CA, with extra lines for the host. */
  function hostsDir(dir: string, extra: string[] = []): string {
    const hosts = join(work, dir);
    mkdirSync(join(hosts, name), { recursive: true });
    const ca = join(server.dataDir, "tls", "server-ca.crt");
    // containerd 1.6 insists on a [host] table (a bare top-level `ca` fails to parse there).
    writeFileSync(
      join(hosts, name, "hosts.toml"),
      [`server = "https://${name}"`, `[host."https://${name}"]`, '  capabilities = ["pull", "resolve"]', `  ca = ${JSON.stringify(ca)}`, ...extra.map((l) => `  ${l}`), ""].join("\n"),
    );
    return hosts;
  }

  /** The `ctr images ls` row of `ref`: [ref, type, digest, …]. */
  function listed(ref: string): string[] | undefined {
    const ls = ctr(["images", "ls"]);
    assert.equal(ls.status, 0, ls.stderr);
    return ls.stdout
      .split("\n")
      .map((l) => l.trim().split(/\s+/))
      .find((cols) => cols[0] === ref);
  }

  before(async () => {
    server = await startTestServer();
    work = mkdtempSync(join(tmpdir(), "skiff-ctr-"));
    // The name to push to and pull by, as the cluster publishes it.
    const published = await eventually("the local-registry-hosting ConfigMap", () => {
      const r = server.kubectl(["get", "configmap", "-n", "kube-public", "local-registry-hosting", "-o", "jsonpath={.data.localRegistryHosting\\.v1}"]);
      return r.status === 0 && r.stdout !== "" ? r.stdout : undefined;
    });
    name = /^host: "(localhost:\d+)"$/m.exec(published)?.[1] ?? assert.fail(`no host in ${published}`);
    const pw = skiff(["registry", "login-password", "--data-dir", server.dataDir]);
    assert.equal(pw.status, 0, pw.stderr);
    password = pw.stdout.trim();
    const creds = { username: "skiff", password };
    const single = buildTestImage({ name: "skiff.test/busybox:1" });
    const index = buildTestImage({ name: "skiff.test/multi:1", platforms: ["linux/amd64", "linux/arm64"] });
    const docker = buildTestImage({ name: "skiff.test/docker:1", format: "docker" });
    images.push(single, index, docker);
    await pushImage(single, `${name}/team/busybox:1`, { creds });
    await pushImage(index, `${name}/team/multi:1`, { creds });
    await pushImage(docker, `${name}/team/docker:1`, { creds });

    // A private containerd: nothing shared with one the machine may run.
    sock = join(work, "containerd.sock");
    const config = join(work, "config.toml");
    writeFileSync(
      config,
      [
        "version = 2",
        `root = ${JSON.stringify(join(work, "root"))}`,
        `state = ${JSON.stringify(join(work, "state"))}`,
        'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
        "[grpc]",
        `  address = ${JSON.stringify(sock)}`,
        "[ttrpc]",
        `  address = ${JSON.stringify(`${sock}.ttrpc`)}`,
        "[metrics]",
        '  address = ""',
        '[plugins."io.containerd.internal.v1.opt"]',
        `  path = ${JSON.stringify(join(work, "opt"))}`,
        "",
      ].join("\n"),
    );
    containerd = spawn("containerd", ["--config", config], { stdio: ["ignore", "ignore", "pipe"] });
    containerd.stderr?.on("data", (d: Buffer) => {
      containerdLog = (containerdLog + d.toString()).slice(-20_000);
    });
    await eventually("containerd to answer", () => (ctr(["version"]).status === 0 ? true : undefined), 60_000).catch((err: Error) => {
      throw new Error(`${err.message}\n--- containerd log ---\n${containerdLog}`);
    });
  });

  after(async () => {
    if (containerd) await stopProcess(containerd);
    if (work) {
      for (const m of mountsUnder(work).reverse()) spawnSync("umount", ["-l", m]);
      assert.deepEqual(mountsUnder(work), [], "containerd left mounts");
      rmSync(work, { recursive: true, force: true });
    }
    for (const i of images) i.cleanup();
    await server?.stop();
  });

  it("pulls an OCI manifest, an OCI image index and a Docker manifest with the login password", () => {
    const hosts = hostsDir("hosts-login");
    const cases = [
      { ref: `${name}/team/busybox:1`, type: "application/vnd.oci.image.manifest.v1+json", digest: images[0]?.digest },
      { ref: `${name}/team/multi:1`, type: "application/vnd.oci.image.index.v1+json", digest: images[1]?.digest },
      { ref: `${name}/team/docker:1`, type: "application/vnd.docker.distribution.manifest.v2+json", digest: undefined },
    ];
    for (const c of cases) {
      const pull = ctr(["images", "pull", "--snapshotter", "native", "--hosts-dir", hosts, "--user", `skiff:${password}`, c.ref]);
      assert.equal(pull.status, 0, `${c.ref}:\n${pull.stderr}\n${pull.stdout}`);
      const row = listed(c.ref);
      assert.ok(row, `${c.ref} in ctr images ls`);
      assert.equal(row[1], c.type, c.ref);
      if (c.digest !== undefined) assert.equal(row[2], c.digest, c.ref);
    }
    // Unpacked for this platform: the snapshot exists.
    const snaps = ctr(["snapshots", "--snapshotter", "native", "ls"]);
    assert.equal(snaps.status, 0, snaps.stderr);
    assert.notEqual(snaps.stdout.trim().split("\n").length, 1, `no snapshots:\n${snaps.stdout}`);
  });

  it("refuses a wrong password and an anonymous client, and pulls as a node with only its client certificate", async () => {
    const ref = `${name}/team/busybox:1`;
    const rm = ctr(["images", "rm", ref]);
    assert.ok(rm.status === 0 || /not found/.test(rm.stderr), rm.stderr);
    const wrong = ctr(["images", "pull", "--snapshotter", "native", "--hosts-dir", hostsDir("hosts-wrong"), "--user", "skiff:not-a-password", ref]);
    assert.notEqual(wrong.status, 0, "a wrong password pulls nothing");
    const anonymous = ctr(["images", "pull", "--snapshotter", "native", "--hosts-dir", hostsDir("hosts-anonymous"), ref]);
    assert.notEqual(anonymous.status, 0, "an anonymous client pulls nothing");
    assert.match(anonymous.stderr, /401|unauthorized|authorization/i);
    assert.equal(listed(ref), undefined);

    // A kubelet's certificate: issued by the cluster's client CA, CN system:node:NAME, O system:nodes.
    const tls = join(server.dataDir, "tls");
    const ca = { certPem: readFileSync(join(tls, "client-ca.crt"), "utf8"), keyPem: readFileSync(join(tls, "client-ca.key"), "utf8") };
    const node = await issueCertificate({ ca, commonName: "system:node:ctr-node", organizations: ["system:nodes"], usages: ["client"], validDays: 1 });
    const certFile = join(work, "node.crt");
    const keyFile = join(work, "node.key");
    writeFileSync(certFile, node.certPem);
    writeFileSync(keyFile, node.keyPem, { mode: 0o600 });
    const asNode = ctr(["images", "pull", "--snapshotter", "native", "--hosts-dir", hostsDir("hosts-node", [`client = [[${JSON.stringify(certFile)}, ${JSON.stringify(keyFile)}]]`]), ref]);
    assert.equal(asNode.status, 0, `${asNode.stderr}\n${asNode.stdout}`);
    assert.ok(listed(ref), "pulled as the node");
  });
});
