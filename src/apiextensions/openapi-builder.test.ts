import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { CustomResourceDefinition } from "./crd-validation.js";
import { customResourceOpenAPI } from "./openapi-builder.js";
import { operationIdAndTag, toValidOperationID } from "./openapi-paths.js";

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => v as Obj;

const OBJECT_META_DESCRIPTION = "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

function widgetCRD(over: { scope?: string; subresources?: Obj; schema?: Obj; group?: string } = {}): CustomResourceDefinition {
  return {
    metadata: { name: "widgets.example.com" },
    spec: {
      group: over.group ?? "example.com",
      scope: over.scope ?? "Namespaced",
      names: { plural: "widgets", singular: "widget", kind: "Widget", listKind: "WidgetList" },
      versions: [
        {
          name: "v1",
          served: true,
          storage: true,
          ...(over.subresources ? { subresources: over.subresources } : {}),
          schema: {
            openAPIV3Schema: (over.schema ?? {
              type: "object",
              description: "Widget is a test kind.",
              properties: {
                spec: {
                  type: "object",
                  description: "The desired state.",
                  required: ["size", "note"],
                  properties: {
                    size: { type: "integer", description: "How big.", default: 3, minimum: 1, example: 4 },
                    port: { "x-kubernetes-int-or-string": true, description: "A port." },
                    note: { type: "string", nullable: true },
                    tags: { type: "array", items: { type: "string" }, "x-kubernetes-list-type": "set" },
                    raw: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
                    template: {
                      type: "object",
                      "x-kubernetes-embedded-resource": true,
                      properties: { spec: { type: "object", "x-kubernetes-preserve-unknown-fields": true } },
                    },
                  },
                },
              },
            }) as never,
          },
        },
      ],
    },
  };
}

function build(crd: CustomResourceDefinition) {
  return customResourceOpenAPI(crd, crd.spec.versions[0]!);
}

