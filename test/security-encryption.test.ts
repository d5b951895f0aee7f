/**
 * Secrets encrypted at rest, end to end with a real server and kubectl: the
 * key made at first start (mode 0600), no plaintext in the database or a
 * snapshot, reads through the API decrypted, `skiff secrets-encrypt
 * rotate-keys` on the stopped data dir keeping every secret readable, and a
 * configuration lacking the key failing only the secrets it cannot read.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { skiff, skiffBackground, stopProcess, TEST_SERVER_FLAGS, waitForLog } from "./support/skiff.js";

const root = mkdtempSync(join(tmpdir(), "skiff-encrypt-"));
const dataDir = join(root, "data");
const configPath = join(dataDir, "tls", "encryption-config.yaml");
const PLAINTEXT = "correct-horse-battery-staple-4f1c";
const running: ChildProcess[] = [];

after(async () => {
  for (const p of running) await stopProcess(p);
  rmSync(root, { recursive: true, force: true });
});

async function startServer(extra: string[] = []): Promise<ChildProcess> {
  const p = skiffBackground(["server", ...TEST_SERVER_FLAGS, "--data-dir", dataDir, "--disable-snapshots", "--disable", "controller-manager", "--disable", "scheduler", ...extra]);
  running.push(p);
  await waitForLog(p, /msg="API server listening"/);
  return p;
}

async function stopServer(p: ChildProcess): Promise<void> {
  await stopProcess(p);
  running.splice(running.indexOf(p), 1);
}

function kubectl(args: string[], input?: string): { status: number; stdout: string; stderr: string } {
  const kubeconfig = join(dataDir, "kubeconfig.yaml");
  const r = spawnSync("kubectl", ["--kubeconfig", kubeconfig, ...args], { encoding: "utf8", input, timeout: 60_000 });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function secretValue(name: string): string {
  const r = kubectl(["get", "secret", name, "-n", "default", "-o", "jsonpath={.data.password}"]);
  assert.equal(r.status, 0, r.stderr);
  return Buffer.from(r.stdout, "base64").toString();
}

/** Every byte the database holds on disk (main file, WAL), as latin1 so any ASCII run is searchable. */
function rawDatabase(): string {
  const dir = join(dataDir, "db");
  return readdirSync(dir)
    .filter((f) => f.startsWith("state.db"))
    .map((f) => readFileSync(join(dir, f)).toString("latin1"))
    .join("");
}

