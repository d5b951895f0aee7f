import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { CustomResourceDefinition } from "../../apiextensions/crd-validation.js";
import { customResourceOpenAPI } from "../../apiextensions/openapi-builder.js";
import { CustomOpenAPISpecs } from "./custom-specs.js";
import {
  type JsonObject,
  negotiateOpenAPIV2,
  negotiateOpenAPIV3,
  OPENAPI_V2_PROTOBUF,
  openapiV2Json,
  openapiV2Protobuf,
  openapiV3Document,
  openapiV3Index,
  openapiV3Paths,
} from "./documents.js";
import { decodeOpenAPIV2 } from "./gnostic.js";

const VERSION = "v1.30.14+skiff";

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => v as Obj;

function crd(group: string, kind: string, plural: string, versions: string[]): CustomResourceDefinition {
  return {
    metadata: { name: `${plural}.${group}` },
    spec: {
      group,
      scope: "Namespaced",
      names: { plural, kind, listKind: `${kind}List` },
      versions: versions.map((name, i) => ({
        name,
        served: true,
        storage: i === 0,
        subresources: { status: {}, scale: { specReplicasPath: ".spec.replicas", statusReplicasPath: ".status.replicas" } },
        schema: {
          openAPIV3Schema: {
            type: "object",
            description: `${kind} of ${name}.`,
            properties: {
              spec: {
                type: "object",
                properties: {
                  replicas: { type: "integer", default: 1, minimum: 0, maximum: 10 },
                  mode: { type: "string", nullable: true, enum: ["a", "b"] },
                  port: { "x-kubernetes-int-or-string": true },
                },
              },
            },
          },
        },
      })),
    },
  };
}

function publish(specs: CustomOpenAPISpecs, c: CustomResourceDefinition): void {
  specs.set(
    c.metadata!.name!,
    c.spec.versions.map((v) => customResourceOpenAPI(c, v)),
  );
}

const parse = (body: Buffer): JsonObject => JSON.parse(body.toString()) as JsonObject;

/** Every `$ref` in `v` names a key of `defs`. */
function assertRefsResolve(v: unknown, defs: Obj, prefix: string): void {
  const walk = (x: unknown): void => {
    if (Array.isArray(x)) x.forEach(walk);
    else if (x && typeof x === "object") {
      for (const [k, y] of Object.entries(x)) {
        if (k === "$ref" && typeof y === "string") {
          assert.ok(y.startsWith(prefix), `${y} uses ${prefix}`);
          assert.ok(y.slice(prefix.length) in defs, `${y} resolves`);
        } else walk(y);
      }
    }
  };
  walk(v);
}

