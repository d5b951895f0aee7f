import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readlinkSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { BUILTIN_RESOURCES } from "../resources.js";
import {
  type JsonObject,
  negotiateOpenAPIV2,
  negotiateOpenAPIV3,
  OPENAPI_V2_PROTOBUF,
  openapiV2Json,
  openapiV2Object,
  openapiV2Protobuf,
  openapiV3Document,
  openapiV3Index,
  openapiV3Paths,
} from "./documents.js";
import { decodeOpenAPIV2 } from "./gnostic.js";
import { PATCH_META } from "./patch-meta.js";

const VERSION = "v1.30.14+skiff";

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => v as Obj;

function v2(): JsonObject {
  return JSON.parse(openapiV2Json(VERSION).body.toString()) as JsonObject;
}

describe("OpenAPI v2", () => {
  test("paths carry operations with x-kubernetes-action, GVK and kubectl's parameters", () => {
    const doc = v2();
    assert.equal(doc.swagger, "2.0");
    assert.deepEqual(doc.info, { title: "Kubernetes", version: VERSION });
    const pods = obj(obj(doc.paths)["/api/v1/namespaces/{namespace}/pods"]);
    const list = obj(pods.get);
    assert.equal(list["x-kubernetes-action"], "list");
    assert.deepEqual(list["x-kubernetes-group-version-kind"], { group: "", kind: "Pod", version: "v1" });
    assert.equal(list.operationId, "listCoreV1NamespacedPod");
    const listParams = (list.parameters as Obj[]).map((p) => p.name);
    for (const name of ["watch", "resourceVersion", "resourceVersionMatch", "sendInitialEvents", "labelSelector", "fieldSelector", "limit", "continue", "timeoutSeconds", "allowWatchBookmarks"]) {
      assert.ok(listParams.includes(name), `list has ${name}`);
    }
    assert.deepEqual(obj(pods.post)["x-kubernetes-action"], "post");
    assert.deepEqual(obj(pods.delete)["x-kubernetes-action"], "deletecollection");

    const pod = obj(obj(doc.paths)["/api/v1/namespaces/{namespace}/pods/{name}"]);
    const patch = obj(pod.patch);
    assert.equal(patch["x-kubernetes-action"], "patch");
    const patchParams = patch.parameters as Obj[];
    const fieldValidation = patchParams.find((p) => p.name === "fieldValidation");
    assert.deepEqual({ in: fieldValidation?.in, type: fieldValidation?.type }, { in: "query", type: "string" });
    for (const name of ["dryRun", "fieldManager", "force"]) assert.ok(patchParams.some((p) => p.name === name), `patch has ${name}`);
    assert.deepEqual(patch.consumes, [
      "application/json-patch+json",
      "application/merge-patch+json",
      "application/strategic-merge-patch+json",
      "application/apply-patch+yaml",
    ]);
    const deleteParams = (obj(pod.delete).parameters as Obj[]).map((p) => p.name);
    for (const name of ["gracePeriodSeconds", "propagationPolicy", "orphanDependents", "dryRun"]) assert.ok(deleteParams.includes(name));
    assert.ok((pod.parameters as Obj[]).some((p) => p.name === "pretty"));

    assert.equal(obj(obj(obj(doc.paths)["/api/v1/pods"]).get)["x-kubernetes-action"], "list");
    assert.equal(obj(obj(obj(doc.paths)["/api/v1/watch/namespaces/{namespace}/pods"]).get)["x-kubernetes-action"], "watchlist");
    assert.equal(obj(obj(obj(doc.paths)["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"]).patch)["x-kubernetes-group-version-kind"] !== undefined, true);
    assert.deepEqual(obj(obj(obj(doc.paths)["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"]).get)["x-kubernetes-group-version-kind"], {
      group: "autoscaling",
      kind: "Scale",
      version: "v1",
    });
    assert.equal(obj(obj(obj(doc.paths)["/api/v1/namespaces/{namespace}/pods/{name}/exec"]).post)["x-kubernetes-action"], "connect");
  });

  test("every served resource has its paths; every PATCH takes fieldValidation", () => {
    const paths = obj(v2().paths);
    for (const r of BUILTIN_RESOURCES) {
      const prefix = r.group === "" ? `/api/${r.version}` : `/apis/${r.group}/${r.version}`;
      const base = r.namespaced ? `${prefix}/namespaces/{namespace}/${r.plural}` : `${prefix}/${r.plural}`;
      assert.ok(paths[base], `${base}`);
      if (r.verbs.includes("get")) assert.ok(paths[`${base}/{name}`], `${base}/{name}`);
    }
    for (const [path, item] of Object.entries(paths)) {
      const patch = obj(item).patch as Obj | undefined;
      // connect (proxy) PATCHes carry their options kind, not the resource's GVK.
      if (!patch || patch["x-kubernetes-action"] === "connect") continue;
      assert.ok((patch.parameters as Obj[]).some((p) => p.name === "fieldValidation"), `${path} PATCH has fieldValidation`);
    }
  });

  test("definitions: descriptions, formats and upstream patch metadata", () => {
    const defs = obj(v2().definitions);
    const container = obj(defs["io.k8s.api.core.v1.Container"]);
    assert.equal(container.description, "A single application container that you want to run within a pod.");
    assert.deepEqual(container.required, ["name"]);
    const props = obj(container.properties);
    assert.deepEqual(
      pick(obj(props.env), ["x-kubernetes-patch-strategy", "x-kubernetes-patch-merge-key", "x-kubernetes-list-type", "x-kubernetes-list-map-keys"]),
      { "x-kubernetes-patch-strategy": "merge", "x-kubernetes-patch-merge-key": "name", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"] },
    );
    assert.deepEqual(
      pick(obj(props.ports), ["x-kubernetes-patch-strategy", "x-kubernetes-patch-merge-key", "x-kubernetes-list-type", "x-kubernetes-list-map-keys"]),
      {
        "x-kubernetes-patch-strategy": "merge",
        "x-kubernetes-patch-merge-key": "containerPort",
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["containerPort", "protocol"],
      },
    );
    assert.deepEqual(obj(props.ports).items, { $ref: "#/definitions/io.k8s.api.core.v1.ContainerPort" });
    assert.equal(obj(props.args)["x-kubernetes-list-type"], "atomic");

    const podSpec = obj(obj(defs["io.k8s.api.core.v1.PodSpec"]).properties);
    assert.equal(obj(podSpec.containers)["x-kubernetes-patch-strategy"], "merge");
    assert.equal(obj(podSpec.containers)["x-kubernetes-patch-merge-key"], "name");
    assert.equal(obj(podSpec.volumes)["x-kubernetes-patch-strategy"], "merge,retainKeys");
    assert.equal(obj(podSpec.nodeSelector)["x-kubernetes-map-type"], "atomic");
    assert.deepEqual(obj(podSpec.nodeSelector).additionalProperties, { type: "string" });
    assert.deepEqual(pick(obj(podSpec.terminationGracePeriodSeconds), ["type", "format"]), { type: "integer", format: "int64" });

    const port = obj(obj(obj(defs["io.k8s.api.core.v1.ContainerPort"]).properties).containerPort);
    assert.deepEqual(pick(port, ["type", "format"]), { type: "integer", format: "int32" });
    assert.deepEqual(obj(defs["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]).format, "int-or-string");
    assert.deepEqual(pick(obj(defs["io.k8s.apimachinery.pkg.apis.meta.v1.Time"]), ["type", "format"]), { type: "string", format: "date-time" });
    assert.equal(obj(defs["io.k8s.apimachinery.pkg.api.resource.Quantity"]).type, "string");
    assert.equal(obj(defs["io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector"])["x-kubernetes-map-type"], "atomic");
    assert.deepEqual(obj(defs["io.k8s.api.apps.v1.Deployment"])["x-kubernetes-group-version-kind"], [{ group: "apps", kind: "Deployment", version: "v1" }]);
    assert.deepEqual(obj(defs["io.k8s.api.apps.v1.DeploymentList"])["x-kubernetes-group-version-kind"], [{ group: "apps", kind: "DeploymentList", version: "v1" }]);
    const meta = obj(obj(defs["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]).properties);
    assert.equal(obj(meta.ownerReferences)["x-kubernetes-patch-merge-key"], "uid");
    assert.equal(obj(meta.finalizers)["x-kubernetes-list-type"], "set");
  });

  test("every $ref resolves and every patch-meta entry names a real field", () => {
    const doc = v2();
    const defs = obj(doc.definitions);
    for (const ref of refs(doc)) assert.ok(ref.startsWith("#/definitions/") && defs[ref.slice(14)], `dangling ${ref}`);
    for (const [def, fields] of Object.entries(PATCH_META)) {
      const props = obj(obj(defs[def]).properties);
      for (const field of Object.keys(fields)) assert.ok(props[field], `${def}.${field}`);
    }
  });

  test("the protobuf encoding decodes back to the same document", () => {
    const json = v2();
    const pb = openapiV2Protobuf(VERSION);
    assert.equal(pb.contentType, OPENAPI_V2_PROTOBUF);
    const doc = decodeOpenAPIV2(pb.body);
    assert.equal(doc.swagger, "2.0");
    assert.deepEqual(doc.info, { title: "Kubernetes", version: VERSION });
    const paths = (obj(doc.paths).path as Obj[]).map((p) => p.name);
    assert.deepEqual(paths, Object.keys(obj(json.paths)));
    const defs = obj(doc.definitions).additional_properties as Obj[];
    assert.deepEqual(
      defs.map((d) => d.name),
      Object.keys(obj(json.definitions)),
    );
    const container = obj(defs.find((d) => d.name === "io.k8s.api.core.v1.Container")?.value);
    assert.equal(container.description, "A single application container that you want to run within a pod.");
    const ports = obj((obj(container.properties).additional_properties as Obj[]).find((p) => p.name === "ports")?.value);
    const ext = Object.fromEntries((ports.vendor_extension as Obj[]).map((e) => [e.name, obj(e.value).yaml]));
    assert.equal(ext["x-kubernetes-patch-merge-key"], "containerPort\n");
    assert.equal(ext["x-kubernetes-list-map-keys"], "- containerPort\n- protocol\n");
    const pull = obj((obj(container.properties).additional_properties as Obj[]).find((p) => p.name === "imagePullPolicy")?.value);
    assert.deepEqual(
      (pull.enum as Obj[]).map((a) => a.yaml),
      ["Always\n", "IfNotPresent\n", "Never\n"],
      "enum values survive the protobuf encoding",
    );
    const podPatch = obj(obj((obj(doc.paths).path as Obj[]).find((p) => p.name === "/api/v1/namespaces/{namespace}/pods/{name}")?.value).patch);
    const names = (podPatch.parameters as Obj[]).map((p) => {
      const param = obj(p.parameter);
      return param.body_parameter ? obj(param.body_parameter).name : obj(obj(param.non_body_parameter).query_parameter_sub_schema).name;
    });
    assert.ok(names.includes("fieldValidation"));
    assert.equal(pb.hash, openapiV2Json(VERSION).hash, "protobuf shares the JSON's ETag, as upstream");
  });

  test("Accept negotiation mirrors kube-openapi", () => {
    assert.equal(negotiateOpenAPIV2(undefined, VERSION)?.contentType, "application/json");
    assert.equal(negotiateOpenAPIV2("application/json, */*", VERSION)?.contentType, "application/json");
    assert.equal(negotiateOpenAPIV2("application/com.github.proto-openapi.spec.v2@v1.0+protobuf", VERSION)?.contentType, OPENAPI_V2_PROTOBUF);
    assert.equal(
      negotiateOpenAPIV2("application/com.github.proto-openapi.spec.v2.v1.0+protobuf, application/json;q=0.9", VERSION)?.contentType,
      OPENAPI_V2_PROTOBUF,
    );
    assert.equal(negotiateOpenAPIV2("text/html", VERSION), undefined);
    assert.equal(negotiateOpenAPIV3("application/com.github.proto-openapi.spec.v3@v1.0+protobuf", "api/v1"), "notAcceptable");
    assert.equal(negotiateOpenAPIV3("application/json", "apis/nope/v1"), undefined);
    assert.equal(typeof negotiateOpenAPIV3("application/json, */*", "api/v1"), "object");
  });
});

describe("OpenAPI v3", () => {
  test("the index lists every group-version with the document's SHA-512", () => {
    const index = JSON.parse(openapiV3Index().body.toString()) as { paths: Record<string, { serverRelativeURL: string }> };
    assert.ok(index.paths["api/v1"]);
    assert.ok(index.paths["apis/apps/v1"]);
    assert.ok(index.paths["apis/apiextensions.k8s.io/v1"]);
    for (const [gv, { serverRelativeURL }] of Object.entries(index.paths)) {
      const doc = openapiV3Document(gv);
      assert.ok(doc, gv);
      const hash = createHash("sha512").update(doc.body).digest("hex").toUpperCase();
      assert.equal(serverRelativeURL, `/openapi/v3/${gv}?hash=${hash}`);
      assert.equal(doc.etag, `"${hash}"`);
    }
    assert.deepEqual(Object.keys(index.paths).sort(), openapiV3Paths());
  });

  test("enum fields carry upstream's enum values and description (v2 and v3)", () => {
    const expected = [
      "Image pull policy. One of Always, Never, IfNotPresent. Defaults to Always if :latest tag is specified, or IfNotPresent otherwise. Cannot be updated. More info: https://kubernetes.io/docs/concepts/containers/images#updating-images",
      "",
      "Possible enum values:",
      ' - `"Always"` means that kubelet always attempts to pull the latest image. Container will fail If the pull fails.',
      ' - `"IfNotPresent"` means that kubelet pulls if the image isn\'t present on disk. Container will fail if the image isn\'t present and the pull fails.',
      ' - `"Never"` means that kubelet never pulls an image, but only uses a local image. Container will fail if the image isn\'t present',
    ].join("\n");
    const v2Pull = obj(obj(obj(obj(v2().definitions)["io.k8s.api.core.v1.Container"]).properties).imagePullPolicy);
    assert.deepEqual(v2Pull.enum, ["Always", "IfNotPresent", "Never"]);
    assert.equal(v2Pull.description, expected);
    const v3 = JSON.parse(openapiV3Document("api/v1")!.body.toString()) as JsonObject;
    const schemas = obj(obj(v3.components).schemas);
    const v3Pull = obj(obj(obj(schemas["io.k8s.api.core.v1.Container"]).properties).imagePullPolicy);
    assert.deepEqual(v3Pull.enum, ["Always", "IfNotPresent", "Never"]);
    assert.equal(v3Pull.description, expected);
    const modes = obj(obj(obj(schemas["io.k8s.api.core.v1.PersistentVolumeClaimSpec"]).properties).accessModes);
    assert.deepEqual(obj(modes.items).enum, ["ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"]);
  });

  test("each document is OpenAPI 3.0 shaped and self-contained", () => {
    for (const gv of openapiV3Paths()) {
      const doc = JSON.parse(openapiV3Document(gv)!.body.toString()) as Obj;
      assert.equal(doc.openapi, "3.0.0");
      assert.equal(obj(doc.info).title, "Kubernetes");
      const schemas = obj(obj(doc.components).schemas);
      for (const ref of refs(doc)) {
        assert.ok(ref.startsWith("#/components/schemas/"), `${gv}: ${ref}`);
        assert.ok(schemas[ref.slice(21)], `${gv}: dangling ${ref}`);
      }
      for (const [path, item] of Object.entries(obj(doc.paths))) {
        assert.ok(path.startsWith("/"));
        for (const [method, op] of Object.entries(obj(item))) {
          if (method === "parameters") {
            for (const p of op as Obj[]) assert.ok(p.name && p.in && p.schema, `${gv} ${path} parameter`);
            continue;
          }
          assert.ok(["get", "put", "post", "delete", "patch", "head", "options"].includes(method), `${gv} ${path} ${method}`);
          const o = obj(op);
          assert.ok(o.operationId && o.responses, `${gv} ${path} ${method}`);
          for (const p of (o.parameters as Obj[] | undefined) ?? []) assert.ok(p.name && p.in && obj(p.schema).type, `${gv} ${path} ${method} param`);
          assert.ok(!("consumes" in o) && !("produces" in o), "v2-only keys");
          // kubectl's QueryParamVerifierV3: the first PATCH with the kind's GVK must take fieldValidation.
          if (method === "patch" && o["x-kubernetes-action"] === "patch") {
            assert.ok((o.parameters as Obj[]).some((p) => p.name === "fieldValidation"), `${gv} ${path} PATCH fieldValidation`);
          }
        }
      }
    }
    const core = JSON.parse(openapiV3Document("api/v1")!.body.toString()) as Obj;
    const schemas = obj(obj(core.components).schemas);
    const pod = obj(schemas["io.k8s.api.core.v1.Pod"]);
    assert.deepEqual(pod["x-kubernetes-group-version-kind"], [{ group: "", kind: "Pod", version: "v1" }]);
    assert.deepEqual(obj(obj(pod.properties).metadata).allOf, [{ $ref: "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta" }]);
    assert.deepEqual(obj(schemas["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]).oneOf, [{ type: "integer" }, { type: "string" }]);
    assert.ok(!schemas["io.k8s.api.apps.v1.Deployment"], "only the group-version's own schemas");
    const patch = obj(obj(obj(core.paths)["/api/v1/namespaces/{namespace}/pods/{name}"]).patch);
    assert.deepEqual(Object.keys(obj(obj(patch.requestBody).content)).sort(), [
      "application/apply-patch+yaml",
      "application/json-patch+json",
      "application/merge-patch+json",
      "application/strategic-merge-patch+json",
    ]);
  });
});

// ---------------------------------------------------------------------------
// Real kubectl against a minimal server: /version, discovery for pods,
// /openapi/v2, /openapi/v3 and a toy pods endpoint that remembers objects.

const KUBECTL_DIR = (() => {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    const candidate = join(dir, "kubectl");
    if (!existsSync(candidate)) continue;
    try {
      return dirname(realpathSync(candidate));
    } catch {
      return dirname(readlinkSync(candidate));
    }
  }
  return undefined;
})();

function kubectlBinary(version: string): string | undefined {
  if (!KUBECTL_DIR) return undefined;
  const p = join(KUBECTL_DIR, `kubectl.${version}`);
  return existsSync(p) ? p : undefined;
}

const run = promisify(execFile);

interface Recorded {
  method: string;
  url: string;
  accept: string;
  contentType: string;
  body: string;
}

describe("real kubectl", () => {
  let server: Server;
  let home: string;
  let kubeconfig: string;
  const requests: Recorded[] = [];
  const pods = new Map<string, Obj>();

  before(async () => {
    server = createServer((req, res) => void handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as AddressInfo).port;
    home = mkdtempSync(join(tmpdir(), "skiff-openapi-"));
    kubeconfig = join(home, "kubeconfig");
    writeFileSync(
      kubeconfig,
      `apiVersion: v1
kind: Config
clusters:
- cluster: {server: "http://127.0.0.1:${port}"}
  name: t
contexts:
- context: {cluster: t, user: u, namespace: default}
  name: t
current-context: t
users:
- name: u
  user: {}
`,
    );
  });

  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(home, { recursive: true, force: true });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString();
    requests.push({ method: req.method ?? "", url: req.url ?? "", accept: req.headers.accept ?? "", contentType: req.headers["content-type"] ?? "", body });
    const url = new URL(req.url ?? "/", "http://localhost");
    const send = (code: number, contentType: string, data: Buffer | string, headers: Record<string, string> = {}) => {
      res.writeHead(code, { "Content-Type": contentType, ...headers });
      res.end(data);
    };
    const json = (code: number, v: unknown) => send(code, "application/json", JSON.stringify(v));
    const p = url.pathname;
    if (p === "/version") {
      return json(200, {
        major: "1",
        minor: "30",
        gitVersion: VERSION,
        gitCommit: "0000000000000000000000000000000000000000",
        gitTreeState: "clean",
        buildDate: "2024-01-01T00:00:00Z",
        goVersion: "go1.22.0",
        compiler: "gc",
        platform: "linux/amd64",
      });
    }
    if (p === "/api") return json(200, { kind: "APIVersions", versions: ["v1"], serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress: "127.0.0.1" }] });
    if (p === "/apis") return json(200, { kind: "APIGroupList", apiVersion: "v1", groups: [] });
    if (p === "/api/v1") {
      return json(200, {
        kind: "APIResourceList",
        groupVersion: "v1",
        resources: [
          {
            name: "pods",
            singularName: "pod",
            namespaced: true,
            kind: "Pod",
            verbs: ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
            shortNames: ["po"],
            categories: ["all"],
          },
        ],
      });
    }
    if (p === "/openapi/v2") {
      const doc = negotiateOpenAPIV2(req.headers.accept, VERSION);
      if (!doc) return send(406, "text/plain", "");
      return send(200, doc.contentType, doc.body, { ETag: doc.etag, Vary: "Accept" });
    }
    if (p === "/openapi/v3") {
      const doc = openapiV3Index();
      return send(200, doc.contentType, doc.body, { ETag: doc.etag });
    }
    if (p.startsWith("/openapi/v3/")) {
      const doc = negotiateOpenAPIV3(req.headers.accept, p.slice("/openapi/v3/".length));
      if (doc === "notAcceptable") return send(406, "text/plain", "");
      if (doc) return send(200, doc.contentType, doc.body, { ETag: doc.etag, "Cache-Control": "public, immutable" });
    }
    const m = /^\/api\/v1\/namespaces\/([^/]+)\/pods(?:\/([^/]+))?$/.exec(p);
    if (m) {
      const [, namespace, name] = m as unknown as [string, string, string | undefined];
      const notFound = () =>
        json(404, { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message: `pods "${name}" not found`, reason: "NotFound", details: { name, kind: "pods" }, code: 404 });
      const stamp = (o: Obj, n: string) => {
        o.metadata = { ...obj(o.metadata ?? {}), name: n, namespace, uid: "6f1c1a3e-0000-4000-8000-000000000001", resourceVersion: String(requests.length), creationTimestamp: "2024-01-01T00:00:00Z" };
        pods.set(n, o);
        return o;
      };
      if (req.method === "GET" && name) return pods.has(name) ? json(200, pods.get(name)) : notFound();
      if (req.method === "POST" && !name) {
        const o = JSON.parse(body) as Obj;
        return json(201, stamp(o, String(obj(o.metadata).name)));
      }
      if (req.method === "PATCH" && name) {
        // A toy: keep the stored object, record the patch; apply-patch bodies create the object.
        const existing = pods.get(name);
        if (existing) return json(200, existing);
        return json(201, stamp({ apiVersion: "v1", kind: "Pod", metadata: { name } }, name));
      }
    }
    return json(404, { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", reason: "NotFound", code: 404 });
  }

  async function kubectl(version: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
    const bin = kubectlBinary(version)!;
    const r = await run(bin, [...args, "--kubeconfig", kubeconfig, "--cache-dir", join(home, `cache-${version}`)], {
      env: { ...process.env, HOME: home, KUBECONFIG: kubeconfig },
      timeout: 60_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    return { stdout: r.stdout, stderr: r.stderr };
  }

  function assertExplainContainers(out: string, header: RegExp): void {
    assert.match(out, /^KIND:\s+Pod$/m);
    assert.match(out, /^VERSION:\s+v1$/m);
    assert.match(out, header);
    assert.match(out, /^DESCRIPTION:$/m);
    assert.match(out, /List of containers belonging to the pod\./);
    assert.match(out, /^FIELDS:$/m);
    assert.match(out, /^\s+name\t<string> -required-$/m);
    assert.match(out, /^\s+ports\t<\[\](ContainerPort|Object)>$/m);
    assert.match(out, /^\s+resources\t<(ResourceRequirements|Object)>$/m);
  }

  for (const version of ["1.27", "1.28", "1.29", "1.30", "1.31", "1.32", "1.33"]) {
    test(`kubectl ${version} explain pod.spec.containers reads /openapi/v3`, { skip: !kubectlBinary(version) && `no kubectl.${version}` }, async () => {
      const { stdout, stderr } = await kubectl(version, ["explain", "pod.spec.containers"]);
      assert.doesNotMatch(stderr, /openapi|error|warning/i);
      assertExplainContainers(stdout, /^FIELD:\s+containers <\[\]Container>$/m);
      const resources = await kubectl(version, ["explain", "pod.spec.containers.resources.limits"]);
      assert.match(resources.stdout, /^FIELD:\s+limits <map\[string\]Quantity>$/m);
    });
  }

  test("kubectl 1.27 explain --output=plaintext-openapiv2 reads the protobuf /openapi/v2", { skip: !kubectlBinary("1.27") && "no kubectl.1.27" }, async () => {
    const before = requests.length;
    const { stdout, stderr } = await kubectl("1.27", ["explain", "pod.spec.containers", "--output=plaintext-openapiv2"]);
    assert.doesNotMatch(stderr, /openapi|error|warning/i);
    assertExplainContainers(stdout, /^RESOURCE:\s+containers <\[\]Object>$/m);
    const v2 = requests.slice(before).filter((r) => r.url.startsWith("/openapi/v2"));
    assert.ok(v2.length > 0, "fetched /openapi/v2");
    assert.match(v2[0]!.accept, /com\.github\.proto-openapi\.spec\.v2/);
    const fields = await kubectl("1.27", ["explain", "pod.spec.containers.ports", "--output=plaintext-openapiv2"]);
    assert.match(fields.stdout, /containerPort\t<integer> -required-/);
  });

  for (const version of ["1.27", "1.33"]) {
    test(`kubectl ${version} apply and apply --server-side validate on the server (fieldValidation=Strict)`, { skip: !kubectlBinary(version) && `no kubectl.${version}` }, async () => {
      const name = `web-${version.replace(".", "")}`;
      const manifest = join(home, `${name}.yaml`);
      const write = (image: string) =>
        writeFileSync(
          manifest,
          `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
spec:
  containers:
  - name: app
    image: ${image}
    ports:
    - containerPort: 80
    env:
    - name: A
      value: "1"
`,
        );
      write("busybox:1");
      const before = requests.length;
      const created = await kubectl(version, ["apply", "-f", manifest]);
      assert.match(created.stdout, new RegExp(`pod/${name} created`));
      assert.doesNotMatch(created.stderr, /openapi|error|warning/i);
      const post = requests.slice(before).find((r) => r.method === "POST");
      assert.ok(post, "POST sent");
      assert.match(post.url, /[?&]fieldValidation=Strict(&|$)/);

      // A second apply computes a strategic merge patch from the published patch metadata.
      write("busybox:2");
      const mark = requests.length;
      const updated = await kubectl(version, ["apply", "-f", manifest]);
      assert.doesNotMatch(updated.stderr, /openapi|error|warning/i);
      const patch = requests.slice(mark).find((r) => r.method === "PATCH");
      assert.ok(patch, "PATCH sent");
      assert.match(patch.url, /[?&]fieldValidation=Strict(&|$)/);
      assert.equal(patch.contentType, "application/strategic-merge-patch+json");
      const body = JSON.parse(patch.body) as Obj;
      assert.deepEqual(obj(body.spec)["$setElementOrder/containers"], [{ name: "app" }]);
      assert.deepEqual(obj(body.spec).containers, [{ image: "busybox:2", name: "app" }]);

      const ssaMark = requests.length;
      const ssa = await kubectl(version, ["apply", "--server-side", "-f", manifest]);
      assert.match(ssa.stdout, new RegExp(`pod/${name} serverside-applied`));
      assert.doesNotMatch(ssa.stderr, /openapi|error|warning/i);
      const apply = requests.slice(ssaMark).find((r) => r.method === "PATCH");
      assert.ok(apply, "apply PATCH sent");
      assert.equal(apply.contentType, "application/apply-patch+yaml");
      assert.match(apply.url, /[?&]fieldValidation=Strict(&|$)/);
      assert.match(apply.url, /[?&]fieldManager=kubectl(&|$)/);
    });
  }
});

function pick(o: Obj, keys: string[]): Obj {
  const out: Obj = {};
  for (const k of keys) if (k in o) out[k] = o[k];
  return out;
}

function refs(v: unknown, out: string[] = []): string[] {
  if (Array.isArray(v)) for (const x of v) refs(x, out);
  else if (v && typeof v === "object") {
    for (const [k, x] of Object.entries(v)) {
      if (k === "$ref" && typeof x === "string") out.push(x);
      else refs(x, out);
    }
  }
  return out;
}

test("definitions.generated.json is what scripts/gen-openapi.ts generates (patch-meta.ts included)", async () => {
  const root = join(dirname(fileURLToPath(import.meta.url)), "../../..");
  const r = await run(process.execPath, ["--import", "tsx", "scripts/gen-openapi.ts", "--check"], { cwd: root, timeout: 120_000 });
  assert.match(r.stdout, /is up to date/);
});

test("openapiV2Object is the served JSON", () => {
  assert.equal(JSON.stringify(openapiV2Object(VERSION)), openapiV2Json(VERSION).body.toString());
});