describe("custom resource OpenAPI: schemas", () => {
  test("components are named as upstream: reversed group, version, kind (and list kind)", () => {
    const spec = build(widgetCRD());
    assert.equal(spec.groupVersion, "apis/example.com/v1");
    assert.deepEqual(Object.keys(spec.schemas).sort(), ["com.example.v1.Widget", "com.example.v1.WidgetList"]);
    assert.deepEqual(Object.keys(spec.definitions).sort(), ["com.example.v1.Widget", "com.example.v1.WidgetList"]);
    const deep = build(widgetCRD({ group: "stable.example.com" }));
    assert.deepEqual(Object.keys(deep.schemas).sort(), ["com.example.stable.v1.Widget", "com.example.stable.v1.WidgetList"]);
  });

  test("v3: the schema with ObjectMeta, TypeMeta, GVK, descriptions, defaults and unfolded int-or-string", () => {
    const kind = build(widgetCRD()).schemas["com.example.v1.Widget"]!;
    assert.equal(kind.description, "Widget is a test kind.");
    assert.equal(kind.type, "object");
    assert.deepEqual(kind["x-kubernetes-group-version-kind"], [{ group: "example.com", kind: "Widget", version: "v1" }]);
    const props = obj(kind.properties);
    assert.deepEqual(props.metadata, {
      allOf: [{ $ref: "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta" }],
      description: OBJECT_META_DESCRIPTION,
    });
    assert.match(String(obj(props.apiVersion).description), /^APIVersion defines the versioned schema/);
    assert.equal(obj(props.kind).type, "string");
    const spec = obj(props.spec);
    assert.equal(spec.description, "The desired state.");
    assert.deepEqual(spec.required, ["size", "note"]);
    const sp = obj(spec.properties);
    // example is not part of a structural schema; default and minimum are.
    assert.deepEqual(sp.size, { type: "integer", description: "How big.", default: 3, minimum: 1 });
    assert.deepEqual(sp.port, { "x-kubernetes-int-or-string": true, description: "A port.", anyOf: [{ type: "integer" }, { type: "string" }] });
    assert.deepEqual(sp.note, { type: "string", nullable: true });
    assert.deepEqual(sp.tags, { type: "array", items: { type: "string" }, "x-kubernetes-list-type": "set" });
  });

  test("v3: embedded resources get apiVersion, kind and metadata, and require the first two", () => {
    const kind = build(widgetCRD()).schemas["com.example.v1.Widget"]!;
    const template = obj(obj(obj(obj(kind.properties).spec).properties).template);
    const tp = obj(template.properties);
    assert.deepEqual(Object.keys(tp).sort(), ["apiVersion", "kind", "metadata", "spec"]);
    assert.match(String(obj(tp.kind).description), /^kind is a string value representing the type of this object/);
    assert.deepEqual(obj(tp.metadata).allOf, [{ $ref: "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta" }]);
    assert.deepEqual(template.required, ["kind", "apiVersion"]);
  });

  test("the list schema", () => {
    const list = build(widgetCRD()).schemas["com.example.v1.WidgetList"]!;
    assert.equal(list.description, "WidgetList is a list of Widget");
    assert.deepEqual(list.required, ["items"]);
    assert.deepEqual(list["x-kubernetes-group-version-kind"], [{ group: "example.com", kind: "WidgetList", version: "v1" }]);
    const props = obj(list.properties);
    assert.deepEqual(props.items, {
      description: "List of widgets. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md",
      items: { $ref: "#/components/schemas/com.example.v1.Widget" },
      type: "array",
    });
    assert.deepEqual(obj(props.metadata).allOf, [{ $ref: "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta" }]);
    const v2 = build(widgetCRD()).definitions["com.example.v1.WidgetList"]!;
    assert.deepEqual(obj(obj(v2.properties).items).items, { $ref: "#/definitions/com.example.v1.Widget" });
    assert.equal(obj(obj(v2.properties).metadata).$ref, "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta");
  });

  test("v2: converted from v3 (no nullable, anyOf or defaults), refs in v2 spelling", () => {
    const kind = build(widgetCRD()).definitions["com.example.v1.Widget"]!;
    const props = obj(kind.properties);
    assert.deepEqual(props.metadata, { $ref: "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", description: OBJECT_META_DESCRIPTION });
    const spec = obj(props.spec);
    // note is nullable: untyped, and no longer required.
    assert.deepEqual(spec.required, ["size"]);
    const sp = obj(spec.properties);
    assert.deepEqual(sp.size, { type: "integer", description: "How big.", minimum: 1 });
    assert.deepEqual(sp.port, { "x-kubernetes-int-or-string": true, description: "A port." });
    assert.deepEqual(sp.note, {});
    assert.deepEqual(sp.raw, { "x-kubernetes-preserve-unknown-fields": true });
    // An embedded resource that allows unknown fields gets no TypeMeta in v2; this one has properties, so it does.
    assert.deepEqual(Object.keys(obj(obj(sp.template).properties)).sort(), ["apiVersion", "kind", "metadata", "spec"]);
    assert.equal(JSON.stringify(kind).includes('"default"'), false);
  });

  test("v2: a schema preserving unknown fields at the root is published as a bare object", () => {
    const spec = build(widgetCRD({ schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true, description: "anything" } }));
    assert.deepEqual(spec.definitions["com.example.v1.Widget"], {
      type: "object",
      "x-kubernetes-group-version-kind": [{ group: "example.com", kind: "Widget", version: "v1" }],
    });
    // v3 keeps it, with the meta fields.
    const v3 = spec.schemas["com.example.v1.Widget"]!;
    assert.equal(v3["x-kubernetes-preserve-unknown-fields"], true);
    assert.deepEqual(Object.keys(obj(v3.properties)).sort(), ["apiVersion", "kind", "metadata"]);
  });
});

