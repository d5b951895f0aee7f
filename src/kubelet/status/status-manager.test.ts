import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { statusPatch } from "./status-manager.js";

describe("statusPatch", () => {
  it("patches only kubelet-owned fields that changed, nulling removed ones", () => {
    const patch = statusPatch(
      { phase: "Pending", nominatedNodeName: "n2", podIP: "10.0.0.1", conditions: [{ type: "Ready", status: "False" }] },
      { phase: "Running", conditions: [{ type: "Ready", status: "False" }] },
    );
    assert.deepEqual(patch, { phase: "Running", podIP: null });
  });

  it("is undefined when nothing changed", () => {
    assert.equal(statusPatch({ phase: "Running" }, { phase: "Running" }), undefined);
  });
});
