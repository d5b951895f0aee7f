import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fieldErrorMessage } from "../machinery/status-error.js";
import { type JSONSchemaProps, applyDefaults, pruneUnknownFields, unknownFieldMessage, validateCustomResource } from "./structural-schema.js";

const schema: JSONSchemaProps = {
  type: "object",
  properties: {
    spec: {
      type: "object",
      required: ["name"],
      properties: {
        name: { type: "string", minLength: 2, maxLength: 5, pattern: "^[a-z]+$" },
        replicas: { type: "integer", minimum: 1, maximum: 10, format: "int32" },
        ratio: { type: "number", exclusiveMaximum: true, maximum: 1 },
        size: { type: "string", enum: ["small", "large"] },
        port: { "x-kubernetes-int-or-string": true },
        when: { type: "string", format: "date-time" },
        tags: { type: "array", maxItems: 2, minItems: 1, items: { type: "string" } },
        labels: { type: "object", additionalProperties: { type: "string" } },
        note: { type: "string", nullable: true },
        items: { type: "array", items: { type: "object", properties: { name: { type: "string" } } } },
        raw: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
        template: { type: "object", "x-kubernetes-embedded-resource": true, properties: { spec: { type: "object" } } },
      },
    },
  },
};

const msgs = (obj: object) => validateCustomResource(obj, schema).map(fieldErrorMessage);
const base = { apiVersion: "example.com/v1", kind: "Foo", metadata: { name: "x", anything: 1 } };

describe("validateCustomResource", () => {
  it("accepts a valid object; apiVersion/kind/metadata at the root are always allowed", () => {
    assert.deepEqual(
      msgs({ ...base, spec: { name: "abc", replicas: 3, ratio: 0.5, size: "small", port: "http", when: "2024-01-02T03:04:05Z", tags: ["a"], labels: { a: "b" }, note: null } }),
      [],
    );
    assert.deepEqual(msgs({ ...base, spec: { name: "abc", port: 8080 } }), []);
  });

  it("type errors use upstream wording and the TypeInvalid reason", () => {
    const errs = validateCustomResource({ ...base, spec: { name: "abc", replicas: "string" } }, schema);
    assert.equal(errs.length, 1);
    assert.equal(errs[0]!.type, "FieldValueTypeInvalid");
    assert.equal(fieldErrorMessage(errs[0]!), 'spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"');
    assert.deepEqual(msgs({ ...base, spec: { name: "abc", replicas: 1.5 } }), [
      'spec.replicas: Invalid value: "number": spec.replicas in body must be of type integer: "number"',
    ]);
    assert.deepEqual(msgs({ ...base, spec: { name: "abc", port: true } }), [
      'spec.port: Invalid value: "boolean": spec.port in body must be of type integer,string: "boolean"',
    ]);
    assert.deepEqual(msgs({ ...base, spec: { name: null } }), ['spec.name: Invalid value: "null": spec.name in body must be of type string: "null"']);
    assert.deepEqual(msgs({ ...base, spec: "x" }), ['spec: Invalid value: "string": spec in body must be of type object: "string"']);
  });

  it("required, enum, pattern, lengths", () => {
    assert.deepEqual(msgs({ ...base, spec: {} }), ["spec.name: Required value"]);
    assert.deepEqual(msgs({ ...base, spec: { name: "abc", size: "huge" } }), ['spec.size: Unsupported value: "huge": supported values: "small", "large"']);
    assert.deepEqual(msgs({ ...base, spec: { name: "a" } }), ['spec.name: Invalid value: "a": spec.name in body should be at least 2 chars long']);
    assert.deepEqual(msgs({ ...base, spec: { name: "abcdef" } }), ["spec.name: Too long: may not be longer than 5"]);
    assert.deepEqual(msgs({ ...base, spec: { name: "AB" } }), ["spec.name: Invalid value: \"AB\": spec.name in body should match '^[a-z]+$'"]);
  });

  it("numeric bounds and formats", () => {
    assert.deepEqual(msgs({ ...base, spec: { name: "ab", replicas: 0 } }), ["spec.replicas: Invalid value: 0: spec.replicas in body should be greater than or equal to 1"]);
    assert.deepEqual(msgs({ ...base, spec: { name: "ab", replicas: 11 } }), ["spec.replicas: Invalid value: 11: spec.replicas in body should be less than or equal to 10"]);
    assert.deepEqual(msgs({ ...base, spec: { name: "ab", ratio: 1 } }), ["spec.ratio: Invalid value: 1: spec.ratio in body should be less than 1"]);
    assert.deepEqual(msgs({ ...base, spec: { name: "ab", when: "yesterday" } }), [
      'spec.when: Invalid value: "yesterday": spec.when in body must be of type date-time: "yesterday"',
    ]);
    const big = validateCustomResource({ ...base, spec: { name: "ab", replicas: 2 ** 31 } }, { type: "object", properties: { spec: { type: "object", properties: { name: { type: "string" }, replicas: { type: "integer", format: "int32" } } } } });
    assert.equal(big.length, 1);
    assert.equal(big[0]!.field, "spec.replicas");
  });

  it("arrays, maps and nested paths", () => {
    assert.deepEqual(msgs({ ...base, spec: { name: "ab", tags: ["a", "b", "c"] } }), ["spec.tags: Too many: 3: must have at most 2 items"]);
    assert.deepEqual(msgs({ ...base, spec: { name: "ab", tags: [] } }), ["spec.tags: Invalid value: 0: spec.tags in body should have at least 1 items"]);
    assert.deepEqual(msgs({ ...base, spec: { name: "ab", tags: ["a", 1] } }), ['spec.tags[1]: Invalid value: "integer": spec.tags[1] in body must be of type string: "integer"']);
    assert.deepEqual(msgs({ ...base, spec: { name: "ab", labels: { a: 1 } } }), ['spec.labels.a: Invalid value: "integer": spec.labels.a in body must be of type string: "integer"']);
    assert.deepEqual(msgs({ ...base, spec: { name: "ab", items: [{ name: 1 }] } }), [
      'spec.items[0].name: Invalid value: "integer": spec.items[0].name in body must be of type string: "integer"',
    ]);
  });

  it("embedded resources need apiVersion and kind", () => {
    assert.deepEqual(msgs({ ...base, spec: { name: "ab", template: { spec: {} } } }), [
      "spec.template.apiVersion: Required value: must not be empty",
      "spec.template.kind: Required value: must not be empty",
    ]);
    assert.deepEqual(msgs({ ...base, spec: { name: "ab", template: { apiVersion: "v1", kind: "Pod", metadata: { x: 1 }, spec: {} } } }), []);
  });
});

