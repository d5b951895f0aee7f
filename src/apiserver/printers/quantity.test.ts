import assert from "node:assert/strict";
import { test } from "node:test";
import { quantityPtrString, quantityString } from "./quantity.js";

test("quantities print in resource.Quantity's canonical form", () => {
  const cases: [string | number | undefined, string][] = [
    [undefined, "0"],
    ["0", "0"],
    ["0Gi", "0"],
    ["1Gi", "1Gi"],
    ["1024Mi", "1Gi"],
    ["5120Mi", "5Gi"],
    ["1.5Gi", "1536Mi"],
    ["0.5Gi", "512Mi"],
    ["100Ki", "100Ki"],
    ["1023", "1023"],
    ["1024", "1024"],
    ["1.1Ki", "1126400m"],
    ["1000m", "1"],
    ["2000m", "2"],
    ["1500m", "1500m"],
    ["0.5", "500m"],
    ["1.5", "1500m"],
    ["1000", "1k"],
    ["1500", "1500"],
    ["100M", "100M"],
    ["536870912", "536870912"],
    ["0.1m", "100u"],
    ["1n", "1n"],
    ["0.0000000001", "1n"],
    ["1e3", "1e3"],
    ["12e2", "1200"],
    ["3e-3", "3e-3"],
    ["-1Gi", "-1Gi"],
    ["-500m", "-500m"],
    // Inputs ParseQuantity's fast path keeps verbatim.
    ["+2", "+2"],
    ["1.500", "1.500"],
    ["012", "012"],
    ["1E3", "1E3"],
    [" 64Mi ", "64Mi"],
    ["8Gi", "8Gi"],
    ["0m", "0"],
    [1.5, "1500m"],
    [10, "10"],
    ["not-a-quantity", "not-a-quantity"],
  ];
  for (const [q, want] of cases) assert.equal(quantityString(q), want, String(q));
});

test("a nil *Quantity prints <nil>", () => {
  assert.equal(quantityPtrString(undefined), "<nil>");
  assert.equal(quantityPtrString(null), "<nil>");
  assert.equal(quantityPtrString("2048Ki"), "2Mi");
});
