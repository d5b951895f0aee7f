/**
 * metrics.k8s.io as clients discover and meet it on a server without
 * nodes (no kubelet to scrape): the group is in discovery (legacy and
 * aggregated) with metrics-server's resource entries, and `kubectl top`
 * gets the answers it gets from a fresh metrics-server — no metrics yet,
 * never a server error.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { kubectlVersions, ok, startTestServer, type TestServer } from "./support/cluster.js";
import { skiff, TEST_SERVER_FLAGS } from "./support/skiff.js";

let srv: TestServer;

before(async () => {
  srv = await startTestServer(["--metric-resolution", "1s"]);
});

after(async () => {
  await srv?.stop();
});

describe("metrics.k8s.io without nodes", () => {
  it("is discovered with metrics-server's resource entries", () => {
    const list = JSON.parse(ok(srv.kubectl(["get", "--raw", "/apis/metrics.k8s.io/v1beta1"]), "resource list")) as { groupVersion: string; resources: object[] };
    assert.equal(list.groupVersion, "metrics.k8s.io/v1beta1");
    assert.deepEqual(list.resources, [
      { name: "nodes", singularName: "", namespaced: false, kind: "NodeMetrics", verbs: ["get", "list"] },
      { name: "pods", singularName: "", namespaced: true, kind: "PodMetrics", verbs: ["get", "list"] },
    ]);
    const group = JSON.parse(ok(srv.kubectl(["get", "--raw", "/apis/metrics.k8s.io"]), "group")) as { preferredVersion: { groupVersion: string } };
    assert.equal(group.preferredVersion.groupVersion, "metrics.k8s.io/v1beta1");
    // Aggregated discovery (kubectl 1.30+) and legacy discovery (older kubectl) both list it.
    for (const version of [undefined, kubectlVersions()[0]]) {
      const out = ok(srv.kubectl(["api-resources", "--api-group=metrics.k8s.io", "--no-headers"], version ? { version } : {}), `api-resources ${version ?? ""}`);
      assert.deepEqual(
        out
          .trim()
          .split("\n")
          .map((l) => l.split(/\s+/)[0]),
        ["nodes", "pods"],
        `kubectl ${version ?? "(default)"}`,
      );
    }
  });

  it("kubectl top answers as with a fresh metrics-server", () => {
    const node = srv.kubectl(["top", "node"]);
    assert.notEqual(node.status, 0);
    assert.match(node.stderr, /error: metrics not available yet/);
    const pod = srv.kubectl(["top", "pod"]);
    assert.equal(pod.status, 0, pod.stderr);
    assert.match(pod.stderr, /No resources found in default namespace\./);
    const missing = srv.kubectl(["top", "node", "nowhere"]);
    assert.match(missing.stderr, /nodes "nowhere" not found/);
  });

  it("lists render as Tables for kubectl get", () => {
    const out = srv.kubectl(["get", "pods.metrics.k8s.io", "-A"]);
    assert.equal(out.status, 0, out.stderr);
    assert.match(out.stderr, /No resources found/);
  });

  it("refuses a scrape interval under a second", () => {
    const dir = mkdtempSync(join(tmpdir(), "skiff-metrics-flag-"));
    try {
      const r = skiff(["server", ...TEST_SERVER_FLAGS, "--data-dir", dir, "--disable-snapshots", "--metric-resolution", "500ms"]);
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, /--metric-resolution must be at least 1s, not 500ms/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
