import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TLSSocket } from "node:tls";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { Command } from "commander";
import { silentLogger } from "../machinery/log.js";
import { type ClusterPki, ensureClusterPki } from "../pki/cluster-pki.js";
import { buildKubeconfig, readKubeconfig, writeKubeconfig } from "./kubeconfig-file.js";
import { adminKubeconfigPath, type KubeconfigIo, registerKubeconfig } from "./kubeconfig.js";

const run = promisify(execFile);
const hasKubectl = spawnSync("kubectl", ["version", "--client"]).status === 0;
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "skiff-kubeconfig-cli-"));
  dirs.push(d);
  return d;
}

/** Runs `skiff kubeconfig ARGS` through commander, as main.ts will; returns what it printed. */
async function skiff(args: string[], env: NodeJS.ProcessEnv, homeDir = "/nonexistent"): Promise<string> {
  const out: string[] = [];
  const io: KubeconfigIo = { write: (t) => void out.push(t), env, homeDir };
  const program = new Command("skiff").exitOverride();
  registerKubeconfig(program, io);
  await program.parseAsync(["kubeconfig", ...args], { from: "user" });
  return out.join("");
}

describe("skiff kubeconfig", () => {
  let pki: ClusterPki;
  let dataDir: string;
  before(async () => {
    dataDir = tempDir();
    pki = await ensureClusterPki({ tlsDir: join(dataDir, "tls"), hostAddresses: [], logger: silentLogger });
    writeKubeconfig(
      adminKubeconfigPath(dataDir),
      buildKubeconfig({
        clusterName: "skiff",
        server: "https://127.0.0.1:6443",
        caPem: pki.serverCa.certPem,
        clientCertPem: pki.clients.admin.certPem,
        clientKeyPem: pki.clients.admin.keyPem,
      }),
    );
  });

  test("without a server's kubeconfig it says to start one", async () => {
    const empty = tempDir();
    await assert.rejects(skiff(["--data-dir", empty], {}), { message: `no kubeconfig in ${empty}: start skiff server first` });
  });

  test("prints kubeconfig.yaml as it is", async () => {
    assert.equal(await skiff(["--data-dir", dataDir], {}), readFileSync(adminKubeconfigPath(dataDir), "utf8"));
  });

  test("--cluster-name and --server rewrite what is printed", async () => {
    const out = await skiff(["--data-dir", dataDir, "--cluster-name", "lab", "--server", "https://10.0.0.5:6443"], {});
    const f = join(tempDir(), "k");
    writeFileSync(f, out);
    const k = readKubeconfig(f);
    assert.equal(k["current-context"], "lab");
    assert.deepEqual(k.contexts, [{ name: "lab", context: { cluster: "lab", user: "lab" } }]);
    assert.equal(k.clusters[0]!.cluster.server, "https://10.0.0.5:6443");
    await assert.rejects(skiff(["--data-dir", dataDir, "--server", "10.0.0.5:6443"], {}), /invalid server URL/);
  });

  test("--merge adds, then updates, the context in $KUBECONFIG, as aws eks update-kubeconfig reports it", async () => {
    const target = join(tempDir(), "kube", "config");
    const env = { KUBECONFIG: target };
    assert.equal(await skiff(["--data-dir", dataDir, "--merge"], env), `Added new context skiff to ${target}\n`);
    assert.equal(await skiff(["--data-dir", dataDir, "--merge"], env), `Updated context skiff in ${target}\n`);
    assert.equal(readKubeconfig(target)["current-context"], "skiff");
  });

  test("--merge goes to ~/.kube/config without KUBECONFIG, and to --kubeconfig when given", async () => {
    const home = tempDir();
    assert.equal(await skiff(["--data-dir", dataDir, "--merge"], {}, home), `Added new context skiff to ${join(home, ".kube", "config")}\n`);
    const explicit = join(tempDir(), "explicit");
    const out = await skiff(["--data-dir", dataDir, "--merge", "--kubeconfig", explicit], { KUBECONFIG: join(home, "ignored") }, home);
    assert.equal(out, `Added new context skiff to ${explicit}\n`);
  });

  test("--help lists the flags", async () => {
    const help: string[] = [];
    const program = new Command("skiff").exitOverride().configureOutput({ writeOut: (s) => void help.push(s) });
    registerKubeconfig(program);
    await assert.rejects(program.parseAsync(["kubeconfig", "--help"], { from: "user" }));
    for (const flag of ["--data-dir", "--merge", "--cluster-name", "--server", "--kubeconfig"]) assert.ok(help.join("").includes(flag), flag);
  });

  test("kubectl (Go's crypto/tls) trusts the serving certificate and presents the admin certificate", { skip: !hasKubectl && "kubectl not installed" }, async () => {
    const seen: { path: string; authorized: boolean; cn: unknown; o: unknown }[] = [];
    const server = createServer(
      { key: pki.serving.keyPem, cert: pki.serving.certPem, ca: pki.clientCa.certPem, requestCert: true, rejectUnauthorized: false },
      (req, res) => {
        const sock = req.socket as TLSSocket;
        const peer = sock.getPeerCertificate();
        seen.push({ path: req.url ?? "", authorized: sock.authorized, cn: peer.subject?.CN, o: peer.subject?.O });
        if (!sock.authorized) {
          res.writeHead(401, { "content-type": "application/json" }).end('{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Unauthorized","code":401}');
          return;
        }
        res.writeHead(200, { "content-type": "application/json" }).end(
          JSON.stringify({ major: "1", minor: "32", gitVersion: "v1.32.4+skiff", platform: "linux/amd64" }),
        );
      },
    );
    await new Promise<void>((r) => server.listen(0, "::", r));
    const port = (server.address() as AddressInfo).port;
    try {
      for (const host of ["127.0.0.1", "[::1]", "localhost"]) {
        const home = tempDir();
        const env = { PATH: process.env.PATH, HOME: home };
        const out = await skiff(["--data-dir", dataDir, "--merge", "--server", `https://${host}:${port}`], env, home);
        assert.match(out, /^Added new context skiff to /);
        const { stdout } = await run("kubectl", ["get", "--raw", "/version"], { env });
        assert.equal((JSON.parse(stdout) as { gitVersion: string }).gitVersion, "v1.32.4+skiff", host);
      }
      assert.ok(seen.length >= 3);
      for (const s of seen) assert.deepEqual({ ...s, path: "" }, { path: "", authorized: true, cn: "system:admin", o: "system:masters" });
    } finally {
      server.close();
    }
  });
});
