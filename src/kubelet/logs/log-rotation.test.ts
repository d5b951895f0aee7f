import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { gunzipSync } from "node:zlib";
import { FakeClock } from "../../machinery/clock.js";
import { silentLogger } from "../../machinery/log.js";
import { type ContainerState, type ContainerStatus, type ContainerSummary, fail, ok, type RuntimeResult } from "../../runtime/types.js";
import { ContainerLogManager, rotationSuffix } from "./log-rotation.js";

const root = mkdtempSync(join(tmpdir(), "skiff-log-rotation-"));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

/** A runtime with one container writing `log`; reopen makes a new empty file, as conmon does. */
function fakeRuntime(log: string, opts: { state?: ContainerState; reopenFails?: boolean } = {}) {
  const calls = { reopen: 0 };
  const rt = {
    calls,
    async listContainers(): Promise<RuntimeResult<readonly ContainerSummary[]>> {
      return ok([{ id: "c1", state: opts.state ?? "running" } as ContainerSummary]);
    },
    async containerStatus(): Promise<RuntimeResult<ContainerStatus>> {
      return ok({ id: "c1", state: opts.state ?? "running", logPath: log, labels: {} } as unknown as ContainerStatus);
    },
    async reopenContainerLog(): Promise<RuntimeResult<void>> {
      calls.reopen++;
      if (opts.reopenFails) return fail("Unavailable", "conmon is gone");
      writeFileSync(log, "");
      return ok(undefined);
    },
  };
  return rt;
}

function setup(): { dir: string; log: string } {
  const dir = join(root, String(n++));
  mkdirSync(dir, { recursive: true });
  return { dir, log: join(dir, "0.log") };
}

describe("ContainerLogManager", () => {
  test("a log past the size is renamed with a timestamp and reopened", async () => {
    const { dir, log } = setup();
    writeFileSync(log, "x".repeat(200));
    const clock = new FakeClock(Date.UTC(2024, 0, 2, 3, 4, 5));
    const rt = fakeRuntime(log);
    const m = new ContainerLogManager({ runtime: rt, maxSizeBytes: 100, clock, logger: silentLogger });
    await m.rotateLogs();
    const rotated = `0.log.${rotationSuffix(clock.now())}`;
    assert.deepEqual(readdirSync(dir).sort(), ["0.log", rotated].sort());
    assert.equal(readFileSync(join(dir, rotated), "utf8"), "x".repeat(200));
    assert.equal(readFileSync(log, "utf8"), "");
    assert.equal(rt.calls.reopen, 1);
  });

  test("a small log is left alone; exited containers are not rotated", async () => {
    const { dir, log } = setup();
    writeFileSync(log, "small");
    await new ContainerLogManager({ runtime: fakeRuntime(log), maxSizeBytes: 100, logger: silentLogger }).rotateLogs();
    writeFileSync(join(dir, "1.log"), "y".repeat(500));
    await new ContainerLogManager({ runtime: fakeRuntime(join(dir, "1.log"), { state: "exited" }), maxSizeBytes: 100, logger: silentLogger }).rotateLogs();
    assert.deepEqual(readdirSync(dir).sort(), ["0.log", "1.log"]);
  });

  test("older rotated files are gzipped and the oldest removed to keep maxFiles", async () => {
    const { dir, log } = setup();
    // Three rotated files already; maxFiles 4 keeps two older ones besides the live and the new rotated file.
    writeFileSync(join(dir, "0.log.20240101-000001.gz"), "old1");
    writeFileSync(join(dir, "0.log.20240101-000002"), "old2");
    writeFileSync(join(dir, "0.log.20240101-000003"), "old3");
    // Leftovers of an interrupted compression.
    writeFileSync(join(dir, "0.log.20240101-000003.gz.tmp"), "partial");
    writeFileSync(log, "z".repeat(300));
    const clock = new FakeClock(Date.UTC(2024, 5, 1, 12, 0, 0));
    await new ContainerLogManager({ runtime: fakeRuntime(log), maxSizeBytes: 100, maxFiles: 4, clock, logger: silentLogger }).rotateLogs();
    const files = readdirSync(dir).sort();
    assert.deepEqual(files, ["0.log", "0.log.20240101-000002.gz", "0.log.20240101-000003.gz", `0.log.${rotationSuffix(clock.now())}`].sort());
    assert.equal(gunzipSync(readFileSync(join(dir, "0.log.20240101-000003.gz"))).toString(), "old3");
  });

  test("a failed reopen puts the log back", async () => {
    const { dir, log } = setup();
    writeFileSync(log, "q".repeat(300));
    const rt = fakeRuntime(log, { reopenFails: true });
    await new ContainerLogManager({ runtime: rt, maxSizeBytes: 100, logger: silentLogger }).rotateLogs();
    assert.deepEqual(readdirSync(dir), ["0.log"]);
    assert.equal(readFileSync(log, "utf8"), "q".repeat(300));
  });

  test("a vanished log is recovered by reopening", async () => {
    const { log } = setup();
    const rt = fakeRuntime(log);
    await new ContainerLogManager({ runtime: rt, maxSizeBytes: 100, logger: silentLogger }).rotateLogs();
    assert.equal(rt.calls.reopen, 1);
    assert.ok(existsSync(log));
  });

  test("clean removes the log and every rotated file", async () => {
    const { dir, log } = setup();
    writeFileSync(log, "a");
    writeFileSync(join(dir, "0.log.20240101-000001.gz"), "b");
    writeFileSync(join(dir, "1.log"), "other container");
    await new ContainerLogManager({ runtime: fakeRuntime(log), logger: silentLogger }).clean("c1");
    assert.deepEqual(readdirSync(dir), ["1.log"]);
  });

  test("maxFiles must be above 1, as upstream", () => {
    assert.throws(() => new ContainerLogManager({ runtime: fakeRuntime("/x"), maxFiles: 1, logger: silentLogger }), /invalid MaxFiles 1, must be > 1/);
  });
});
