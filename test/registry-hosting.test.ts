/**
 * KEP-1755's `kube-public/local-registry-hosting` as `skiff server` keeps
 * it: written at start with the port the registry really listens on (the
 * tests ask for any free one), repaired at the next start when someone
 * changed it, and deleted when the server runs with `--disable registry`.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { skiffBackground, stopProcess, TEST_SERVER_FLAGS, waitForLog } from "./support/skiff.js";

describe("the local-registry-hosting ConfigMap", () => {
  let dataDir: string;
  let proc: ChildProcess | undefined;
  let log = "";

  async function start(extra: string[] = []): Promise<void> {
    log = "";
    proc = skiffBackground(["server", ...TEST_SERVER_FLAGS, "--data-dir", dataDir, "--disable-snapshots", ...extra]);
    proc.stderr?.on("data", (d: Buffer) => {
      log += d.toString();
    });
    await waitForLog(proc, /msg="API server listening"/, 120_000);
  }

  async function stop(): Promise<void> {
    if (proc) await stopProcess(proc);
    proc = undefined;
  }

  function kubectl(args: string[]): { status: number; stdout: string; stderr: string } {
    const kubeconfig = join(dataDir, "kubeconfig.yaml");
    const r = spawnSync("kubectl", ["--kubeconfig", kubeconfig, ...args], { encoding: "utf8", timeout: 60_000 });
    return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  }

  function published(): { status: number; text: string; stderr: string } {
    const r = kubectl(["get", "configmap", "-n", "kube-public", "local-registry-hosting", "-o", "jsonpath={.data.localRegistryHosting\\.v1}"]);
    return { status: r.status, text: r.stdout, stderr: r.stderr };
  }

  /** The port this start's registry logged. */
  function registryPort(): number {
    const m = /msg="image registry listening".* port=(\d+)/.exec(log);
    assert.ok(m, `no registry in the log:\n${log.slice(-3000)}`);
    return Number(m[1]);
  }

  before(() => {
    dataDir = mkdtempSync(join(tmpdir(), "skiff-registry-hosting-"));
  });
  after(async () => {
    await stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it("publishes localhost:PORT with the registry's real port", async () => {
    await start();
    const port = registryPort();
    const p = published();
    assert.equal(p.status, 0, p.stderr);
    // A loopback-only server has no address pods could use, so no hostFromClusterNetwork.
    assert.equal(p.text, `host: "localhost:${port}"\nhostFromContainerRuntime: "localhost:${port}"\n`);
  });

  it("repairs an edited ConfigMap at the next start, keeping keys of others", async () => {
    const patch = kubectl(["patch", "configmap", "-n", "kube-public", "local-registry-hosting", "--type", "merge", "-p", '{"data":{"localRegistryHosting.v1":"host: \\"localhost:1\\"\\n","note":"mine"}}']);
    assert.equal(patch.status, 0, patch.stderr);
    assert.equal(published().text, 'host: "localhost:1"\n');
    await stop();
    await start();
    const port = registryPort();
    assert.match(published().text, new RegExp(`^host: "localhost:${port}"$`, "m"));
    assert.equal(kubectl(["get", "configmap", "-n", "kube-public", "local-registry-hosting", "-o", "jsonpath={.data.note}"]).stdout, "mine");
  });

  it("deletes it when the server runs with --disable registry", async () => {
    await stop();
    await start(["--disable", "registry"]);
    assert.doesNotMatch(log, /image registry listening/);
    const p = published();
    assert.notEqual(p.status, 0);
    assert.match(p.stderr, /NotFound|not found/);
  });
});