describe("pruneUnknownFields", () => {
  it("drops unknown fields and reports their paths", () => {
    const obj = {
      ...base,
      spec: {
        name: "ab",
        foo: 1,
        items: [{ name: "a", extra: true }],
        labels: { any: "x" },
        raw: { anything: { goes: 1 } },
        template: { apiVersion: "v1", kind: "Pod", metadata: { name: "p" }, spec: {}, bogus: 1 },
      },
      status: { x: 1 },
    };
    const pruned = pruneUnknownFields(obj, schema);
    assert.deepEqual(pruned, ["spec.foo", "spec.items[0].extra", "spec.template.bogus", "status"]);
    assert.deepEqual(obj, {
      ...base,
      spec: {
        name: "ab",
        items: [{ name: "a" }],
        labels: { any: "x" },
        raw: { anything: { goes: 1 } },
        template: { apiVersion: "v1", kind: "Pod", metadata: { name: "p" }, spec: {} },
      },
    });
    assert.equal(unknownFieldMessage(pruned[0]!), 'unknown field "spec.foo"');
  });

  it("keeps everything under x-kubernetes-preserve-unknown-fields at the root", () => {
    const obj = { ...base, spec: { a: 1 }, other: true };
    assert.deepEqual(pruneUnknownFields(obj, { type: "object", "x-kubernetes-preserve-unknown-fields": true }), []);
    assert.deepEqual(obj.other, true);
  });
});

describe("applyDefaults", () => {
  const s: JSONSchemaProps = {
    type: "object",
    properties: {
      spec: {
        type: "object",
        default: {},
        properties: {
          replicas: { type: "integer", default: 1 },
          mode: { type: "string", default: "auto" },
          nested: { type: "object", properties: { x: { type: "string", default: "dx" } } },
          list: { type: "array", items: { type: "object", properties: { p: { type: "integer", default: 80 } } } },
          gone: { type: "string" },
          keep: { type: "string", nullable: true },
        },
      },
    },
  };

  it("defaults absent fields of present objects, recursively into defaulted values", () => {
    const obj: Record<string, unknown> = { ...base };
    applyDefaults(obj, s);
    assert.deepEqual(obj.spec, { replicas: 1, mode: "auto" });
  });

  it("keeps set values, defaults array items, replaces non-nullable nulls, drops undefaultable nulls", () => {
    const obj = { ...base, spec: { replicas: 5, mode: null, nested: {}, list: [{}, { p: 1 }], gone: null, keep: null } };
    applyDefaults(obj, s);
    assert.deepEqual(obj.spec, { replicas: 5, mode: "auto", nested: { x: "dx" }, list: [{ p: 80 }, { p: 1 }], keep: null });
  });

  it("copies defaults rather than sharing them", () => {
    const a: Record<string, unknown> = {};
    const b: Record<string, unknown> = {};
    const sch: JSONSchemaProps = { type: "object", properties: { m: { type: "object", default: { k: "v" }, additionalProperties: { type: "string" } } } };
    applyDefaults(a, sch);
    applyDefaults(b, sch);
    assert.notEqual(a.m, b.m);
  });
});
