/**
 * Custom resources in /openapi/v2 and /openapi/v3 on a real server, as
 * upstream's apiextensions-apiserver publishes them: a CRD's served versions
 * appear (with hashes and ETags that change with them), `kubectl explain`
 * works for the kind with every kubectl version, server-side apply keeps
 * working, and everything leaves with the CRD.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { kubectlVersions, ok, startTestServer, type TestServer } from "./support/cluster.js";
import { assertGolden } from "./support/golden.js";
import { RawClient } from "./support/https-client.js";

const GOLDEN = fileURLToPath(new URL("./fixtures/explain/", import.meta.url));
const GV = "apis/example.com/v1";

const CRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wd]}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}, scale: {specReplicasPath: .spec.replicas, statusReplicasPath: .status.replicas}}
    schema:
      openAPIV3Schema:
        description: Widget is a thing made to test how custom resources are published in OpenAPI.
        type: object
        properties:
          spec:
            description: WidgetSpec is what the user wants of a Widget.
            type: object
            required: [size]
            properties:
              size:
                description: Size of the widget, in centimetres.
                type: integer
                minimum: 1
                default: 3
              replicas:
                description: How many copies of the widget to make.
                type: integer
              color:
                description: Color the widget is painted.
                type: string
                enum: [red, green, blue]
              port:
                description: Port the widget listens on, a number or a name.
                x-kubernetes-int-or-string: true
              note:
                description: An optional note about the widget.
                type: string
                nullable: true
          status:
            description: WidgetStatus is what the controller last observed.
            type: object
            properties:
              replicas:
                description: How many copies exist.
                type: integer
`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let srv: TestServer;
let raw: RawClient;
before(async () => {
  srv = await startTestServer();
  raw = RawClient.fromKubeconfig(srv.kubeconfig, srv.port);
});
after(async () => {
  await srv?.stop();
});

/** kubectl `version` (default: the dispatcher) with a cache dir of its own under the server's data dir. */
function kubectl(args: string[], version?: string): { status: number; stdout: string; stderr: string } {
  return srv.kubectl([...args, "--cache-dir", join(srv.dataDir, `kubectl-cache-${version ?? "default"}`)], version ? { version } : {});
}

async function v3Index(): Promise<Record<string, { serverRelativeURL: string }>> {
  const r = await raw.get("/openapi/v3");
  assert.equal(r.code, 200);
  return (JSON.parse(r.text) as { paths: Record<string, { serverRelativeURL: string }> }).paths;
}

/** Polls (bounded) until the custom group-version is, or is no longer, in the /openapi/v3 index. */
async function waitForIndex(present: boolean): Promise<Record<string, { serverRelativeURL: string }>> {
  let paths = await v3Index();
  for (let i = 0; i < 100 && GV in paths !== present; i++) {
    await sleep(100);
    paths = await v3Index();
  }
  assert.equal(GV in paths, present, `${GV} ${present ? "appears in" : "leaves"} the /openapi/v3 index`);
  return paths;
}

