/**
 * Joining with the server's token: the agent trusts the server's CA only
 * when it matches the hash the token pins, gets its own `system:node:NAME`
 * client certificate, and registers its Node with it. A token for another
 * CA, or with a wrong secret, is refused with a message saying what to check.
 */
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parseJoinToken } from "../src/pki/join-token.js";
import { ok, startTestServer, type TestServer } from "./support/cluster.js";
import { skiff, skiffBackground, stopProcess, waitForLog } from "./support/skiff.js";

let server: TestServer;
let dir: string;
let token: string;
before(async () => {
  server = await startTestServer(["--disable", "scheduler"]);
  dir = mkdtempSync(join(tmpdir(), "skiff-join-"));
  token = readFileSync(join(server.dataDir, "token"), "utf8").trim();
});
after(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function agentArgs(tok: string, node: string): string[] {
  return ["agent", "--server", `https://127.0.0.1:${server.port}`, "--token", tok, "--runtime", "sim", "--node-name", node, "--data-dir", join(dir, node)];
}

describe("joining with a token", () => {
  it("keeps one token per server in <data-dir>/token, pinning its CA", () => {
    const parsed = parseJoinToken(token);
    assert.ok(parsed, `token in the K10 format: ${token}`);
    assert.equal(parsed.username, "server");
    const st = readFileSync(join(server.dataDir, "token"));
    assert.ok(st.length > 0);
  });

  it("joins as system:node:NAME and registers the node", async () => {
    const agent = skiffBackground(agentArgs(token, "joined"));
    try {
      await waitForLog(agent, /msg="nodes registered"/);
      assert.match(ok(server.kubectl(["get", "node", "joined", "-o", "name"]), "get node"), /node\/joined/);
      const cert = new X509Certificate(readFileSync(join(dir, "joined", "agent", "pki", "joined", "client-kubelet.crt")));
      assert.match(cert.subject, /CN=system:node:joined/);
      assert.match(cert.subject, /O=system:nodes/);
      assert.ok(cert.checkIssued(new X509Certificate(readFileSync(join(server.dataDir, "tls", "client-ca.crt")))), "signed by the cluster's client CA");
    } finally {
      await stopProcess(agent);
    }
  });

  it("refuses a token that pins another CA", () => {
    const other = token.replace(/^K10[0-9a-f]{8}/, "K1000000000");
    const r = skiff(agentArgs(other, "impostor"));
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /does not match the join token .*check --server and --token/);
  });

  it("refuses a wrong secret", () => {
    const r = skiff(agentArgs(token.replace(/:[^:]+$/, ":wrongsecretwrongsecret"), "impostor"));
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /refused the join token/);
  });
});
