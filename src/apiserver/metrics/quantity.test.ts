import assert from "node:assert/strict";
import { test } from "node:test";
import { bytesQuantity, nanoCoresQuantity } from "./quantity.js";

test("cpu prints as Go prints a nano-scaled DecimalSI quantity", () => {
  const cases: [number, string][] = [
    [0, "0"],
    [1, "1n"],
    [123_456_789, "123456789n"],
    [5_000_000, "5m"],
    [250_000_000, "250m"],
    [1_000_000_000, "1"],
    [1_500_000_000, "1500m"],
    [12_340_000, "12340u"],
    [2_000_000_000_000, "2k"],
    [999.7, "999n"],
  ];
  for (const [n, want] of cases) assert.equal(nanoCoresQuantity(n), want, `${n}`);
});

test("memory prints as Go prints a BinarySI quantity of bytes", () => {
  const cases: [number, string][] = [
    [0, "0"],
    [512, "512"],
    [1000, "1k"],
    [1024, "1Ki"],
    [12_288, "12Ki"],
    [1_234_567, "1234567"],
    [3_014_656, "2944Ki"],
    [1024 ** 3, "1Gi"],
    [1536 * 1024 * 1024, "1536Mi"],
  ];
  for (const [n, want] of cases) assert.equal(bytesQuantity(n), want, `${n}`);
});
