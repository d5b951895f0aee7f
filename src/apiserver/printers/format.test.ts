import assert from "node:assert/strict";
import { test } from "node:test";
import { formatLabelSelector, formatLabels, humanDuration, labelSelectorString, shortHumanDuration, since } from "./format.js";

const S = 1000;
const M = 60 * S;
const H = 60 * M;
const D = 24 * H;

test("humanDuration matches duration.HumanDuration", () => {
  const cases: [number, string][] = [
    [-2500, "<invalid>"],
    [-2 * S, "<invalid>"],
    [-1999, "0s"],
    [-1 * S, "0s"],
    [0, "0s"],
    [999, "0s"],
    [1 * S, "1s"],
    [119 * S + 999, "119s"],
    [2 * M, "2m"],
    [5 * M + 12 * S, "5m12s"],
    [9 * M + 59 * S, "9m59s"],
    [10 * M + 30 * S, "10m"],
    [179 * M + 59 * S, "179m"],
    [3 * H, "3h"],
    [3 * H + 30 * M, "3h30m"],
    [7 * H + 59 * M, "7h59m"],
    [8 * H, "8h"],
    [47 * H + 59 * M, "47h"],
    [48 * H, "2d"],
    [53 * H, "2d5h"],
    [7 * D + 23 * H, "7d23h"],
    [8 * D, "8d"],
    [729 * D, "729d"],
    [730 * D, "2y"],
    [800 * D, "2y70d"],
    [8 * 365 * D, "8y"],
    [3000 * D, "8y"],
    [4000 * D, "10y"],
  ];
  for (const [ms, want] of cases) assert.equal(humanDuration(ms), want, `${ms}ms`);
});

test("shortHumanDuration matches duration.ShortHumanDuration", () => {
  const cases: [number, string][] = [
    [-3 * S, "<invalid>"],
    [-1 * S, "0s"],
    [59 * S, "59s"],
    [60 * S, "1m"],
    [59 * M + 59 * S, "59m"],
    [60 * M, "1h"],
    [23 * H + 59 * M, "23h"],
    [24 * H, "1d"],
    [364 * D, "364d"],
    [365 * D, "1y"],
    [800 * D, "2y"],
  ];
  for (const [ms, want] of cases) assert.equal(shortHumanDuration(ms), want, `${ms}ms`);
});

test("since: unset and Go-zero timestamps are <unknown>", () => {
  const now = new Date("2024-06-01T12:00:00Z");
  assert.equal(since(undefined, now), "<unknown>");
  assert.equal(since("", now), "<unknown>");
  assert.equal(since(null, now), "<unknown>");
  assert.equal(since("0001-01-01T00:00:00Z", now), "<unknown>");
  assert.equal(since("not a time", now), "<unknown>");
  assert.equal(since("2024-06-01T11:59:58.123456Z", now), "1s");
  assert.equal(since("2024-06-01T13:00:00+02:00", now), "60m");
});

test("formatLabels sorts k=v pairs as strings and shows <none> when empty", () => {
  assert.equal(formatLabels(undefined), "<none>");
  assert.equal(formatLabels({}), "<none>");
  assert.equal(formatLabels({ b: "2", a: "1" }), "a=1,b=2");
  // Set.String() sorts the joined "k=v" strings: '.' (0x2e) sorts before '=' (0x3d).
  assert.equal(formatLabels({ a: "1", "a.b": "2" }), "a.b=2,a=1");
});

test("label selectors print as metav1.FormatLabelSelector does", () => {
  assert.equal(formatLabelSelector(undefined), "<none>");
  assert.equal(formatLabelSelector({}), "<none>");
  assert.equal(formatLabelSelector({ matchLabels: { app: "web" } }), "app=web");
  assert.equal(
    formatLabelSelector({
      matchLabels: { z: "1" },
      matchExpressions: [
        { key: "env", operator: "NotIn", values: ["b", "a"] },
        { key: "only", operator: "In", values: ["x"] },
        { key: "has", operator: "Exists" },
        { key: "gone", operator: "DoesNotExist" },
      ],
    }),
    "env notin (a,b),!gone,has,only in (x),z=1",
  );
  // Errors upstream: unknown operator, In without values, Exists with values, bad key.
  assert.equal(formatLabelSelector({ matchExpressions: [{ key: "a", operator: "in", values: ["x"] }] }), "<error>");
  assert.equal(formatLabelSelector({ matchExpressions: [{ key: "a", operator: "In", values: [] }] }), "<error>");
  assert.equal(formatLabelSelector({ matchExpressions: [{ key: "a", operator: "Exists", values: ["x"] }] }), "<error>");
  assert.equal(formatLabelSelector({ matchLabels: { "bad key": "x" } }), "<error>");
  assert.equal(labelSelectorString(null), "");
  assert.equal(labelSelectorString({ matchLabels: { "example.com/tier": "" } }), "example.com/tier=");
});
