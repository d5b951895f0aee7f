/**
 * Every node trusts the cluster registry and pulls from it by name with no
 * configuration (issue 9): on a one-node runc cluster with no
 * registries.yaml, an image pushed to `localhost:PORT` (the name the
 * server publishes in KEP-1755's ConfigMap) with a login password runs as a
 * pod. The node authenticates with its own client certificate, which the
 * registry's token endpoint turns into pull (never push or delete) access.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { request } from "node:https";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type NodeServer, startNodeServer } from "./support/node-cluster.js";
import { skiff } from "./support/skiff.js";
import { buildTestImage, pushImage, type TestImage } from "./support/test-images.js";

interface Reply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

describe("nodes pull from the cluster registry by name", () => {
  let server: NodeServer;
  let name: string;
  let port: number;
  let image: TestImage;
  let node: { certPem: string; keyPem: string };
  let ca: string;

  /** One HTTPS request to the registry, verifying it against the cluster CA, showing `cert` when given. */
  function call(method: string, path: string, headers: Record<string, string> = {}, cert?: { certPem: string; keyPem: string }): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const tls = cert ? { cert: cert.certPem, key: cert.keyPem } : {};
      const req = request({ host: "127.0.0.1", servername: "localhost", port, method, path, headers: { Host: name, ...headers }, ca, agent: false, ...tls }, (res) => {
        let body = "";
        res.on("data", (c: Buffer) => {
          body += c.toString();
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on("error", reject);
      });
      req.on("error", reject);
      req.end();
    });
  }

  before(async () => {
    server = await startNodeServer();
    const published = await server.eventually("the local-registry-hosting ConfigMap", () => {
      const r = server.kubectl(["get", "configmap", "-n", "kube-public", "local-registry-hosting", "-o", "jsonpath={.data.localRegistryHosting\\.v1}"]);
      return r.status === 0 && r.stdout !== "" ? r.stdout : undefined;
    });
    name = /^host: "(localhost:(\d+))"$/m.exec(published)?.[1] ?? assert.fail(`no host in ${published}`);
    port = Number(name.split(":")[1]);
    ca = readFileSync(join(server.dataDir, "tls", "server-ca.crt"), "utf8");
    const pki = join(server.dataDir, "agent", "pki", server.nodeName);
    node = { certPem: readFileSync(join(pki, "client-kubelet.crt"), "utf8"), keyPem: readFileSync(join(pki, "client-kubelet.key"), "utf8") };
    const pw = skiff(["registry", "login-password", "--data-dir", server.dataDir]);
    assert.equal(pw.status, 0, pw.stderr);
    // A name the node's store does not hold yet: the pod can only start by pulling it.
    image = buildTestImage({ name: "skiff.test/app:1", extraFiles: { "/hello": "#!/bin/sh\necho hello from the cluster registry\n" } });
    await pushImage(image, `${name}/team/app:1`, { creds: { username: "skiff", password: pw.stdout.trim() } });
  });

  after(async () => {
    image?.cleanup();
    await server?.stop();
  });

  it("publishes the registry's name and lets nodes read it", () => {
    const can = server.kubectl(["auth", "can-i", "get", "configmap/local-registry-hosting", "-n", "kube-public", "--as", `system:node:${server.nodeName}`, "--as-group", "system:nodes"]);
    assert.equal(can.stdout.trim(), "yes", can.stderr);
  });

  it("runs a pod whose image is localhost:PORT/... with no registries.yaml", async () => {
    const manifest = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "from-registry", namespace: "default" },
      spec: { containers: [{ name: "app", image: `${name}/team/app:1`, command: ["sh", "-c", "/hello; sleep 3600"] }], terminationGracePeriodSeconds: 1 },
    };
    const applied = server.kubectl(["apply", "-f", "-"], { input: JSON.stringify(manifest) });
    assert.equal(applied.status, 0, applied.stderr);
    let last = "";
    await server
      .eventually(
        "the pod to run",
        () => {
          last = server.kubectl(["get", "pod", "from-registry", "-o", "jsonpath={.status.phase} {.status.containerStatuses[0].state.waiting.message}"]).stdout;
          return last.startsWith("Running") ? true : undefined;
        },
        120_000,
      )
      .catch((err: Error) => assert.fail(`${err.message}\nlast pod state: ${last}`));
    const imageID = server.kubectl(["get", "pod", "from-registry", "-o", "jsonpath={.status.containerStatuses[0].imageID}"]).stdout;
    assert.equal(imageID, `${name}/team/app@${image.digest}`);
    await server.eventually("the pod's output", () => (/hello from the cluster registry/.test(server.kubectl(["logs", "from-registry"]).stdout) ? true : undefined));
  });

  it("gives the node's own certificate pull and never push or delete", async () => {
    const scope = "scope=repository:team/app:pull,push,delete";
    const tok = await call("GET", `/v2/token?service=skiff-registry&${scope}`, {}, node);
    assert.equal(tok.status, 200, tok.body);
    const token = (JSON.parse(tok.body) as { token: string }).token;
    const claims = JSON.parse(Buffer.from(token.split(".")[1] as string, "base64url").toString("utf8")) as { sub: string; access: unknown };
    assert.equal(claims.sub, `system:node:${server.nodeName}`);
    assert.deepEqual(claims.access, [{ type: "repository", name: "team/app", actions: ["pull"] }]);
    const auth = { Authorization: `Bearer ${token}` };
    const get = await call("GET", "/v2/team/app/manifests/1", { ...auth, Accept: "application/vnd.oci.image.manifest.v1+json" });
    assert.equal(get.status, 200, get.body);
    const push = await call("POST", "/v2/team/app/blobs/uploads/", auth);
    assert.equal(push.status, 401, "a node cannot push");
    const del = await call("DELETE", `/v2/team/app/manifests/${image.digest}`, auth);
    assert.equal(del.status, 401, "a node cannot delete");
    // Without the certificate the same request is anonymous: nothing.
    const anon = await call("GET", `/v2/token?service=skiff-registry&${scope}`);
    const anonClaims = JSON.parse(Buffer.from((JSON.parse(anon.body) as { token: string }).token.split(".")[1] as string, "base64url").toString("utf8")) as { access: unknown };
    assert.deepEqual(anonClaims.access, [{ type: "repository", name: "team/app", actions: [] }]);
  });
});
