import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fieldErrorMessage } from "../machinery/status-error.js";
import { defaultCRD, validateCRD, validateCRDUpdate } from "./crd-validation.js";

// biome-ignore lint/suspicious/noExplicitAny: fixtures are mutated field by field in each test
function crd(): Record<string, any> {
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: "widgets.example.com" },
    spec: {
      group: "example.com",
      scope: "Namespaced",
      names: { plural: "widgets", kind: "Widget" },
      versions: [
        {
          name: "v1",
          served: true,
          storage: true,
          schema: { openAPIV3Schema: { type: "object", properties: { spec: { type: "object", properties: { replicas: { type: "integer" } } } } } },
          subresources: { status: {}, scale: { specReplicasPath: ".spec.replicas", statusReplicasPath: ".status.replicas" } },
          additionalPrinterColumns: [{ name: "Replicas", type: "integer", jsonPath: ".spec.replicas" }],
        },
      ],
    },
  };
}

const msgs = (c: object) => validateCRD(defaultCRD(c)).map(fieldErrorMessage);

describe("defaultCRD", () => {
  it("fills singular, listKind, conversion strategy and column priority", () => {
    const c = defaultCRD(crd());
    assert.equal(c.spec.names.singular, "widget");
    assert.equal(c.spec.names.listKind, "WidgetList");
    assert.deepEqual(c.spec.conversion, { strategy: "None" });
    assert.equal(c.spec.versions[0].additionalPrinterColumns[0].priority, 0);
  });
});