describe("custom resources in the OpenAPI documents", () => {
  test("the registry moves its generation only when what is published changes", () => {
    const specs = new CustomOpenAPISpecs();
    assert.equal(specs.empty, true);
    const c = crd("example.com", "Widget", "widgets", ["v1"]);
    publish(specs, c);
    const g = specs.generation;
    publish(specs, c);
    assert.equal(specs.generation, g, "republishing the same CRD changes nothing");
    publish(specs, crd("example.com", "Widget", "widgets", ["v1", "v2"]));
    assert.ok(specs.generation > g);
    specs.delete("nothing-here");
    const g2 = specs.generation;
    specs.set(c.metadata!.name!, []);
    assert.ok(specs.generation > g2);
    assert.equal(specs.empty, true);
  });

  test("/openapi/v3: the index lists each served custom group-version with its document's hash", () => {
    const specs = new CustomOpenAPISpecs();
    const builtinIndex = openapiV3Index();
    assert.equal(openapiV3Index(specs), builtinIndex, "nothing published: the built-in index");
    publish(specs, crd("example.com", "Widget", "widgets", ["v1", "v1beta1"]));
    publish(specs, crd("example.com", "Gadget", "gadgets", ["v1"]));
    const index = obj(parse(openapiV3Index(specs).body).paths);
    for (const gv of ["apis/example.com/v1", "apis/example.com/v1beta1"]) {
      const doc = openapiV3Document(gv, specs)!;
      assert.ok(doc, gv);
      assert.deepEqual(index[gv], { serverRelativeURL: `/openapi/v3/${gv}?hash=${doc.hash}` });
      assert.equal(doc.etag, `"${doc.hash}"`);
    }
    assert.ok(openapiV3Paths(specs).includes("api/v1"));
    assert.equal(openapiV3Document("apis/example.com/v1"), undefined, "not without the registry");
    // Built-in documents are the cached ones, untouched.
    assert.equal(openapiV3Document("api/v1", specs), openapiV3Document("api/v1"));
  });

  test("/openapi/v3/apis/<group>/<version>: both CRDs' paths and schemas, self-contained", () => {
    const specs = new CustomOpenAPISpecs();
    publish(specs, crd("example.com", "Widget", "widgets", ["v1"]));
    publish(specs, crd("example.com", "Gadget", "gadgets", ["v1"]));
    const doc = parse(openapiV3Document("apis/example.com/v1", specs)!.body);
    assert.equal(doc.openapi, "3.0.0");
    assert.deepEqual(doc.info, { title: "Kubernetes CRD Swagger", version: "v0.1.0" });
    const schemas = obj(obj(doc.components).schemas);
    for (const name of [
      "com.example.v1.Widget",
      "com.example.v1.WidgetList",
      "com.example.v1.Gadget",
      "com.example.v1.GadgetList",
      "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
      "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta",
      "io.k8s.apimachinery.pkg.apis.meta.v1.Status",
      "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions",
      "io.k8s.apimachinery.pkg.apis.meta.v1.Patch",
      "io.k8s.api.autoscaling.v1.Scale",
    ]) {
      assert.ok(name in schemas, name);
    }
    assertRefsResolve(doc, schemas, "#/components/schemas/");
    const paths = obj(doc.paths);
    const item = obj(paths["/apis/example.com/v1/namespaces/{namespace}/widgets/{name}"]);
    assert.deepEqual(
      (item.parameters as Obj[]).map((p) => [p.name, p.in]),
      [
        ["name", "path"],
        ["namespace", "path"],
        ["pretty", "query"],
      ],
    );
    const del = obj(item.delete);
    assert.deepEqual(del.requestBody, {
      content: {
        "application/json": { schema: { $ref: "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions" } },
        "application/yaml": { schema: { $ref: "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions" } },
      },
    });
    const put = obj(item.put);
    assert.equal(obj(put.requestBody).required, true);
    assert.deepEqual(obj(obj(obj(put.responses)["201"]).content)["application/yaml"], { schema: { $ref: "#/components/schemas/com.example.v1.Widget" } });
    assert.deepEqual(put["x-kubernetes-group-version-kind"], { group: "example.com", kind: "Widget", version: "v1" });
    assert.ok("/apis/example.com/v1/namespaces/{namespace}/gadgets/{name}/scale" in paths);
    assert.equal(Object.keys(paths).some((p) => p.includes("/watch/")), false);
    // v3 keeps what v2 cannot say.
    const spec = obj(obj(obj(schemas["com.example.v1.Widget"]).properties).spec);
    assert.deepEqual(obj(spec.properties).replicas, { default: 1, maximum: 10, minimum: 0, type: "integer" });
    assert.equal(obj(obj(spec.properties).mode).nullable, true);
  });

  test("/openapi/v2 (JSON and protobuf): custom paths and definitions merged into the built-in document", () => {
    const specs = new CustomOpenAPISpecs();
    const builtin = openapiV2Json(VERSION);
    assert.equal(openapiV2Json(VERSION, specs), builtin);
    publish(specs, crd("example.com", "Widget", "widgets", ["v1"]));
    const json = openapiV2Json(VERSION, specs);
    assert.notEqual(json.hash, builtin.hash);
    const doc = parse(json.body);
    const defs = obj(doc.definitions);
    assert.ok("com.example.v1.Widget" in defs && "com.example.v1.WidgetList" in defs && "io.k8s.api.core.v1.Pod" in defs);
    assertRefsResolve(doc, defs, "#/definitions/");
    const paths = obj(doc.paths);
    assert.ok("/api/v1/namespaces/{namespace}/pods" in paths);
    const item = obj(paths["/apis/example.com/v1/namespaces/{namespace}/widgets/{name}"]);
    const body = (obj(item.delete).parameters as Obj[]).find((p) => p.in === "body");
    assert.deepEqual(body, { in: "body", name: "body", schema: { $ref: "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions" } });
    assert.deepEqual(obj(item.patch).consumes, ["application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml"]);
    const spec = obj(obj(obj(defs["com.example.v1.Widget"]).properties).spec);
    assert.deepEqual(obj(spec.properties).replicas, { maximum: 10, minimum: 0, type: "integer" });
    assert.deepEqual(obj(spec.properties).mode, { enum: ["a", "b"] });
    assert.deepEqual(obj(spec.properties).port, { "x-kubernetes-int-or-string": true });
    // Keys sorted throughout, as Go encodes maps.
    assert.deepEqual(Object.keys(paths), Object.keys(paths).sort());
    assert.deepEqual(Object.keys(defs), Object.keys(defs).sort());

    const proto = openapiV2Protobuf(VERSION, specs);
    assert.equal(proto.contentType, OPENAPI_V2_PROTOBUF);
    assert.equal(proto.hash, json.hash);
    const decoded = decodeOpenAPIV2(proto.body);
    const named = ((decoded.definitions as Obj).additional_properties as Obj[]).find((d) => d.name === "com.example.v1.Widget");
    assert.ok(named, "the custom definition is in the protobuf encoding");
    const props = (s: unknown) => new Map(((obj(obj(s).properties).additional_properties ?? []) as Obj[]).map((p) => [p.name, obj(p.value)]));
    const replicas = props(props(named.value).get("spec")).get("replicas")!;
    // proto3 does not encode zero values, so gnostic (upstream's too) cannot tell minimum: 0 from no minimum.
    assert.deepEqual([replicas.minimum, replicas.maximum], [undefined, 10]);
    assert.equal(negotiateOpenAPIV2("application/com.github.proto-openapi.spec.v2@v1.0+protobuf", VERSION, specs), proto);
  });

  test("hashes follow the documents: a new version changes them, deleting the CRD restores the built-in ones", () => {
    const specs = new CustomOpenAPISpecs();
    const c = crd("example.com", "Widget", "widgets", ["v1"]);
    publish(specs, c);
    const v1 = openapiV3Document("apis/example.com/v1", specs)!;
    const v2 = openapiV2Json(VERSION, specs);
    const index = openapiV3Index(specs);
    assert.equal(openapiV3Document("apis/example.com/v1", specs), v1, "cached while unchanged");
    publish(specs, c);
    assert.equal(openapiV3Index(specs), index, "republishing keeps the cache");

    const changed = crd("example.com", "Widget", "widgets", ["v1"]);
    changed.spec.versions[0]!.schema!.openAPIV3Schema!.description = "Changed.";
    publish(specs, changed);
    assert.notEqual(openapiV3Document("apis/example.com/v1", specs)!.hash, v1.hash);
    assert.notEqual(openapiV2Json(VERSION, specs).hash, v2.hash);
    assert.notEqual(openapiV3Index(specs).hash, index.hash);

    // A version that stops being served leaves; the other stays.
    publish(specs, crd("example.com", "Widget", "widgets", ["v1", "v2"]));
    assert.ok(openapiV3Document("apis/example.com/v2", specs));
    publish(specs, c);
    assert.equal(openapiV3Document("apis/example.com/v2", specs), undefined);
    assert.equal(negotiateOpenAPIV3("application/json", "apis/example.com/v2", specs), undefined);

    specs.delete(c.metadata!.name!);
    assert.equal(openapiV3Document("apis/example.com/v1", specs), undefined);
    assert.equal(openapiV3Index(specs).hash, openapiV3Index().hash);
    assert.equal(openapiV2Json(VERSION, specs).hash, openapiV2Json(VERSION).hash);
  });

  test("a custom group-version shared with a built-in one is merged into it, the built-in side winning", () => {
    const specs = new CustomOpenAPISpecs();
    // A CRD in the batch group at v1 (upstream would require api-approval, but nothing stops it in principle).
    publish(specs, crd("batch", "Widget", "widgets", ["v1"]));
    const builtin = parse(openapiV3Document("apis/batch/v1")!.body);
    const merged = parse(openapiV3Document("apis/batch/v1", specs)!.body);
    assert.deepEqual(merged.info, builtin.info);
    const paths = obj(merged.paths);
    assert.ok("/apis/batch/v1/namespaces/{namespace}/jobs" in paths);
    assert.ok("/apis/batch/v1/namespaces/{namespace}/widgets" in paths);
    const schemas = obj(obj(merged.components).schemas);
    assert.ok("batch.v1.Widget" in schemas && "io.k8s.api.batch.v1.Job" in schemas);
    assertRefsResolve(merged, schemas, "#/components/schemas/");
    assert.equal(obj(obj(merged.components).securitySchemes).BearerToken !== undefined, true);
  });
});
