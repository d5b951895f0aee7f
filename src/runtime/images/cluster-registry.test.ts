/**
 * The node's implicit entry for the cluster registry: how it merges with a
 * registries.yaml, how it follows the published port, and a real pull of
 * `localhost:PORT/…` from skiff's registry as a node (client certificate
 * sent to the token realm too), which an anonymous node cannot do.
 */
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { silentLogger } from "../../machinery/log.js";
import { createCertificateAuthority, issueCertificate, type KeyPairPem } from "../../pki/certs.js";
import { localRegistryHosting, localRegistryHostingConfigMap, parseLocalRegistryHosting } from "../../registry/hosting.js";
import { startTestRegistryServer, type TestRegistryServer } from "../../registry/test-helpers.js";
import { buildTestImage, pushImage, type TestImage, tempDir } from "../../../test/support/test-images.js";
import { type ClusterRegistryAccess, ClusterRegistry, withClusterRegistry } from "./cluster-registry.js";
import { EMPTY_REGISTRY_CONFIG, parseRegistryConfig, registryEndpoints } from "./registry-config.js";
import { FileImageStore } from "./store.js";

const ACCESS: ClusterRegistryAccess = { serverHost: "10.0.0.5", caPem: "CA", certPem: "CERT", keyPem: "KEY" };

describe("withClusterRegistry", () => {
  it("maps localhost:PORT to the server with the cluster CA and the node's certificate", () => {
    const c = withClusterRegistry(EMPTY_REGISTRY_CONFIG, 5000, ACCESS);
    assert.deepEqual(c.mirrors, { "localhost:5000": { endpoint: ["https://10.0.0.5:5000"], mirrorOnly: true } });
    assert.deepEqual(c.configs, { "10.0.0.5:5000": { tls: { caPem: "CA", certPem: "CERT", keyPem: "KEY" } } });
    // Only the server: the node's own localhost is not the registry.
    const endpoints = registryEndpoints(c, "localhost:5000");
    assert.deepEqual(endpoints.map((e) => e.apiRoot), ["https://10.0.0.5:5000/v2"]);
    const [first] = endpoints;
    assert.deepEqual(first?.tls, { caPem: "CA", certPem: "CERT", keyPem: "KEY" });
    // Other registries are untouched.
    assert.deepEqual(registryEndpoints(c, "localhost:5001").map((e) => e.apiRoot), ["https://localhost:5001/v2"]);
  });

  it("brackets an IPv6 server address, and leaves the certificate out when the node has none", () => {
    const c = withClusterRegistry(EMPTY_REGISTRY_CONFIG, 5000, { serverHost: "fd00::1", caPem: "CA" });
    assert.deepEqual(c.mirrors["localhost:5000"]?.endpoint, ["https://[fd00::1]:5000"]);
    assert.deepEqual(c.configs["[fd00::1]:5000"], { tls: { caPem: "CA" } });
  });

  it("keeps the user's registries.yaml, whose explicit entries for the name or endpoint win", () => {
    const user = parseRegistryConfig(
      [
        "mirrors:",
        '  "docker.example": { endpoint: ["http://127.0.0.1:9999"] }',
        "configs:",
        '  "*": { auth: { username: u, password: p } }',
      ].join("\n"),
    );
    const merged = withClusterRegistry(user, 5000, ACCESS);
    assert.deepEqual(merged.mirrors["docker.example"], user.mirrors["docker.example"]);
    assert.deepEqual(merged.configs["*"], user.configs["*"]);
    assert.deepEqual(merged.configs["10.0.0.5:5000"], { tls: { caPem: "CA", certPem: "CERT", keyPem: "KEY" } }, "a wildcard is not an explicit entry");

    const ownMirror = parseRegistryConfig('mirrors:\n  "localhost:5000": { endpoint: ["https://10.9.9.9:5000"] }\n');
    assert.deepEqual(withClusterRegistry(ownMirror, 5000, ACCESS).mirrors["localhost:5000"]?.endpoint, ["https://10.9.9.9:5000"]);

    const ownTls = parseRegistryConfig('configs:\n  "localhost:5000": { tls: { insecure_skip_verify: true } }\n');
    const t = withClusterRegistry(ownTls, 5000, ACCESS);
    assert.equal(t.configs["10.0.0.5:5000"], undefined);
    assert.deepEqual(registryEndpoints(t, "localhost:5000")[0]?.tls, { caFile: undefined, certFile: undefined, keyFile: undefined, insecureSkipVerify: true });
  });
});

describe("the local-registry-hosting ConfigMap", () => {
  it("carries KEP-1755's fields and reads back", () => {
    const cm = localRegistryHostingConfigMap(localRegistryHosting(5000, "10.0.0.5"));
    assert.deepEqual(cm.metadata, { name: "local-registry-hosting", namespace: "kube-public" });
    assert.deepEqual(parseLocalRegistryHosting(cm), { host: "localhost:5000", hostFromContainerRuntime: "localhost:5000", hostFromClusterNetwork: "10.0.0.5:5000" });
    assert.match(cm.data?.["localRegistryHosting.v1"] ?? "", /^host: "localhost:5000"$/m);
    assert.deepEqual(parseLocalRegistryHosting(localRegistryHostingConfigMap(localRegistryHosting(5000))), { host: "localhost:5000", hostFromContainerRuntime: "localhost:5000" });
    assert.equal(parseLocalRegistryHosting({ data: { "localRegistryHosting.v1": "- a list" } }), undefined);
    assert.equal(parseLocalRegistryHosting({ data: {} }), undefined);
  });
});

