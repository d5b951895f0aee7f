/**
 * `kubectl explain pod.spec.containers`, with every kubectl version present,
 * prints exactly the golden output (test/fixtures/explain/): the upstream
 * header, field list, types and descriptions, read from /openapi/v3 (and,
 * for kubectl 1.27, /openapi/v2 too) without any fallback.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { kubectlVersions, startTestServer, type TestServer } from "./support/cluster.js";
import { assertGolden } from "./support/golden.js";

const GOLDEN = fileURLToPath(new URL("./fixtures/explain/", import.meta.url));

let srv: TestServer;
before(async () => {
  srv = await startTestServer();
});
after(async () => {
  await srv?.stop();
});

/** Runs kubectl `version` with its own cache dir under the server's data dir. */
function explain(version: string, args: string[]): { status: number; stdout: string; stderr: string } {
  return srv.kubectl(["explain", ...args, "--cache-dir", join(srv.dataDir, `kubectl-cache-${version}`)], { version });
}

describe("kubectl explain", () => {
  const versions = kubectlVersions();
  test("kubectl binaries are present", () => {
    assert.ok(versions.length > 0, "no kubectl.1.NN next to kubectl");
  });

  for (const version of versions) {
    test(`kubectl ${version} explain pod.spec.containers prints the golden output`, () => {
      const r = explain(version, ["pod.spec.containers"]);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stderr, "");
      assert.match(r.stdout, /^KIND:\s+Pod\nVERSION:\s+v1\n\nFIELD: containers <\[\]Container>\n/);
      assertGolden(GOLDEN, "pod.spec.containers", version, r.stdout);
    });

    test(`kubectl ${version} explain reads OpenAPI without falling back`, () => {
      const r = explain(version, ["pod.spec.containers", "-v=6"]);
      assert.equal(r.status, 0, r.stderr);
      assert.doesNotMatch(r.stderr, /fall(ing)? ?back|failed to download openapi|openapi.*(error|unavailable|not found)/i);
      assert.match(r.stderr, /\/openapi\/v3\/api\/v1\?hash=[0-9A-F]{128}/);
      for (const line of r.stderr.split("\n").filter((l) => /\/openapi\//.test(l))) assert.match(line, /200 OK/, line);
    });
  }
});