describe("custom resource OpenAPI: paths", () => {
  test("operation ids and tags as apiserver's GetOperationIDAndTags makes them", () => {
    assert.equal(toValidOperationID("example.com", true), "ExampleCom");
    assert.equal(toValidOperationID("my-group.k8s.example.io", false), "myGroupK8sExampleIo");
    assert.deepEqual(operationIdAndTag("deletecollectionNamespacedWidget", "/apis/example.com/v1/namespaces/{namespace}/widgets"), {
      operationId: "deleteExampleComV1CollectionNamespacedWidget",
      tag: "exampleCom_v1",
    });
    assert.deepEqual(operationIdAndTag("listWidgetForAllNamespaces", "/apis/stable.example.com/v1beta1/widgets"), {
      operationId: "listStableExampleComV1beta1WidgetForAllNamespaces",
      tag: "stableExampleCom_v1beta1",
    });
  });

  test("namespaced: collection, object, list across namespaces; status and scale only when enabled", () => {
    const plain = build(widgetCRD());
    assert.deepEqual(
      plain.paths.map((p) => p.path),
      ["/apis/example.com/v1/namespaces/{namespace}/widgets", "/apis/example.com/v1/namespaces/{namespace}/widgets/{name}", "/apis/example.com/v1/widgets"],
    );
    const full = build(widgetCRD({ subresources: { status: {}, scale: { specReplicasPath: ".spec.replicas", statusReplicasPath: ".status.replicas" } } }));
    const paths = new Map(full.paths.map((p) => [p.path, p]));
    const base = "/apis/example.com/v1/namespaces/{namespace}/widgets";
    assert.ok(paths.has(`${base}/{name}/status`) && paths.has(`${base}/{name}/scale`));
    for (const p of full.paths) assert.equal(p.document, "apis/example.com/v1");

    const collection = paths.get(base)!;
    assert.deepEqual(collection.params.map((p) => p.name), ["namespace", "pretty"]);
    assert.deepEqual(
      collection.operations.map((o) => [o.method, o.operationId, o.action, o.description]),
      [
        ["get", "listExampleComV1NamespacedWidget", "list", "list objects of kind Widget"],
        ["post", "createExampleComV1NamespacedWidget", "post", "create a Widget"],
        ["delete", "deleteExampleComV1CollectionNamespacedWidget", "deletecollection", "delete collection of Widget"],
      ],
    );
    const list = collection.operations[0]!;
    assert.deepEqual(list.params.map((p) => p.name), [
      "allowWatchBookmarks",
      "continue",
      "fieldSelector",
      "labelSelector",
      "limit",
      "resourceVersion",
      "resourceVersionMatch",
      "sendInitialEvents",
      "timeoutSeconds",
      "watch",
    ]);
    assert.deepEqual(list.responses.map((r) => [r.code, r.payload && "ref" in r.payload ? r.payload.ref : undefined]), [
      ["200", "com.example.v1.WidgetList"],
      ["401", undefined],
    ]);
    assert.deepEqual(list.produces, ["application/json", "application/yaml"]);
    assert.deepEqual(list.gvk, { group: "example.com", version: "v1", kind: "Widget" });
    assert.equal(collection.operations[1]!.body, "com.example.v1.Widget");
    assert.deepEqual(collection.operations[1]!.responses.map((r) => r.code), ["200", "201", "202", "401"]);

    const item = paths.get(`${base}/{name}`)!;
    assert.deepEqual(item.params.map((p) => p.name), ["name", "namespace", "pretty"]);
    const byMethod = new Map(item.operations.map((o) => [o.method, o]));
    assert.deepEqual(byMethod.get("get")!.params.map((p) => p.name), ["resourceVersion"]);
    assert.deepEqual(byMethod.get("patch")!.consumes, ["application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml"]);
    assert.deepEqual(byMethod.get("patch")!.params.map((p) => p.name), ["dryRun", "fieldManager", "fieldValidation", "force"]);
    assert.equal(byMethod.get("patch")!.body, "io.k8s.apimachinery.pkg.apis.meta.v1.Patch");
    const del = byMethod.get("delete")!;
    assert.equal(del.body, "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions");
    assert.equal(del.bodyOptional, true);
    assert.deepEqual(del.responses.map((r) => r.code), ["200", "202", "401"]);

    const scale = paths.get(`${base}/{name}/scale`)!;
    assert.deepEqual(
      scale.operations.map((o) => [o.operationId, o.description]),
      [
        ["readExampleComV1NamespacedWidgetScale", "read scale of the specified Widget"],
        ["replaceExampleComV1NamespacedWidgetScale", "replace scale of the specified Widget"],
        ["patchExampleComV1NamespacedWidgetScale", "partially update scale of the specified Widget"],
      ],
    );
    assert.deepEqual(scale.operations[0]!.responses[0]!.payload, { ref: "io.k8s.api.autoscaling.v1.Scale" });
    // Upstream tags every operation of a custom resource with the resource's own kind.
    assert.deepEqual(scale.operations[0]!.gvk, { group: "example.com", version: "v1", kind: "Widget" });

    const all = paths.get("/apis/example.com/v1/widgets")!;
    assert.equal(all.operations[0]!.operationId, "listExampleComV1WidgetForAllNamespaces");
    assert.deepEqual(all.operations[0]!.params, []);
    assert.ok(all.params.some((p) => p.name === "watch"));
  });

  test("cluster-scoped: no namespace segment, no list across namespaces", () => {
    const spec = build(widgetCRD({ scope: "Cluster" }));
    assert.deepEqual(
      spec.paths.map((p) => p.path),
      ["/apis/example.com/v1/widgets", "/apis/example.com/v1/widgets/{name}"],
    );
    assert.deepEqual(spec.paths[0]!.operations.map((o) => o.operationId), [
      "listExampleComV1Widget",
      "createExampleComV1Widget",
      "deleteExampleComV1CollectionWidget",
    ]);
    assert.deepEqual(spec.paths[1]!.params.map((p) => p.name), ["name", "pretty"]);
  });

  test("an unchanged CRD builds an identical spec (so republishing it invalidates nothing)", () => {
    assert.equal(JSON.stringify(build(widgetCRD())), JSON.stringify(build(widgetCRD())));
  });
});
