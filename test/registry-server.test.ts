/**
 * The registry as `skiff server` runs it (issue 9): on its own port with the
 * cluster's serving certificate, a login password from `skiff registry
 * login-password` (username `skiff`, as ECR's is `AWS`), pushed to and read
 * back with skopeo, verifying the server's certificate against the cluster CA.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { startTestServer, type TestServer } from "./support/cluster.js";
import { skiff } from "./support/skiff.js";
import { buildTestImage, type TestImage } from "./support/test-images.js";

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function skopeo(args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile("skopeo", ["--insecure-policy", ...args], { timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

describe("the cluster registry in skiff server", () => {
  let server: TestServer;
  let port: number;
  let work: string;
  let image: TestImage;

  before(async () => {
    port = await freePort();
    server = await startTestServer(["--registry-port", String(port)]);
    work = mkdtempSync(join(tmpdir(), "skiff-registry-srv-"));
    // skopeo's --cert-dir takes the CA as ca.crt.
    mkdirSync(join(work, "certs"));
    copyFileSync(join(server.dataDir, "tls", "server-ca.crt"), join(work, "certs", "ca.crt"));
    image = buildTestImage({ name: "skiff.test/busybox:1" });
  });

  after(async () => {
    image?.cleanup();
    await server?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("refuses a push without a login, then takes one with the password skiff registry login-password prints", async () => {
    const addr = `127.0.0.1:${port}`;
    const certs = join(work, "certs");
    const anonymous = await skopeo(["copy", "--dest-cert-dir", certs, "--retry-times", "0", `oci-archive:${image.path}`, `docker://${addr}/team/busybox:1`]);
    assert.notEqual(anonymous.code, 0, "an anonymous push is refused");
    assert.match(anonymous.stderr, /unauthorized|authentication required|access to the resource is denied/i);

    const pw = skiff(["registry", "login-password", "--data-dir", server.dataDir]);
    assert.equal(pw.status, 0, pw.stderr);
    const authfile = join(work, "auth.json");
    const login = await skopeo(["login", "--authfile", authfile, "--cert-dir", certs, "--username", "skiff", "--password-stdin", addr], pw.stdout);
    assert.equal(login.code, 0, login.stderr);
    const push = await skopeo(["copy", "--authfile", authfile, "--dest-cert-dir", certs, `oci-archive:${image.path}`, `docker://${addr}/team/busybox:1`]);
    assert.equal(push.code, 0, push.stderr);
    const tags = await skopeo(["list-tags", "--authfile", authfile, "--cert-dir", certs, `docker://${addr}/team/busybox`]);
    assert.equal(tags.code, 0, tags.stderr);
    assert.deepEqual(JSON.parse(tags.stdout).Tags, ["1"]);
  });

  it("says what to do when asked for a password without a server's key", () => {
    const r = skiff(["registry", "login-password", "--data-dir", work]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /no registry key at .*registry-signing\.key/);
  });
});
