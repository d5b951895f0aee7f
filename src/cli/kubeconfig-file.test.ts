import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parse } from "yaml";
import { createCertificateAuthority, issueCertificate } from "../pki/certs.js";
import {
  buildKubeconfig,
  type Kubeconfig,
  kubeconfigChain,
  mergeKubeconfig,
  mergeKubeconfigChain,
  readKubeconfig,
  retargetKubeconfig,
  unmergeKubeconfigChain,
  writeKubeconfig,
} from "./kubeconfig-file.js";

const hasKubectl = spawnSync("kubectl", ["version", "--client"], { encoding: "utf8" }).status === 0;
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "skiff-kubeconfig-"));
  dirs.push(d);
  return d;
}

function kubectl(args: string[], env: NodeJS.ProcessEnv = {}): string {
  const r = spawnSync("kubectl", args, { encoding: "utf8", env: { PATH: process.env.PATH, HOME: "/nonexistent", ...env } });
  assert.equal(r.status, 0, `kubectl ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

/** `kubectl config get-contexts` rows as [current, name, cluster, authinfo]. */
function contexts(file: string): string[][] {
  return kubectl(["config", "get-contexts", "--kubeconfig", file])
    .trim()
    .split("\n")
    .slice(1)
    .map((l) => {
      const cols = l.trim().split(/\s+/);
      return l.startsWith("*") ? cols.slice(0, 4) : ["", ...cols.slice(0, 3)];
    });
}

const EXISTING = `# my clusters, do not lose this comment
apiVersion: v1
kind: Config
clusters:
- cluster:
    server: https://prod.example.test:6443
    certificate-authority-data: UFJPRA==
    extensions:
    - name: client.authentication.k8s.io/exec
      extension:
        audience: prod
  name: prod
- cluster:
    server: https://old-skiff:6443
    insecure-skip-tls-verify: true
  name: skiff
users:
- name: prod
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: prod-login
      interactiveMode: Never
- name: skiff
  user:
    token: stale
contexts:
- context:
    cluster: prod
    user: prod
    namespace: payments
  name: prod
- context:
    cluster: skiff
    user: skiff
  name: skiff
current-context: prod
preferences:
  colors: true
x-custom-field:
  kept: yes
`;

describe("kubeconfig files", () => {
  let doc: Kubeconfig;
  let caPem: string;
  before(async () => {
    const ca = await createCertificateAuthority({ commonName: "skiff-server-ca@1" });
    const clientCa = await createCertificateAuthority({ commonName: "skiff-client-ca@1" });
    const admin = await issueCertificate({ ca: clientCa, commonName: "system:admin", organizations: ["system:masters"], usages: ["client"], validDays: 1 });
    caPem = ca.certPem;
    doc = buildKubeconfig({ clusterName: "skiff", server: "https://127.0.0.1:6443", caPem, clientCertPem: admin.certPem, clientKeyPem: admin.keyPem });
  });

  test("buildKubeconfig + writeKubeconfig: a 0600 file kubectl reads", { skip: !hasKubectl && "kubectl not installed" }, () => {
    const file = join(tempDir(), "sub", "kubeconfig.yaml");
    writeKubeconfig(file, doc);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.deepEqual(contexts(file), [["*", "skiff", "skiff", "skiff"]]);
    const ca = kubectl(["config", "view", "--raw", "--kubeconfig", file, "-o", "jsonpath={.clusters[?(@.name==\"skiff\")].cluster.certificate-authority-data}"]);
    assert.equal(Buffer.from(ca, "base64").toString(), caPem);
    const server = kubectl(["config", "view", "--raw", "--kubeconfig", file, "-o", "jsonpath={.clusters[0].cluster.server}"]);
    assert.equal(server, "https://127.0.0.1:6443");
    const key = kubectl(["config", "view", "--raw", "--kubeconfig", file, "-o", "jsonpath={.users[?(@.name==\"skiff\")].user.client-key-data}"]);
    assert.match(Buffer.from(key, "base64").toString(), /^-----BEGIN PRIVATE KEY-----/);
    assert.deepEqual(readKubeconfig(file), doc);
  });

  test("merging keeps other contexts, unknown fields and comments, and replaces the stale skiff entries", { skip: !hasKubectl && "kubectl not installed" }, () => {
    const file = join(tempDir(), "config");
    writeFileSync(file, EXISTING, { mode: 0o600 });
    const r = mergeKubeconfig(file, doc, { setCurrentContext: true });
    assert.deepEqual(r, { path: file, contextName: "skiff", added: false });
    const text = readFileSync(file, "utf8");
    assert.match(text, /^# my clusters, do not lose this comment\n/);
    const before = parse(EXISTING) as Record<string, Record<string, unknown>[]>;
    const merged = parse(text) as Record<string, Record<string, unknown>[]>;
    for (const s of ["clusters", "users", "contexts"]) {
      assert.deepEqual(merged[s]!.find((e) => e.name === "prod"), before[s]!.find((e) => e.name === "prod"), `${s}/prod untouched`);
      assert.equal(merged[s]!.filter((e) => e.name === "skiff").length, 1, `one ${s}/skiff`);
    }
    assert.deepEqual(merged["x-custom-field"], before["x-custom-field"]);
    assert.deepEqual(merged.preferences, before.preferences);
    assert.equal(merged["current-context"], "skiff");
    const skiffCluster = merged.clusters!.find((e) => e.name === "skiff")!.cluster as Record<string, unknown>;
    assert.deepEqual(Object.keys(skiffCluster).sort(), ["certificate-authority-data", "server"], "stale fields are gone");
    assert.deepEqual(merged.users!.find((e) => e.name === "skiff")!.user, doc.users[0]!.user);
    assert.deepEqual(contexts(file), [
      ["", "prod", "prod", "prod"],
      ["*", "skiff", "skiff", "skiff"],
    ]);
    // Merging the same thing again changes nothing.
    const once = readFileSync(file, "utf8");
    mergeKubeconfig(file, doc, { setCurrentContext: true });
    assert.equal(readFileSync(file, "utf8"), once);
  });

  test("setCurrentContext false leaves current-context alone", () => {
    const file = join(tempDir(), "config");
    writeFileSync(file, EXISTING);
    mergeKubeconfig(file, retargetKubeconfig(doc, { clusterName: "lab" }), { setCurrentContext: false });
    const merged = readKubeconfig(file);
    assert.equal(merged["current-context"], "prod");
    assert.deepEqual(merged.contexts.map((c) => c.name), ["prod", "skiff", "lab"]);
  });

  test("a missing file and directory are created, 0600", { skip: !hasKubectl && "kubectl not installed" }, () => {
    const file = join(tempDir(), "home", ".kube", "config");
    const r = mergeKubeconfig(file, doc, { setCurrentContext: true });
    assert.equal(r.added, true);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.deepEqual(contexts(file), [["*", "skiff", "skiff", "skiff"]]);
    assert.deepEqual(readdirSync(join(file, "..")), ["config"], "no temporary or lock file left");
  });

  test("an empty or comment-only file is treated as an empty kubeconfig", () => {
    const file = join(tempDir(), "config");
    writeFileSync(file, "# nothing yet\n");
    mergeKubeconfig(file, doc, { setCurrentContext: true });
    assert.equal(readKubeconfig(file)["current-context"], "skiff");
  });

  test("a corrupt file is refused and left byte for byte intact", () => {
    const dir = tempDir();
    const cases = {
      "bad-yaml": "apiVersion: v1\nclusters: [\n  - name: x\n",
      "not-a-map": "- just\n- a list\n",
      "clusters-not-a-list": "apiVersion: v1\nclusters: oops\n",
      "two-documents": "apiVersion: v1\n---\nkind: Config\n",
    };
    for (const [name, text] of Object.entries(cases)) {
      const file = join(dir, name);
      writeFileSync(file, text, { mode: 0o600 });
      assert.throws(() => mergeKubeconfig(file, doc, { setCurrentContext: true }), /refusing to modify .*left unchanged/, name);
      assert.equal(readFileSync(file, "utf8"), text, name);
    }
    assert.deepEqual(readdirSync(dir).sort(), Object.keys(cases).sort(), "no lock or temporary files");
  });

  test("an existing file keeps its mode, and a symlinked kubeconfig stays a symlink", () => {
    const dir = tempDir();
    const real = join(dir, "dotfiles-kubeconfig");
    writeFileSync(real, EXISTING);
    chmodSync(real, 0o640);
    mkdirSync(join(dir, ".kube"));
    const link = join(dir, ".kube", "config");
    symlinkSync(real, link);
    mergeKubeconfig(link, doc, { setCurrentContext: true });
    assert.ok(lstatSync(link).isSymbolicLink());
    assert.equal(statSync(real).mode & 0o777, 0o640);
    assert.equal(readKubeconfig(real)["current-context"], "skiff");
  });

  test("a held lock makes the merge wait, then fail with a clear message", () => {
    const file = join(tempDir(), "config");
    writeFileSync(file, EXISTING);
    writeFileSync(`${file}.lock`, "");
    assert.throws(() => mergeKubeconfig(file, doc, { setCurrentContext: true }), /locked by another writer/);
    assert.equal(readFileSync(file, "utf8"), EXISTING);
  });

  test("retargetKubeconfig renames everything and can change the server", () => {
    const r = retargetKubeconfig(doc, { clusterName: "lab", server: "https://10.0.0.5:6443" });
    assert.deepEqual(r.contexts, [{ name: "lab", context: { cluster: "lab", user: "lab" } }]);
    assert.equal(r.clusters[0]!.cluster.server, "https://10.0.0.5:6443");
    assert.equal(r.clusters[0]!.cluster["certificate-authority-data"], doc.clusters[0]!.cluster["certificate-authority-data"]);
    assert.equal(r["current-context"], "lab");
    assert.throws(() => retargetKubeconfig(doc, { server: "http://plain:80" }), /must be https/);
  });
});

describe("kubeconfig chain (KUBECONFIG, --kubeconfig)", () => {
  let doc: Kubeconfig;
  before(async () => {
    const ca = await createCertificateAuthority({ commonName: "ca" });
    const admin = await issueCertificate({ ca, commonName: "system:admin", usages: ["client"], validDays: 1 });
    doc = buildKubeconfig({ clusterName: "skiff", server: "https://127.0.0.1:6443", caPem: ca.certPem, clientCertPem: admin.certPem, clientKeyPem: admin.keyPem });
  });

  test("resolves like kubectl: --kubeconfig alone, else KUBECONFIG (deduplicated), else ~/.kube/config", () => {
    assert.deepEqual(kubeconfigChain({ explicitPath: "/x/k", env: { KUBECONFIG: "/a" } }), ["/x/k"]);
    assert.deepEqual(kubeconfigChain({ env: { KUBECONFIG: ["/a", "", "/b", "/a"].join(delimiter) } }), ["/a", "/b"]);
    assert.deepEqual(kubeconfigChain({ env: {}, homeDir: "/home/u" }), ["/home/u/.kube/config"]);
    assert.deepEqual(kubeconfigChain({ env: { KUBECONFIG: "" }, homeDir: "/home/u" }), ["/home/u/.kube/config"]);
  });

  test("no file exists: the last one is created, as kubectl does", { skip: !hasKubectl && "kubectl not installed" }, () => {
    const ours = tempDir();
    const theirs = tempDir();
    const chainOf = (d: string) => [join(d, "a"), join(d, "b"), join(d, "c")];
    const r = mergeKubeconfigChain(chainOf(ours), doc, { setCurrentContext: true });
    kubectl(["config", "set-context", "skiff", "--cluster=skiff", "--user=skiff"], { KUBECONFIG: chainOf(theirs).join(delimiter) });
    assert.deepEqual(readdirSync(ours), readdirSync(theirs));
    assert.deepEqual(readdirSync(ours), ["c"]);
    assert.equal(r.path, join(ours, "c"));
    assert.equal(r.added, true);
  });

  test("new entries and current-context go to the first existing file; existing ones are updated where they are", { skip: !hasKubectl && "kubectl not installed" }, () => {
    const dir = tempDir();
    const [a, b, c] = [join(dir, "a"), join(dir, "b"), join(dir, "c")];
    writeFileSync(b, "apiVersion: v1\nkind: Config\ncurrent-context: other\n");
    writeFileSync(c, "apiVersion: v1\nkind: Config\ncontexts:\n- name: skiff\n  context: {cluster: old, user: old}\n");
    const env = { KUBECONFIG: [a, b, c].join(delimiter) };
    const r = mergeKubeconfigChain(kubeconfigChain({ env }), doc, { setCurrentContext: true });
    assert.deepEqual(r, { path: c, contextName: "skiff", added: false });
    assert.ok(!existsSync(a));
    const kb = readKubeconfig(b);
    const kc = readKubeconfig(c);
    assert.deepEqual(kb.clusters.map((x) => x.name), ["skiff"]);
    assert.deepEqual(kb.users.map((x) => x.name), ["skiff"]);
    assert.equal(kb["current-context"], "skiff");
    assert.deepEqual(kc.contexts, doc.contexts);
    // kubectl sees one merged, working configuration.
    assert.equal(kubectl(["config", "current-context"], env).trim(), "skiff");
    assert.equal(kubectl(["config", "view", "--raw", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}"], env), "https://127.0.0.1:6443");
  });

  test("a corrupt file anywhere in the chain stops the merge before anything is written", () => {
    const dir = tempDir();
    const [a, b] = [join(dir, "a"), join(dir, "b")];
    writeFileSync(a, "apiVersion: v1\nkind: Config\n");
    writeFileSync(b, "{{{ not yaml");
    assert.throws(() => mergeKubeconfigChain([a, b], doc, { setCurrentContext: true }), /refusing to modify .*\/b/);
    assert.equal(readFileSync(a, "utf8"), "apiVersion: v1\nkind: Config\n");
  });
  test("unmerging takes back exactly what was merged: other entries, comments and fields stay", { skip: !hasKubectl && "kubectl not installed" }, () => {
    const file = join(tempDir(), "config");
    writeFileSync(file, EXISTING, { mode: 0o640 });
    mergeKubeconfig(file, doc, { setCurrentContext: true });
    assert.deepEqual(unmergeKubeconfigChain([file], doc).sort(), ["clusters/skiff", "contexts/skiff", "users/skiff"]);
    const text = readFileSync(file, "utf8");
    assert.match(text, /^# my clusters, do not lose this comment\n/);
    assert.equal(statSync(file).mode & 0o777, 0o640);
    const after = parse(text) as Record<string, unknown>;
    const before = parse(EXISTING) as Record<string, Record<string, unknown>[]>;
    for (const s of ["clusters", "users", "contexts"]) {
      assert.deepEqual(after[s], before[s]!.filter((e) => e.name === "prod"), `only ${s}/prod is left`);
    }
    assert.deepEqual(after["x-custom-field"], before["x-custom-field"]);
    assert.equal(after["current-context"], "", "the removed context is no longer current");
    assert.deepEqual(contexts(file), [["", "prod", "prod", "prod"]]);
    // A second run finds nothing of ours.
    assert.deepEqual(unmergeKubeconfigChain([file], doc), []);
  });

  test("unmerging leaves a same-named entry that now points elsewhere, and a current-context that is not ours", () => {
    const dir = tempDir();
    const [a, b] = [join(dir, "a"), join(dir, "b")];
    writeFileSync(a, EXISTING);
    writeFileSync(b, "apiVersion: v1\nkind: Config\n");
    mergeKubeconfigChain([a, b], doc, { setCurrentContext: false });
    const other = retargetKubeconfig(doc, { server: "https://10.0.0.9:6443" });
    const removed = unmergeKubeconfigChain([a, b, join(dir, "missing")], other);
    // The contexts and users are equal (same names, same credentials), the cluster is not: it stays.
    assert.deepEqual(removed.sort(), ["contexts/skiff", "users/skiff"]);
    const k = readKubeconfig(a);
    assert.deepEqual(k.clusters.map((c) => c.name), ["prod", "skiff"]);
    assert.equal(k["current-context"], "prod");
  });
});