describe("ClusterRegistry", () => {
  it("follows the published port: none, then one, then another, then none again", async () => {
    let cm: { data?: Record<string, string> } | undefined;
    const reg = new ClusterRegistry({ base: EMPTY_REGISTRY_CONFIG, access: ACCESS, read: async () => cm, logger: silentLogger });
    assert.equal(await reg.refresh(), undefined);
    assert.deepEqual(reg.config(), EMPTY_REGISTRY_CONFIG);
    cm = localRegistryHostingConfigMap(localRegistryHosting(5000));
    assert.equal(await reg.refresh(), 5000);
    assert.deepEqual(reg.config().mirrors["localhost:5000"]?.endpoint, ["https://10.0.0.5:5000"]);
    cm = localRegistryHostingConfigMap(localRegistryHosting(41234));
    assert.equal(await reg.refresh(), 41234);
    assert.equal(reg.config().mirrors["localhost:5000"], undefined);
    assert.deepEqual(reg.config().mirrors["localhost:41234"]?.endpoint, ["https://10.0.0.5:41234"]);
    cm = undefined;
    assert.equal(await reg.refresh(), undefined);
    assert.deepEqual(reg.config(), EMPTY_REGISTRY_CONFIG);
  });

  it("keeps what it knew when a read fails, and stops when aborted", async () => {
    let fail = false;
    let reads = 0;
    const reg = new ClusterRegistry({
      base: EMPTY_REGISTRY_CONFIG,
      access: ACCESS,
      read: async () => {
        reads++;
        if (fail) throw new Error("connection refused");
        return localRegistryHostingConfigMap(localRegistryHosting(5000));
      },
      intervalMs: 5,
      logger: silentLogger,
    });
    const abort = new AbortController();
    const running = reg.run(abort.signal);
    while (reads < 2) await new Promise((r) => setTimeout(r, 5));
    fail = true;
    const failedFrom = reads;
    while (reads < failedFrom + 2) await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(reg.config().mirrors["localhost:5000"]?.endpoint, ["https://10.0.0.5:5000"]);
    abort.abort();
    await running;
  });
});

describe("pulling localhost:PORT from skiff's registry as a node", () => {
  let t: TestRegistryServer;
  let img: TestImage;
  let node: KeyPairPem;
  let dir: string;

  before(async () => {
    const clientCa = await createCertificateAuthority({ commonName: "skiff-test-client-ca" });
    node = await issueCertificate({ ca: clientCa, commonName: "system:node:n1", organizations: ["system:nodes"], usages: ["client"], validDays: 1 });
    t = await startTestRegistryServer({}, clientCa.certPem);
    img = buildTestImage({ name: "skiff.test/busybox:1" });
    await pushImage(img, `${t.addr}/team/busybox:1`, { creds: { username: "skiff", password: await t.password() } });
    dir = tempDir("cluster-registry");
  });
  after(async () => {
    img?.cleanup();
    await t?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function pullAs(access: ClusterRegistryAccess, n: string, repo = "team/busybox:1") {
    const reg = new ClusterRegistry({ base: EMPTY_REGISTRY_CONFIG, access, read: async () => localRegistryHostingConfigMap(localRegistryHosting(t.port)), logger: silentLogger });
    await reg.refresh();
    const store = new FileImageStore({ root: join(dir, n), registryConfig: () => reg.config(), platform: { os: "linux", architecture: "amd64" } });
    return store.pull(`localhost:${t.port}/${repo}`);
  }

  it("says not found for an image the registry does not have (never tries the node's own localhost)", async () => {
    const r = await pullAs({ serverHost: "127.0.0.1", caPem: t.caPem, certPem: node.certPem, keyPem: node.keyPem }, "missing", "team/missing:1");
    assert.ok(!r.ok);
    assert.equal(r.error.code, "NotFound", r.error.message);
  });

  it("pulls with the node's certificate, verifying the registry against the CA", async () => {
    const r = await pullAs({ serverHost: "127.0.0.1", caPem: t.caPem, certPem: node.certPem, keyPem: node.keyPem }, "node");
    assert.ok(r.ok, r.ok ? "" : r.error.message);
  });

  it("cannot pull without the node's certificate (no anonymous pull here)", async () => {
    const r = await pullAs({ serverHost: "127.0.0.1", caPem: t.caPem }, "anonymous");
    assert.ok(!r.ok);
    assert.equal(r.error.code, "Unauthenticated", r.error.message);
  });

  it("refuses a registry the cluster CA did not sign", async () => {
    const other = await createCertificateAuthority({ commonName: "someone-else" });
    const r = await pullAs({ serverHost: "127.0.0.1", caPem: other.certPem, certPem: node.certPem, keyPem: node.keyPem }, "wrong-ca");
    assert.ok(!r.ok);
    assert.match(r.error.message, /certificate/i);
  });
});