describe("validateCRD", () => {
  it("accepts a valid CRD", () => {
    assert.deepEqual(msgs(crd()), []);
  });

  it("metadata.name must be plural.group", () => {
    const c = crd();
    c.metadata.name = "foos.example.com";
    assert.deepEqual(msgs(c), ['metadata.name: Invalid value: "foos.example.com": must be spec.names.plural+"."+spec.group']);
  });

  it("group must be a DNS subdomain with a dot", () => {
    const c = crd();
    c.spec.group = "example";
    c.metadata.name = "widgets.example";
    assert.deepEqual(msgs(c), ['spec.group: Invalid value: "example": should be a domain with at least one dot']);
  });

  it("scope and names", () => {
    const c = crd();
    c.spec.scope = "Global";
    c.spec.names.plural = "Widgets";
    c.metadata.name = "Widgets.example.com";
    c.spec.names.kind = "widget";
    const got = msgs(c);
    assert.ok(got.includes('spec.scope: Unsupported value: "Global": supported values: "Cluster", "Namespaced"'), got.join("\n"));
    assert.ok(got.some((m) => m.startsWith('spec.names.plural: Invalid value: "Widgets": a DNS-1035 label must consist of lower case alphanumeric characters')));
    const k = crd();
    k.spec.names.kind = "Wid_get";
    assert.ok(msgs(k).some((m) => m.startsWith('spec.names.kind: Invalid value: "Wid_get": may have mixed case, but should otherwise match: a DNS-1035 label')));
    const same = crd();
    same.spec.names.listKind = "Widget";
    assert.deepEqual(msgs(same), ['spec.names.listKind: Invalid value: "Widget": kind and listKind may not be the same']);
    const none = crd();
    none.spec.names = {};
    none.metadata.name = ".example.com";
    const req = msgs(none);
    for (const f of ["plural", "singular", "kind", "listKind"]) assert.ok(req.includes(`spec.names.${f}: Required value`), req.join("\n"));
  });

  it("exactly one storage version, at least one served, DNS-1035 version names", () => {
    const c = crd();
    c.spec.versions.push({ ...c.spec.versions[0], name: "V2" });
    const got = msgs(c);
    assert.ok(got.some((m) => m.startsWith('spec.versions[1].name: Invalid value: "V2": a DNS-1035 label')));
    assert.ok(got.some((m) => m.startsWith("spec.versions: Invalid value: []apiextensions.CustomResourceDefinitionVersion{") && m.endsWith(": must have exactly one version marked as storage version")));
    const unserved = crd();
    unserved.spec.versions[0].served = false;
    assert.ok(msgs(unserved)[0]!.endsWith(": must have at least one served version"));
  });

  it("schemas are required and must be structural with type object at the root", () => {
    const c = crd();
    delete c.spec.versions[0].schema;
    assert.deepEqual(msgs(c), ["spec.versions[0].schema.openAPIV3Schema: Required value: schemas are required"]);
    const s = crd();
    s.spec.versions[0].schema.openAPIV3Schema = { type: "string" };
    assert.deepEqual(msgs(s), ['spec.versions[0].schema.openAPIV3Schema.type: Invalid value: "string": must be object at the root']);
    const t = crd();
    t.spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.x = { description: "no type" };
    t.spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.y = { type: "array" };
    t.spec.versions[0].schema.openAPIV3Schema.properties.spec.additionalProperties = { type: "string" };
    assert.deepEqual(msgs(t), [
      "spec.versions[0].schema.openAPIV3Schema.properties[spec].additionalProperties: Forbidden: additionalProperties and properties are mutual exclusive",
      "spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[x].type: Required value: must not be empty for specified object fields",
      "spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[y].items: Required value: must be specified",
    ]);
  });

  it("rejects unenforced schema features unless told to ignore them; allows the int-or-string anyOf idiom", () => {
    const c = crd();
    const props = c.spec.versions[0].schema.openAPIV3Schema.properties.spec.properties;
    props.port = { "x-kubernetes-int-or-string": true, anyOf: [{ type: "integer" }, { type: "string" }] };
    assert.deepEqual(msgs(c), []);
    props.replicas["x-kubernetes-validations"] = [{ rule: "self > 0" }];
    assert.deepEqual(msgs(c), [
      "spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[replicas].x-kubernetes-validations: Forbidden: validation rules (CEL) are not supported by this server",
    ]);
    assert.deepEqual(validateCRD(defaultCRD(c), { unsupported: "ignore" }), []);
  });

  it("scale subresource paths", () => {
    const c = crd();
    c.spec.versions[0].subresources.scale = { specReplicasPath: "spec.replicas", statusReplicasPath: ".spec.replicas", labelSelectorPath: ".metadata.x" };
    assert.deepEqual(msgs(c), [
      'spec.versions[0].subresources.scale.specReplicasPath: Invalid value: "spec.replicas": must be a simple json path starting with .',
      'spec.versions[0].subresources.scale.statusReplicasPath: Invalid value: ".spec.replicas": should be a json path under .status',
      'spec.versions[0].subresources.scale.labelSelectorPath: Invalid value: ".metadata.x": should be a json path under either .spec or .status',
    ]);
    c.spec.versions[0].subresources.scale = {};
    assert.deepEqual(msgs(c), [
      "spec.versions[0].subresources.scale.specReplicasPath: Required value",
      "spec.versions[0].subresources.scale.statusReplicasPath: Required value",
    ]);
  });

  it("printer columns", () => {
    const c = crd();
    c.spec.versions[0].additionalPrinterColumns = [{ name: "", type: "map", format: "uuid" }, { name: "A", jsonPath: ".x" }];
    assert.deepEqual(msgs(c), [
      "spec.versions[0].additionalPrinterColumns[0].name: Required value",
      'spec.versions[0].additionalPrinterColumns[0].type: Invalid value: "map": must be one of boolean,date,integer,number,string',
      'spec.versions[0].additionalPrinterColumns[0].format: Invalid value: "uuid": must be one of byte,date,date-time,double,float,int32,int64,password',
      "spec.versions[0].additionalPrinterColumns[0].jsonPath: Required value",
      "spec.versions[0].additionalPrinterColumns[1].type: Required value: must be one of boolean,date,integer,number,string",
    ]);
  });

  it("conversion strategy and preserveUnknownFields", () => {
    const c = crd();
    c.spec.conversion = { strategy: "Magic" };
    c.spec.preserveUnknownFields = true;
    assert.deepEqual(msgs(c), [
      'spec.conversion.strategy: Unsupported value: "Magic": supported values: "None", "Webhook"',
      "spec.preserveUnknownFields: Invalid value: true: cannot set to true, set x-kubernetes-preserve-unknown-fields to true in spec.versions[*].schema instead",
    ]);
  });

  it("update: group and plural immutable; scope and kind once established", () => {
    const old = defaultCRD(crd());
    const c = defaultCRD(crd());
    c.spec.scope = "Cluster";
    assert.deepEqual(validateCRDUpdate(c, old, false), []);
    assert.deepEqual(validateCRDUpdate(c, old, true).map(fieldErrorMessage), ['spec.scope: Invalid value: "Cluster": field is immutable']);
  });
});
