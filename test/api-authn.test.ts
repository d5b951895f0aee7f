/**
 * Authentication through real kubectl: client certificates (the admin
 * kubeconfig) and bearer tokens from `--token-auth-file`; anything else is
 * 401, as upstream with anonymous authentication off.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ok, startTestServer, type TestServer } from "./support/cluster.js";

let srv: TestServer;
const dir = mkdtempSync(join(tmpdir(), "skiff-authn-"));
before(async () => {
  const file = join(dir, "tokens.csv");
  writeFileSync(file, 'sekrit-token-1,alice,1001,"devs,system:masters"\n');
  srv = await startTestServer(["--token-auth-file", file, "--disable", "controller-manager", "scheduler"]);
});
after(async () => {
  await srv?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** kubectl with only a bearer token for credentials (no client certificate). */
function withToken(token: string, args: string[]) {
  const server = ok(srv.kubectl(["config", "view", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}"]), "server url");
  return srv.kubectl(["--kubeconfig=/dev/null", "--server", server, "--insecure-skip-tls-verify", "--token", token, ...args], { env: { KUBECONFIG: "" } });
}

describe("authentication", () => {
  it("accepts a bearer token from --token-auth-file", () => {
    assert.match(ok(withToken("sekrit-token-1", ["get", "namespaces", "-o", "name"]), "list with a token"), /namespace\/default/);
  });

  it("answers 401 Unauthorized for an unknown token", () => {
    const r = withToken("wrong", ["get", "namespaces"]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /Unauthorized|must be logged in/);
  });
});
