/**
 * Namespace deletion as upstream's API server does it: a namespace with
 * `spec.finalizers` is kept, Terminating, until the `finalize` subresource
 * empties them. (The controller manager is disabled here, so nothing else
 * finalizes it.)
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ok, startTestServer, type TestServer } from "./support/cluster.js";
import { RawClient } from "./support/https-client.js";

let srv: TestServer;
let raw: RawClient;
before(async () => {
  srv = await startTestServer(["--disable", "controller-manager"]);
  raw = RawClient.fromKubeconfig(srv.kubeconfig, srv.port);
});
after(async () => {
  await srv?.stop();
});

describe("namespace finalization", () => {
  it("keeps a deleted namespace Terminating until finalize empties spec.finalizers", async () => {
    ok(srv.kubectl(["create", "namespace", "doomed"]), "create");
    ok(srv.kubectl(["delete", "namespace", "doomed", "--wait=false"]), "delete");
    const ns = JSON.parse(ok(srv.kubectl(["get", "namespace", "doomed", "-o", "json"]), "get terminating"));
    assert.equal(ns.status.phase, "Terminating");
    assert.ok(ns.metadata.deletionTimestamp);
    assert.deepEqual(ns.spec.finalizers, ["kubernetes"]);
    const refused = srv.kubectl(["-n", "doomed", "create", "configmap", "late"]);
    assert.notEqual(refused.status, 0);
    assert.match(refused.stderr, /because it is being terminated/);

    const body = JSON.stringify({ ...ns, spec: { finalizers: [] } });
    const res = await raw.request({ method: "PUT", path: "/api/v1/namespaces/doomed/finalize", body, contentType: "application/json" });
    assert.equal(res.code, 200, res.text);
    const gone = srv.kubectl(["get", "namespace", "doomed"]);
    assert.notEqual(gone.status, 0);
    assert.match(gone.stderr, /NotFound|not found/);
  });

  it("deletes a namespace without finalizers at once", () => {
    ok(srv.kubectl(["create", "-f", "-"], { input: JSON.stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name: "bare" }, spec: { finalizers: [] } }) }), "create bare");
    ok(srv.kubectl(["delete", "namespace", "bare", "--timeout=30s"]), "delete bare");
  });

  it("lets a second delete shorten the grace period of a pod held by a finalizer, so removing the finalizer deletes it", async () => {
    const pod = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "held", namespace: "default", finalizers: ["example.com/hold"] },
      spec: { nodeName: "nowhere", containers: [{ name: "c", image: "busybox" }] },
    };
    ok(srv.kubectl(["create", "-f", "-"], { input: JSON.stringify(pod) }), "create pod");
    ok(srv.kubectl(["delete", "pod", "held", "--wait=false"]), "delete");
    const first = JSON.parse(ok(srv.kubectl(["get", "pod", "held", "-o", "json"]), "get"));
    assert.equal(first.metadata.deletionGracePeriodSeconds, 30);
    // The kubelet's final delete after the containers stopped.
    ok(srv.kubectl(["delete", "pod", "held", "--grace-period=0", "--force", "--wait=false"]), "force delete");
    const second = JSON.parse(ok(srv.kubectl(["get", "pod", "held", "-o", "json"]), "get held"));
    assert.equal(second.metadata.deletionGracePeriodSeconds, 0);
    const patch = await raw.request({
      method: "PATCH",
      path: "/api/v1/namespaces/default/pods/held",
      body: JSON.stringify({ metadata: { finalizers: null } }),
      contentType: "application/merge-patch+json",
    });
    assert.equal(patch.code, 200, patch.text);
    const gone = srv.kubectl(["get", "pod", "held"]);
    assert.notEqual(gone.status, 0, "deleted once the finalizer is gone");
  });
});