describe("secrets encryption at rest", () => {
  it("makes a key at first start and stores secrets encrypted; the API returns them", async () => {
    const p = await startServer();
    assert.ok(existsSync(configPath));
    assert.equal(statSync(configPath).mode & 0o777, 0o600);
    assert.match(readFileSync(configPath, "utf8"), /aescbckey/);
    const create = kubectl(["create", "secret", "generic", "db", "-n", "default", `--from-literal=password=${PLAINTEXT}`]);
    assert.equal(create.status, 0, create.stderr);
    assert.equal(kubectl(["create", "configmap", "plain", "-n", "default", "--from-literal=k=visible-configmap-value"]).status, 0);
    assert.equal(secretValue("db"), PLAINTEXT);
    // Both encodings of the value (the API stores data base64'd): neither may appear on disk.
    const b64 = Buffer.from(PLAINTEXT).toString("base64");
    const snap = skiff(["snapshot", "save", "--data-dir", dataDir, "--name", "enc-test"]);
    assert.equal(snap.status, 0, snap.stderr);
    await stopServer(p);
    const disk = rawDatabase();
    assert.ok(disk.includes("k8s:enc:aescbc:v1:aescbckey:"), "the secret is stored with upstream's prefix");
    assert.ok(disk.includes("visible-configmap-value"), "configmaps stay plain (the check can see plaintext)");
    assert.ok(!disk.includes(PLAINTEXT) && !disk.includes(b64), "no secret plaintext in the database");
    const snapDir = join(dataDir, "db", "snapshots");
    const files = readdirSync(snapDir).filter((f) => f.startsWith("enc-test"));
    assert.equal(files.length, 1);
    const snapshot = readFileSync(join(snapDir, files[0]!)).toString("latin1");
    assert.ok(!snapshot.includes(PLAINTEXT) && !snapshot.includes(b64), "no secret plaintext in the snapshot");
  });

  it("status shows the key; rotate-keys on the stopped data dir re-encrypts and keeps secrets readable", async () => {
    const st = skiff(["secrets-encrypt", "status", "--data-dir", dataDir]);
    assert.equal(st.status, 0, st.stderr);
    assert.match(st.stdout, /Encryption Status: Enabled/);
    assert.match(st.stdout, /\*\s+AES-CBC\s+aescbckey/);
    const rot = skiff(["secrets-encrypt", "rotate-keys", "--data-dir", dataDir]);
    assert.equal(rot.status, 0, rot.stderr);
    const cfg = readFileSync(configPath, "utf8");
    const keyName = /name: (aescbckey-\S+)/.exec(cfg)?.[1];
    assert.ok(keyName, cfg);
    assert.ok(!/name: aescbckey\n/.test(cfg), "the old key is dropped");
    assert.equal(statSync(configPath).mode & 0o777, 0o600);
    const disk = rawDatabase();
    assert.ok(disk.includes(`k8s:enc:aescbc:v1:${keyName}:`));
    const p = await startServer();
    assert.equal(secretValue("db"), PLAINTEXT);
    // Refused while a server runs: it holds the keys in memory.
    const busy = skiff(["secrets-encrypt", "rotate-keys", "--data-dir", dataDir]);
    assert.equal(busy.status, 1);
    assert.match(busy.stderr, /is running on --data-dir .*stop it, run skiff secrets-encrypt rotate-keys, then start it again/);
    await stopServer(p);
  });

  it("a configuration without the key fails those secrets with a clear 500, and nothing else", async () => {
    const other = join(root, "other-key.yaml");
    writeFileSync(
      other,
      `apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources: [secrets]
    providers:
      - aesgcm:
          keys: [{name: unrelated, secret: ${Buffer.alloc(32, 5).toString("base64")}}]
      - identity: {}
`,
      { mode: 0o600 },
    );
    const p = await startServer(["--encryption-provider-config", other]);
    const r = kubectl(["get", "secret", "db", "-n", "default"]);
    assert.notEqual(r.status, 0);
    // identity (listed last) is the only reader whose prefix matches, as upstream's prefix transformers go.
    assert.match(r.stderr, /Internal error occurred: unable to transform key "\/registry\/secrets\/default\/db": identity transformer tried to read encrypted data/);
    assert.ok(!r.stderr.includes(PLAINTEXT));
    const list = kubectl(["get", "secrets", "-n", "default"]);
    assert.notEqual(list.status, 0);
    const cm = kubectl(["get", "configmap", "plain", "-n", "default", "-o", "jsonpath={.data.k}"]);
    assert.equal(cm.status, 0, cm.stderr);
    assert.equal(cm.stdout, "visible-configmap-value");
    // New secrets work under the new key; the server is still up.
    assert.equal(kubectl(["create", "secret", "generic", "fresh", "-n", "default", "--from-literal=password=x"]).status, 0);
    assert.equal(secretValue("fresh"), "x");
    await stopServer(p);
  });

  it("refuses an invalid configuration at start with upstream's field message", async () => {
    const bad = join(root, "bad.yaml");
    writeFileSync(
      bad,
      `apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources: [secrets]
    providers:
      - aescbc:
          keys: [{name: k, secret: ${Buffer.alloc(8).toString("base64")}}]
`,
    );
    const r = skiff(["server", ...TEST_SERVER_FLAGS, "--data-dir", dataDir, "--encryption-provider-config", bad]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /secret: Invalid value: "REDACTED": secret is not of the expected length, got 8, expected one of \[32\]/);
  });
});
