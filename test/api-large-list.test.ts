/**
 * A LIST larger than one write batch (1 MiB) is streamed in pieces: the
 * body must still be one valid JSON list of every object, with the
 * Content-Length it announced.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startTestServer, type TestServer } from "./support/cluster.js";
import { RawClient } from "./support/https-client.js";

let srv: TestServer;
let raw: RawClient;
before(async () => {
  srv = await startTestServer(["--disable", "controller-manager", "scheduler"]);
  raw = RawClient.fromKubeconfig(srv.kubeconfig, srv.port);
});
after(async () => {
  await srv?.stop();
});

describe("large lists", () => {
  it("streams a 3 MB list as one valid JSON body of the announced length", async () => {
    const value = "x".repeat(100_000);
    for (let i = 0; i < 30; i++) {
      const body = JSON.stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: `big-${i}`, namespace: "default" }, data: { v: value } });
      const r = await raw.request({ method: "POST", path: "/api/v1/namespaces/default/configmaps", body, contentType: "application/json" });
      assert.equal(r.code, 201, r.text);
    }
    const list = await raw.request({ path: "/api/v1/namespaces/default/configmaps" });
    assert.equal(list.code, 200);
    assert.equal(Number(list.headers["content-length"]), Buffer.byteLength(list.text));
    assert.ok(Buffer.byteLength(list.text) > 3_000_000);
    const names = (list.json?.items ?? []).map((i) => i.metadata?.name).filter((n) => n?.startsWith("big-"));
    assert.equal(names.length, 30);
    assert.ok(list.json?.metadata?.resourceVersion);
  });
});
