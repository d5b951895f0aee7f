import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseGoDuration, parseStandard } from "./schedule.js";

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

describe("parseStandard (robfig/cron's ParseStandard)", () => {
  const nexts: [string, string, string, string?][] = [
    // spec, after, next, timeZone
    ["* * * * *", "2024-01-01T10:00:30Z", "2024-01-01T10:01:00.000Z"],
    ["* * * * *", "2024-01-01T10:00:00Z", "2024-01-01T10:01:00.000Z"],
    ["*/15 * * * *", "2024-01-01T10:16:00Z", "2024-01-01T10:30:00.000Z"],
    ["5/20 * * * *", "2024-01-01T10:26:00Z", "2024-01-01T10:45:00.000Z"],
    ["0 9-17/4 * * *", "2024-01-01T10:00:00Z", "2024-01-01T13:00:00.000Z"],
    ["30 2 * * MON-wed", "2024-01-03T03:00:00Z", "2024-01-08T02:30:00.000Z"],
    ["0 0 1 jan,JUL *", "2024-01-01T10:00:00Z", "2024-07-01T00:00:00.000Z"],
    // Day of month OR day of week, when neither is *.
    ["0 0 3 * 1", "2024-01-01T12:00:00Z", "2024-01-03T00:00:00.000Z"],
    ["0 0 3 * 1", "2024-01-03T12:00:00Z", "2024-01-08T00:00:00.000Z"],
    // With one of them *, both must match.
    ["0 0 * * 1", "2024-01-01T12:00:00Z", "2024-01-08T00:00:00.000Z"],
    ["0 0 ? * 1", "2024-01-01T12:00:00Z", "2024-01-08T00:00:00.000Z"],
    ["@hourly", "2024-01-01T10:00:00Z", "2024-01-01T11:00:00.000Z"],
    ["@daily", "2024-01-01T10:00:00Z", "2024-01-02T00:00:00.000Z"],
    ["@weekly", "2024-01-01T10:00:00Z", "2024-01-07T00:00:00.000Z"],
    ["@monthly", "2024-01-01T10:00:00Z", "2024-02-01T00:00:00.000Z"],
    ["@yearly", "2024-01-01T10:00:00Z", "2025-01-01T00:00:00.000Z"],
    ["@every 1h30m", "2024-01-01T10:00:00.250Z", "2024-01-01T11:30:00.000Z"],
    ["@every 100ms", "2024-01-01T10:00:00Z", "2024-01-01T10:00:01.000Z"],
    ["0 9 * * *", "2024-01-01T12:00:00Z", "2024-01-01T14:00:00.000Z", "America/New_York"],
    ["TZ=Asia/Tokyo 0 9 * * *", "2024-01-01T12:00:00Z", "2024-01-02T00:00:00.000Z"],
    ["CRON_TZ=UTC 0 9 * * *", "2024-01-01T12:00:00Z", "2024-01-02T09:00:00.000Z", "Asia/Tokyo"],
  ];
  for (const [spec, after, want, zone] of nexts) {
    it(`${spec}${zone ? ` in ${zone}` : ""} after ${after}`, () => {
      assert.equal(iso(parseStandard(spec, zone ?? "UTC").next(at(after))), want);
    });
  }

  it("has no next time for a date that never comes", () => {
    assert.equal(parseStandard("59 23 31 2 *", "UTC").next(at("2024-01-01T00:00:00Z")), undefined);
  });

  const errors: [string, string][] = [
    ["", "empty spec string"],
    ["* * * *", "expected exactly 5 fields, found 4: [* * * *]"],
    ["* * * * * *", "expected exactly 5 fields, found 6: [* * * * * *]"],
    ["60 * * * *", "end of range (60) above maximum (59): 60"],
    ["* 5-2 * * *", "beginning of range (5) beyond end of range (2): 5-2"],
    ["* * 0 * *", "beginning of range (0) below minimum (1): 0"],
    ["* * * * 7", "end of range (7) above maximum (6): 7"],
    ["x * * * *", 'failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax'],
    ["*/0 * * * *", "step of range should be a positive number: */0"],
    ["1-2-3 * * * *", "too many hyphens: 1-2-3"],
    ["*/2/3 * * * *", "too many slashes: */2/3"],
    ["@fortnightly", "unrecognized descriptor: @fortnightly"],
    ["@every soon", 'failed to parse duration soon: time: invalid duration "soon"'],
    ["TZ=Nowhere/City * * * * *", "provided bad location Nowhere/City: unknown time zone Nowhere/City"],
    ["* * L * *", 'failed to parse int from L: strconv.Atoi: parsing "L": invalid syntax'],
  ];
  for (const [spec, message] of errors) {
    it(`rejects ${JSON.stringify(spec)}`, () => {
      assert.throws(() => parseStandard(spec, "UTC"), { message });
    });
  }

  it("reads Go durations", () => {
    assert.equal(parseGoDuration("1h2m3.5s"), 3_723_500);
    assert.equal(parseGoDuration("250ms"), 250);
    assert.throws(() => parseGoDuration("5"), { message: 'time: invalid duration "5"' });
  });
});
