import assert from "node:assert/strict";
import { test } from "node:test";
import definitions from "../../api/openapi/definitions.generated.json" with { type: "json" };
import type { Definitions } from "../patch/strategic-merge-patch.js";
import { FieldSet, pathToString, toFieldSet } from "./field-set.js";

const defs = definitions as unknown as Definitions;

test("fieldsV1 round-trips, with '.' for members that have children", () => {
  const v1 = { "f:metadata": { "f:labels": { ".": {}, "f:app": {} } }, "f:spec": { "f:containers": { 'k:{"name":"web"}': { ".": {}, "f:image": {} } } } };
  const set = FieldSet.fromFieldsV1(v1);
  assert.equal(set.size, 4);
  assert.deepEqual(set.toFieldsV1(), v1);
  assert.throws(() => FieldSet.fromFieldsV1({ "x:bad": {} }), TypeError);
});

test("set algebra", () => {
  const a = FieldSet.of([["f:a"], ["f:b"]]);
  const b = FieldSet.of([["f:b"], ["f:c"]]);
  assert.equal(a.union(b).size, 3);
  assert.deepEqual(a.intersection(b).paths(), [["f:b"]]);
  assert.deepEqual(a.difference(b).paths(), [["f:a"]]);
});

test("paths print as upstream's Path.String", () => {
  assert.equal(pathToString(["f:spec", "f:containers", 'k:{"name":"web"}', "f:image"]), '.spec.containers[name="web"].image');
  assert.equal(pathToString(["f:metadata", "f:finalizers", 'v:"a"']), '.metadata.finalizers[="a"]');
  assert.equal(pathToString(["f:spec", "f:ports", 'k:{"port":80,"protocol":"TCP"}']), '.spec.ports[port=80,protocol="TCP"]');
});

test("toFieldSet: sets as v:, atomic lists and maps as leaves, empty structs as members", () => {
  const pod = {
    metadata: { finalizers: ["a"] },
    spec: { nodeSelector: { disk: "ssd" }, containers: [{ name: "c", args: ["x", "y"], resources: {} }] },
  };
  assert.deepEqual(toFieldSet(pod, "io.k8s.api.core.v1.Pod", defs).toFieldsV1(), {
    "f:metadata": { "f:finalizers": { 'v:"a"': {} } },
    "f:spec": {
      "f:containers": { 'k:{"name":"c"}': { ".": {}, "f:args": {}, "f:name": {}, "f:resources": {} } },
      "f:nodeSelector": {},
    },
  });
});
