/**
 * Golden tests: every fixture under testdata/ carries an object and the cells
 * (and row conditions) upstream's v1.30 printers give it, worked out by hand
 * from the Go source, not recorded from this code.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { columnDefinitions, printTable } from "./table.js";
import type { TableRowCondition } from "./types.js";

interface Case {
  name: string;
  resource?: string;
  object: object;
  cells: unknown[];
  conditions?: TableRowCondition[];
}

interface Fixture {
  now: string;
  resource?: string;
  cases: Case[];
}

const dir = join(dirname(fileURLToPath(import.meta.url)), "testdata");
const files = readdirSync(dir).filter((f) => f.endsWith(".json"));

for (const file of files) {
  const fixture = JSON.parse(readFileSync(join(dir, file), "utf8")) as Fixture;
  describe(`printers: ${file}`, () => {
    for (const c of fixture.cases) {
      test(c.name, () => {
        const resource = c.resource ?? fixture.resource;
        assert.ok(resource, "fixture names its resource");
        const table = printTable(resource, [c.object], { now: new Date(fixture.now), includeObject: "None" });
        assert.equal(table.rows.length, 1);
        const row = table.rows[0]!;
        assert.deepEqual(row.cells, c.cells);
        assert.deepEqual(row.conditions, c.conditions);
        // Every row has exactly one cell per column, whatever its priority.
        assert.equal(row.cells.length, columnDefinitions(resource).length);
      });
    }
  });
}

test("the fixtures cover every STATUS the brief lists for pods", () => {
  const fixture = JSON.parse(readFileSync(join(dir, "pods.json"), "utf8")) as Fixture;
  const statuses = new Set(fixture.cases.map((c) => c.cells[2]));
  for (const s of [
    "Pending",
    "ContainerCreating",
    "Init:0/1",
    "Init:ErrImagePull",
    "Init:CrashLoopBackOff",
    "PodInitializing",
    "ErrImagePull",
    "ImagePullBackOff",
    "CrashLoopBackOff",
    "OOMKilled",
    "Error",
    "Completed",
    "Terminating",
    "Unknown",
    "SchedulingGated",
    "NotReady",
    "Signal:9",
    "ExitCode:2",
  ]) {
    assert.ok(statuses.has(s), `a fixture shows ${s}`);
  }
});
