import assert from "node:assert/strict";
import { test } from "node:test";
import { pruneDefaults, toStructuralOpenAPIV2 } from "./openapi-v2-conversion.js";

test("v2 conversion drops the junctors v2 cannot express, at every level", () => {
  const out = toStructuralOpenAPIV2({
    type: "object",
    anyOf: [{ required: ["a"] }, { required: ["b"] }],
    properties: {
      a: { type: "string", oneOf: [{ pattern: "^x" }], not: { enum: ["y"] }, allOf: [{ minLength: 1 }] },
      b: { "x-kubernetes-int-or-string": true, anyOf: [{ type: "integer" }, { type: "string" }] },
    },
  });
  assert.deepEqual(out, { type: "object", properties: { a: { type: "string" }, b: { "x-kubernetes-int-or-string": true } } });
});

test("a nullable schema becomes untyped, loses its properties and items, and stops being required", () => {
  const input = {
    type: "object",
    required: ["n", "m", "k"],
    properties: {
      n: { type: "object", nullable: true, description: "kept", properties: { x: { type: "string" } } },
      m: { type: "array", nullable: true, items: { type: "string" } },
      k: { type: "string" },
    },
  };
  const out = toStructuralOpenAPIV2(input);
  assert.deepEqual(out, { type: "object", required: ["k"], properties: { n: { description: "kept" }, m: {}, k: { type: "string" } } });
  // The input is not touched.
  assert.equal(input.properties.n.nullable, true);
});

test("a nullable additionalProperties clears required; all fields nullable drops required", () => {
  assert.deepEqual(toStructuralOpenAPIV2({ type: "object", required: ["a"], additionalProperties: { type: "string", nullable: true } }), {
    type: "object",
    additionalProperties: {},
  });
  assert.deepEqual(toStructuralOpenAPIV2({ type: "object", required: ["a"], properties: { a: { type: "string", nullable: true } } }), {
    type: "object",
    properties: { a: {} },
  });
});

test("x-kubernetes-preserve-unknown-fields: no properties or items, no object type; arrays without items are untyped", () => {
  assert.deepEqual(
    toStructuralOpenAPIV2({
      type: "object",
      properties: {
        o: { type: "object", "x-kubernetes-preserve-unknown-fields": true, properties: { a: { type: "string" } } },
        l: { type: "array", "x-kubernetes-preserve-unknown-fields": true, items: { type: "string" } },
        e: { "x-kubernetes-preserve-unknown-fields": true, "x-kubernetes-embedded-resource": true, type: "object" },
      },
    }),
    {
      type: "object",
      properties: {
        o: { "x-kubernetes-preserve-unknown-fields": true },
        l: { "x-kubernetes-preserve-unknown-fields": true },
        e: { "x-kubernetes-preserve-unknown-fields": true, "x-kubernetes-embedded-resource": true },
      },
    },
  );
});

test("pruneDefaults removes every default, in nested schemas too, but not values that merely look like one", () => {
  assert.deepEqual(
    pruneDefaults({
      type: "object",
      default: {},
      properties: {
        a: { type: "integer", default: 1 },
        b: { type: "array", items: { type: "object", default: { default: 2 }, properties: { c: { type: "string", default: "x", enum: [{ default: 1 }] } } } },
        m: { type: "object", additionalProperties: { type: "string", default: "y" } },
      },
    }),
    {
      type: "object",
      properties: {
        a: { type: "integer" },
        b: { type: "array", items: { type: "object", properties: { c: { type: "string", enum: [{ default: 1 }] } } } },
        m: { type: "object", additionalProperties: { type: "string" } },
      },
    },
  );
});
