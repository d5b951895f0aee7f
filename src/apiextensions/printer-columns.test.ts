import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DOC } from "../apiserver/printers/descriptions.js";
import { crdTable, evaluateJSONPath, parseJSONPath } from "./printer-columns.js";

const now = new Date("2024-05-10T12:00:00Z");
const obj = {
  apiVersion: "example.com/v1",
  kind: "Widget",
  metadata: { name: "w1", resourceVersion: "7", creationTimestamp: "2024-05-08T12:00:00Z" },
  spec: { replicas: 3, ratio: 2, enabled: true, tags: ["a", "b"], selector: { app: "x" } },
  status: {
    conditions: [
      { type: "Progressing", status: "True" },
      { type: "Ready", status: "False", lastTransitionTime: "2024-05-10T11:55:00Z" },
    ],
  },
};

describe("JSONPath subset", () => {
  const ev = (p: string) => evaluateJSONPath(parseJSONPath(p)!, obj);
  it("fields, indices, wildcards, filters", () => {
    assert.deepEqual(ev(".spec.replicas"), [3]);
    assert.deepEqual(ev("{.spec.tags[1]}"), ["b"]);
    assert.deepEqual(ev(".spec.tags[*]"), ["a", "b"]);
    assert.deepEqual(ev(".status.conditions[?(@.type==\"Ready\")].status"), ["False"]);
    assert.deepEqual(ev(".status.conditions[?(@.type=='Ready')].status"), ["False"]);
    assert.deepEqual(ev(".status.conditions[?(@.type!=\"Ready\")].type"), ["Progressing"]);
    assert.deepEqual(ev(".metadata['name']"), ["w1"]);
    assert.deepEqual(ev(".spec.missing.deeper"), []);
    assert.equal(parseJSONPath("..spec"), undefined);
  });
});

describe("crdTable", () => {
  it("serves Name and a default Age column when the version declares none", () => {
    const t = crdTable({}, [obj], { now, includeObject: "None" });
    assert.deepEqual(t.columnDefinitions, [
      { name: "Name", type: "string", format: "name", description: DOC.name, priority: 0 },
      { name: "Age", type: "date", format: "", description: DOC.creationTimestamp, priority: 0 },
    ]);
    assert.deepEqual(t.rows, [{ cells: ["w1", "2d"] }]);
    assert.deepEqual(t.metadata, { resourceVersion: "7" });
    assert.equal(t.apiVersion, "meta.k8s.io/v1");
  });

  it("uses the declared columns only (no implicit Age), typed cells", () => {
    const cols = [
      { name: "Replicas", type: "integer", jsonPath: ".spec.replicas", description: "desired" },
      { name: "Ratio", type: "number", jsonPath: ".spec.ratio", priority: 1 },
      { name: "Enabled", type: "boolean", jsonPath: ".spec.enabled" },
      { name: "Ready", type: "string", jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
      { name: "Selector", type: "string", jsonPath: ".spec.selector" },
      { name: "Changed", type: "date", jsonPath: '.status.conditions[?(@.type=="Ready")].lastTransitionTime' },
      { name: "Missing", type: "string", jsonPath: ".status.nothing" },
      { name: "Wrong", type: "integer", jsonPath: ".spec.enabled" },
    ];
    const t = crdTable({ additionalPrinterColumns: cols }, [obj], { now, includeObject: "Metadata", listMeta: { resourceVersion: "9" } });
    assert.deepEqual(
      t.columnDefinitions.map((c) => c.name),
      ["Name", "Replicas", "Ratio", "Enabled", "Ready", "Selector", "Changed", "Missing", "Wrong"],
    );
    assert.equal(t.columnDefinitions[1]!.description, "desired");
    assert.equal(t.columnDefinitions[2]!.description, "Custom resource definition column (in JSONPath format): .spec.ratio");
    assert.equal(t.columnDefinitions[2]!.priority, 1);
    assert.deepEqual(t.rows[0]!.cells, ["w1", 3, 2, true, "False", '{"app":"x"}', "5m", null, null]);
    assert.deepEqual(t.rows[0]!.object, { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: obj.metadata });
    assert.deepEqual(t.metadata, { resourceVersion: "9" });
  });

  it("includeObject=Object and noHeaders; bad dates", () => {
    const bad = { ...obj, metadata: { ...obj.metadata, creationTimestamp: "not a date" } };
    const t = crdTable({}, [bad], { now, includeObject: "Object", noHeaders: true });
    assert.deepEqual(t.columnDefinitions, []);
    assert.deepEqual(t.rows[0]!.cells, ["w1", "<invalid>"]);
    assert.equal(t.rows[0]!.object, bad);
  });
});