describe("custom resources in OpenAPI", () => {
  let v2Etag = "";
  let v3IndexEtag = "";

  test("a new CRD appears in the /openapi/v3 index (with its hash) and in /openapi/v2", async () => {
    const v2Before = await raw.get("/openapi/v2");
    const indexBefore = await raw.get("/openapi/v3");
    assert.equal(v2Before.code, 200);
    v2Etag = String(v2Before.headers.etag);
    v3IndexEtag = String(indexBefore.headers.etag);

    ok(srv.kubectl(["apply", "-f", "-"], { input: CRD }), "apply CRD");
    ok(srv.kubectl(["wait", "--for=condition=Established", "crd/widgets.example.com", "--timeout=30s"]), "established");
    const paths = await waitForIndex(true);
    const url = paths[GV]!.serverRelativeURL;
    const hash = /\?hash=([0-9A-F]{128})$/.exec(url)?.[1];
    assert.ok(hash, url);

    const doc = await raw.get(url);
    assert.equal(doc.code, 200);
    assert.equal(doc.headers.etag, `"${hash}"`);
    assert.match(String(doc.headers["cache-control"]), /immutable/);
    const v3 = JSON.parse(doc.text) as { paths: Record<string, unknown>; components: { schemas: Record<string, { properties?: Record<string, unknown> }> } };
    assert.ok("/apis/example.com/v1/namespaces/{namespace}/widgets/{name}/scale" in v3.paths);
    assert.ok("/apis/example.com/v1/widgets" in v3.paths);
    const widget = v3.components.schemas["com.example.v1.Widget"];
    assert.ok(widget && "com.example.v1.WidgetList" in v3.components.schemas && "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta" in v3.components.schemas);
    assert.deepEqual(Object.keys(widget.properties ?? {}).sort(), ["apiVersion", "kind", "metadata", "spec", "status"]);

    const index = await raw.get("/openapi/v3");
    assert.notEqual(index.headers.etag, v3IndexEtag, "the index's ETag changes with it");

    const v2 = await raw.get("/openapi/v2");
    assert.notEqual(v2.headers.etag, v2Etag, "the /openapi/v2 ETag changes");
    const swagger = JSON.parse(v2.text) as { definitions: Record<string, unknown>; paths: Record<string, unknown> };
    assert.ok("com.example.v1.Widget" in swagger.definitions && "com.example.v1.WidgetList" in swagger.definitions);
    assert.ok("/apis/example.com/v1/namespaces/{namespace}/widgets" in swagger.paths);
    const proto = await raw.get("/openapi/v2", { headers: { Accept: "application/com.github.proto-openapi.spec.v2@v1.0+protobuf" } });
    assert.equal(proto.code, 200);
    assert.equal(proto.headers.etag, v2.headers.etag, "protobuf shares the JSON's hash");
  });

  for (const version of kubectlVersions()) {
    test(`kubectl ${version} explain widgets / widget.spec shows the schema's descriptions`, () => {
      const kind = kubectl(["explain", "widgets"], version);
      assert.equal(kind.status, 0, kind.stderr);
      assert.equal(kind.stderr, "");
      assert.match(kind.stdout, /^GROUP:\s+example\.com\nKIND:\s+Widget\nVERSION:\s+v1\n/);
      assert.match(kind.stdout, /Widget is a thing made to test how custom resources are published in\s+OpenAPI\./);
      assert.match(kind.stdout, /^ {2}metadata\t<ObjectMeta>$/m);
      assert.match(kind.stdout, /^ {2}spec\t<Object>\n {4}WidgetSpec is what the user wants of a Widget\.$/m);
      assert.match(kind.stdout, /^ {2}status\t<Object>\n {4}WidgetStatus is what the controller last observed\.$/m);
      assertGolden(GOLDEN, "widgets", version, kind.stdout);

      const spec = kubectl(["explain", "widget.spec"], version);
      assert.equal(spec.status, 0, spec.stderr);
      assert.equal(spec.stderr, "");
      assert.match(spec.stdout, /^FIELD: spec <Object>$/m);
      assert.match(spec.stdout, /^ {2}size\t<integer> -required-\n {4}Size of the widget, in centimetres\.$/m);
      // kubectl prints enum values from 1.30 on.
      const enumLine = Number(version.split(".")[1]) >= 30 ? " {2}enum: red, green, blue\\n" : "";
      assert.match(spec.stdout, new RegExp(`^ {2}color\\t<string>\\n${enumLine} {4}Color the widget is painted\\.$`, "m"));
      assert.match(spec.stdout, /Port the widget listens on, a number or a name\./);
      assertGolden(GOLDEN, "widget.spec", version, spec.stdout);
    });

    test(`kubectl ${version} explain of the custom kind needs no OpenAPI fallback`, () => {
      const r = kubectl(["explain", "widget.spec", "-v=6"], version);
      assert.equal(r.status, 0, r.stderr);
      assert.doesNotMatch(r.stderr, /fall(ing)? ?back|failed to download openapi|openapi.*(error|unavailable|not found)/i);
      assert.match(r.stderr, /\/openapi\/v3\/apis\/example\.com\/v1\?hash=[0-9A-F]{128}/);
      for (const line of r.stderr.split("\n").filter((l) => /\/openapi\//.test(l))) assert.match(line, /200 OK/, line);
    });
  }

  test("kubectl apply --server-side of a custom resource still works", () => {
    const versions = kubectlVersions();
    for (const version of [versions[0], versions.at(-1)].filter((v): v is string => !!v)) {
      const name = `w-${version.replace(".", "")}`;
      const manifest = `apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: ${name}, namespace: default}\nspec: {size: 5, color: red, port: http}\n`;
      assert.match(ok(srv.kubectl(["apply", "--server-side", "-f", "-"], { version, input: manifest }), "apply --server-side"), /serverside-applied/);
      const again = manifest.replace("color: red", "color: blue");
      ok(srv.kubectl(["apply", "--server-side", "-f", "-"], { version, input: again }), "apply --server-side again");
      const got = JSON.parse(ok(srv.kubectl(["get", "widget", name, "-o", "json", "--show-managed-fields"]), "get")) as {
        spec: Record<string, unknown>;
        metadata: { managedFields?: { manager: string; operation: string }[] };
      };
      assert.deepEqual(got.spec, { size: 5, color: "blue", port: "http" });
      assert.ok(got.metadata.managedFields?.some((f) => f.manager === "kubectl" && f.operation === "Apply"));
    }
  });

  test("deleting the CRD removes it from /openapi/v3 and /openapi/v2", async () => {
    const before = await raw.get("/openapi/v3");
    ok(srv.kubectl(["delete", "crd", "widgets.example.com"]), "delete CRD");
    await waitForIndex(false);
    const gone = await raw.get(`/openapi/v3/${GV}`);
    assert.equal(gone.code, 404);
    const index = await raw.get("/openapi/v3");
    assert.notEqual(index.headers.etag, before.headers.etag);
    assert.equal(index.headers.etag, v3IndexEtag, "back to the built-in index");
    const v2 = await raw.get("/openapi/v2");
    assert.equal(v2.headers.etag, v2Etag, "back to the built-in /openapi/v2");
    assert.equal(v2.text.includes("com.example.v1.Widget"), false);
    const explain = kubectl(["explain", "widgets"], kubectlVersions().at(-1));
    assert.notEqual(explain.status, 0);
  });
});
