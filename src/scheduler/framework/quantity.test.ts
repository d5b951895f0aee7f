import assert from "node:assert/strict";
import { test } from "node:test";
import { milliValue, value } from "./quantity.js";

test("quantities convert to the scheduler's integers, rounding up as ScaledValue", () => {
  const cases: [string, number, number][] = [
    // [quantity, MilliValue, Value]
    ["1", 1000, 1],
    ["100m", 100, 1],
    ["0.5", 500, 1],
    ["1.5", 1500, 2],
    ["2500m", 2500, 3],
    ["0.1m", 1, 1],
    ["1k", 1_000_000, 1000],
    ["1M", 1_000_000_000, 1_000_000],
    ["2G", 2_000_000_000_000, 2_000_000_000],
    ["1T", 1e15, 1e12],
    ["1Ki", 1_024_000, 1024],
    ["128Mi", 134217728000, 134217728],
    ["1Gi", 1073741824000, 1073741824],
    ["1Ti", 1099511627776000, 1099511627776],
    ["1e3", 1_000_000, 1000],
    ["12e-1", 1200, 2],
    ["0", 0, 0],
    ["4", 4000, 4],
    ["not-a-quantity", 0, 0],
  ];
  for (const [q, milli, v] of cases) {
    assert.equal(milliValue(q), milli, `MilliValue(${q})`);
    assert.equal(value(q), v, `Value(${q})`);
  }
  assert.equal(value("1Pi"), 1125899906842624);
  assert.equal(value("1E"), 1e18);
  assert.equal(value(undefined), 0);
});
